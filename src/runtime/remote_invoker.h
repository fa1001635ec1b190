#pragma once

#include "base/result.h"
#include "function/invoker.h"
#include "runtime/process_invoker.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::runtime {

// The runtime name of functions forwarded to an HTTP endpoint (a Sluice extension).
inline constexpr std::string_view kRemoteRuntime = "sluice.remote";

// Where a "sluice.remote" function's invocations go: its Handler, "http://host[:port]/path".
struct RemoteEndpoint {
  std::string host;  // a name or an IPv4 address; "[...]" IPv6 literals are kept unbracketed
  uint16_t port = 80;
  std::string target;  // the path and query, "/" when the URL has none
};

// Parses an http:// URL. kInvalidArgument for any other scheme, user info, an empty host, a
// bad port or a fragment. The control plane applies the same rule at CreateFunction.
Result<RemoteEndpoint> parse_remote_url(std::string_view url);

struct RemoteInvokerOptions {
  // Concurrent invocations per function without reserved concurrency, and in total.
  int32_t max_concurrency_per_function = 10;
  int32_t max_concurrency_total = 50;
  // Kept-alive connections per host:port, reused by later invocations; closed after being
  // idle this long.
  size_t max_idle_connections_per_endpoint = 8;
  std::chrono::milliseconds idle_connection_lifetime{std::chrono::seconds(15)};
};

namespace internal {
class RemoteState;
}

// Runs functions of runtime "sluice.remote" by POSTing each invocation to the endpoint named
// in the function's Handler, which must speak the Lambda Invoke API (another Sluice, the AWS
// runtime interface emulator, ...). The event is the request body; X-Amz-Client-Context
// (base64 again) and X-Amzn-Trace-Id are forwarded; X-Amz-Log-Type: Tail is asked for, and a
// returned X-Amz-Log-Result becomes the outcome's log tail. Logs stay with the endpoint:
// nothing is written to a local function log.
//
// Created by the composition root; shutdown() or the destructor ends it. One internal thread
// runs an io_context with every connection (Beast, HTTP/1.1, keep-alive reuse per host:port).
// invoke() only posts to it; `done` is called on it and must not block.
//
// Outcomes (docs/runtime.md, "Remote functions"):
//   kOk             200 without X-Amz-Function-Error: the body (and its Content-Type)
//   kFunctionError  200 with X-Amz-Function-Error: the body, as the endpoint sent it;
//                   "Sluice.RemoteError" for a status other than 200/429;
//                   "Sluice.RemoteUnavailable" when the connection failed after the request
//                   was sent (the function may have run)
//   kTimedOut       Sandbox.Timedout at the function's deadline; the connection is closed
//   kUnavailable    nothing ran: "RemoteUnavailable" (no connection could be made),
//                   "ConcurrentInvocationLimitExceeded" (the local caps, or a 429 from the
//                   endpoint), "ReservedFunctionConcurrentInvocationLimitExceeded",
//                   "ResourceNotFound", "Stopped"
class RemoteInvoker final : public function::Invoker {
 public:
  static Result<std::unique_ptr<RemoteInvoker>> create(RemoteInvokerOptions options,
                                                       FunctionLookup lookup);
  ~RemoteInvoker() override;  // shutdown()
  RemoteInvoker(const RemoteInvoker&) = delete;
  RemoteInvoker& operator=(const RemoteInvoker&) = delete;

  void invoke(function::Invocation invocation, Done done) override;
  // For a caller that has looked the function up already (DispatchInvoker).
  void invoke(function::Invocation invocation, FunctionTarget target, Done done);

  // Nothing is kept per function: a no-op, for symmetry with the other invokers.
  void retire(const std::string& function_arn);

  // Cancels what is in flight (those invocations end with Sluice.RemoteUnavailable; later ones
  // get "Stopped"), closes every connection and joins the thread. Idempotent; blocks.
  // REQUIRES: not called from a `done` callback.
  void shutdown();

  struct Stats {
    uint64_t connections_opened = 0;
    uint64_t connections_reused = 0;
  };
  Stats stats() const;

 private:
  explicit RemoteInvoker(std::unique_ptr<internal::RemoteState> state);
  std::unique_ptr<internal::RemoteState> state_;
};

}  // namespace sluice::runtime
