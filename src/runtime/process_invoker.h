#pragma once

#include "base/result.h"
#include "function/function.h"
#include "function/invoker.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace sluice::runtime {

struct ProcessInvokerOptions {
  // Where the embedded runtime clients are written by create() (LAMBDA_RUNTIME_DIR). Keep
  // nothing else there: Python puts it on sys.path.
  std::filesystem::path clients_dir;
  // Per-function log files: <log_dir>/<region>/<account>/<name>.log (docs/runtime.md).
  std::filesystem::path log_dir;
  // Per-environment scratch directories (TMPDIR): <scratch_dir>/env-<n>, removed with the
  // environment. Emptied by create().
  std::filesystem::path scratch_dir;
  // Concurrent invocations (= environments in use) per function when the function has no
  // reserved concurrency, and for all functions together.
  int32_t max_environments_per_function = 10;
  int32_t max_environments_total = 50;
  std::chrono::milliseconds idle_lifetime{std::chrono::minutes(10)};  // then retired
  std::chrono::milliseconds init_timeout{std::chrono::seconds(10)};   // spec 5.1
  std::chrono::milliseconds stop_grace{std::chrono::seconds(2)};      // SIGTERM -> SIGKILL
  // Where interpreters (python3.X, python3, node, bash) are searched, PATH-style; server/
  // passes its own PATH. Directories named "shims" are skipped.
  std::string search_path = "/usr/local/bin:/usr/bin:/bin";
  // Interpreter overrides: absolute paths by runtime name ("python3.12") or family
  // ("python", "node", "bash").
  std::map<std::string, std::string> interpreters;
  // RLIMIT_AS for python* and provided* processes: MemorySize plus this headroom (interpreter
  // mappings, thread stacks, allocator arenas). 0 disables the limit. Not applied to Node,
  // whose heap is capped with --max-old-space-size instead (docs/runtime.md).
  int32_t address_space_headroom_mb = 256;
  bool run_sh_bootstrap_with_bash = true;  // spec 5.3
  // AWS_ENDPOINT_URL for handlers (spec 5.2), so that SDK calls a handler makes reach Sluice;
  // empty: unset. set_endpoint_url() replaces it once the server knows its port.
  std::string endpoint_url;
  // When set, environments (their Runtime API servers, pipes, timers) run on this context
  // under one strand of their own, and an Invoke that allows it (Invocation::may_run_inline)
  // is dispatched on the caller's thread: a warm invocation then crosses no thread of the
  // invoker's. The server passes its event loop. The context must keep running until
  // shutdown() has returned. Unset: the invoker runs its own io_context on a thread.
  boost::asio::io_context* io_context = nullptr;
};

// A function as the invoker needs it. reserved_concurrency (PutFunctionConcurrency) caps the
// function's environments; 0 throttles every invocation.
struct FunctionTarget {
  function::FunctionSpec spec;
  std::optional<int32_t> reserved_concurrency;
};

// Resolves Invocation::function_arn. Called on the thread that calls invoke(); must be
// thread-safe. kNotFound when the function is gone.
using FunctionLookup = std::function<Result<FunctionTarget>(const std::string& function_arn)>;

namespace internal {
class InvokerState;
}

// Runs functions as child processes speaking the Runtime API (spec sections 5-7): per
// function a pool of warm execution environments, each one runtime process in its own process
// group with its own Runtime API server on 127.0.0.1. One invocation at a time per
// environment; a cold start when none is idle, up to the concurrency cap.
//
// Created by the composition root; shutdown() (or the destructor) ends every process. All
// environments live on one strand, over ProcessInvokerOptions::io_context or over an
// io_context of the invoker's own, run by one internal thread. invoke() may be called from any
// thread: it posts to the strand, or runs on it at once when the invocation may run inline
// and the caller is a thread of that io_context. `done` is called on the strand and must not
// block.
//
// Outcomes:
//   kOk             the runtime's /response body (its Content-Type is not carried: see
//                   docs/runtime.md)
//   kFunctionError  the body the runtime posted to /error or /init/error, or the engine's
//                   Runtime.ExitError / Runtime.InvalidEntrypoint /
//                   Function.ResponseSizeTooLarge document
//   kTimedOut       Sandbox.Timedout; the environment was killed
//   kUnavailable    nothing ran. payload names why: "ReservedFunctionConcurrentInvocationLimit
//                   Exceeded", "ConcurrentInvocationLimitExceeded" (both: answer 429),
//                   "ResourceNotFound" (lookup failed), "Stopped" (after shutdown), or
//                   "ServiceException" (the environment could not be created)
class ProcessInvoker final : public function::Invoker {
 public:
  // Writes the clients, prepares the directories and starts the thread. kIOError when a
  // directory cannot be created.
  static Result<std::unique_ptr<ProcessInvoker>> create(ProcessInvokerOptions options,
                                                        FunctionLookup lookup);
  ~ProcessInvoker() override;  // shutdown()
  ProcessInvoker(const ProcessInvoker&) = delete;
  ProcessInvoker& operator=(const ProcessInvoker&) = delete;

  // The deadline is Invocation::deadline (a default-constructed one means now + the
  // function's Timeout); on a cold start the init phase counts against it.
  void invoke(function::Invocation invocation, Done done) override;
  // The same with the function already looked up (DispatchInvoker has done it).
  void invoke(function::Invocation invocation, FunctionTarget target, Done done);

  // AWS_ENDPOINT_URL for environments started from now on. Thread-safe, does not block.
  void set_endpoint_url(std::string url);

  // Retires the function's environments (code or configuration changed, function deleted):
  // idle ones now, busy ones when their invocation ends. Thread-safe, does not block.
  void retire(const std::string& function_arn);

  // SIGTERM to every environment, SIGKILL after stop_grace, every child reaped, the thread
  // (if any) joined. Invocations still running complete (Runtime.ExitError); later ones get
  // kUnavailable. Idempotent; blocks. REQUIRES: not called from a `done` callback nor from a
  // thread of ProcessInvokerOptions::io_context.
  void shutdown();

  // Counters for tests and metrics; thread-safe, approximate while invocations run.
  struct Stats {
    uint64_t cold_starts = 0;
    uint64_t environments = 0;  // alive now
  };
  Stats stats() const;

 private:
  explicit ProcessInvoker(std::unique_ptr<internal::InvokerState> state);
  std::unique_ptr<internal::InvokerState> state_;
  // Orders posts against shutdown(): once stopped_ is set nothing more is posted, so every
  // posted invocation runs (and completes) before shutdown() returns.
  std::mutex post_mu_;
  bool stopped_ = false;  // GUARDED_BY(post_mu_)
};

}  // namespace sluice::runtime
