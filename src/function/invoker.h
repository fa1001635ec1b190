#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace sluice::function {

// One attempt to run a function with one event. Filled by the Invoke API or an event source
// mapping; moved into Invoker::invoke().
struct Invocation {
  // Lowercase UUID v4; the retries of one asynchronous event keep its id, as on AWS.
  std::string request_id;
  std::string function_arn;                        // unqualified
  std::chrono::system_clock::time_point deadline;  // sent as Lambda-Runtime-Deadline-Ms
  std::string payload;                             // event JSON; moved in, never copied
  std::string client_context;                      // X-Amz-Client-Context, decoded JSON
  std::string trace_id;                            // X-Amzn-Trace-Id, may be empty
  std::string tenant_id;                           // X-Amz-Tenant-Id, may be empty
  // The caller allows invoke() to run a handler known to be quick (in-process C++) on the
  // calling thread and to call `done` before it returns. Callers that hold a lock around
  // invoke() or cannot lend their thread leave it false.
  bool may_run_inline = false;
};

// How an invocation ended.
struct InvokeOutcome {
  enum class Kind {
    kOk,             // `payload` is the function's result
    kFunctionError,  // `payload` is the errorType/errorMessage document
    kTimedOut,       // the deadline passed; `payload` is the Sandbox.Timedout document
    kUnavailable,    // nothing ran (no capacity, function gone); safe to retry
  };
  Kind kind = Kind::kUnavailable;
  std::string payload;
  // kOk: the Content-Type the function gave its result (a runtime's /response header);
  // empty means application/json.
  std::string content_type;
  std::string log_tail;  // last bytes of the invocation's log, for X-Amz-Log-Type: Tail
};

// Runs invocations. Implementations live in src/runtime (in-process C++ handlers, child
// processes on the Runtime API, remote HTTP); nothing here implements it.
//
// This layer includes only base/, so the interface is callback-based rather than an Asio
// awaitable (STYLE.md example 6 shows the awaitable form): an Asio caller adapts it with
// asio::async_initiate or a promise. Contract: thread-safe; `done` is called exactly once,
// from any thread, at the latest shortly after the invocation's deadline, and must not
// block; invoke() itself does not block, except to run a quick handler when the invocation
// allows it (Invocation::may_run_inline).
class Invoker {
 public:
  using Done = std::function<void(InvokeOutcome)>;
  virtual ~Invoker() = default;
  virtual void invoke(Invocation invocation, Done done) = 0;
};

}  // namespace sluice::function
