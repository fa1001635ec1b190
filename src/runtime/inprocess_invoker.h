#pragma once

#include "base/result.h"
#include "function/invoker.h"
#include "runtime/process_invoker.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace sluice::runtime {

// The runtime name of in-process C++ handlers (a Sluice extension, not an AWS identifier).
inline constexpr std::string_view kInProcessRuntime = "sluice.cpp";

struct InProcessInvokerOptions {
  // Per-function log files, shared with ProcessInvoker: <log_dir>/<region>/<account>/<name>.log.
  std::filesystem::path log_dir;
  // Private copies of hot-reload libraries (so a rebuild in place never changes a mapped
  // file). Emptied by create().
  std::filesystem::path scratch_dir;
  // Running invocations per function without reserved concurrency, and for all functions
  // together. A slot is held until the handler returns, also after a timeout was reported.
  int32_t max_concurrency_per_function = 10;
  int32_t max_concurrency_total = 50;
  // An invocation that allows it (Invocation::may_run_inline) runs on the caller's thread,
  // inside invoke(), once the function's last 16 handler calls each returned within this
  // time; one slower call sends it back to the workers. Saves two thread hand-offs per call
  // (docs/runtime.md). Zero: always on a worker.
  std::chrono::microseconds inline_max{1000};
  // How long shutdown() waits for running handlers before it reports them as ended.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(2)};
};

namespace internal {
class InProcessState;
}

// Runs functions of runtime "sluice.cpp": handlers compiled into a shared library (see
// include/sluice/handler.h) that is dlopen()ed into this process. Handler is
// "<path of the .so inside the code>" optionally followed by ":<symbol>" (default
// SLUICE_HANDLER_DEFAULT_SYMBOL).
//
// Created by the composition root (or the DispatchInvoker's owner); shutdown() or the
// destructor ends it. Libraries are loaded (RTLD_NOW | RTLD_LOCAL) on first use, one per
// function revision, on a worker thread; when revision_id moves on, the next invocation
// loads the new one, and the old one is dlclose()d once the last invocation that runs in it
// has returned. Invocations run on a pool of worker threads that grows on demand up to the
// concurrency caps (so a queued invocation never waits for a thread held by another
// function's stuck handler) and are timed by one watcher thread.
//
// Outcomes:
//   kOk             the body from set_result (content type carried when the outcome has one)
//   kFunctionError  the handler's error as {"errorMessage","errorType","stackTrace":[]}; a
//                   C++ exception that escaped the entry point (errorType = its type name);
//                   Runtime.InvalidEntrypoint when the library or symbol cannot be loaded;
//                   Function.ResponseSizeTooLarge
//   kTimedOut       Sandbox.Timedout at the deadline; the handler keeps running (a thread
//                   cannot be killed) and keeps its concurrency slot; its result is dropped
//   kUnavailable    nothing ran: "ReservedFunctionConcurrentInvocationLimitExceeded",
//                   "ConcurrentInvocationLimitExceeded", "ResourceNotFound", "Stopped"
//
// Thread-safe. `done` is called on a worker or the watcher thread, or inside invoke() itself
// (kUnavailable; and a call run on the caller's thread, see inline_max); it must not block.
class InProcessInvoker final : public function::Invoker {
 public:
  // Prepares the directories and starts the watcher thread. kInvalidArgument without
  // log_dir/scratch_dir; kIOError when they cannot be created.
  static Result<std::unique_ptr<InProcessInvoker>> create(InProcessInvokerOptions options,
                                                          FunctionLookup lookup);
  ~InProcessInvoker() override;  // shutdown()
  InProcessInvoker(const InProcessInvoker&) = delete;
  InProcessInvoker& operator=(const InProcessInvoker&) = delete;

  // Looks the function up, then as below.
  void invoke(function::Invocation invocation, Done done) override;
  // For a caller that has looked the function up already (DispatchInvoker). A default
  // deadline means now + the function's Timeout.
  void invoke(function::Invocation invocation, FunctionTarget target, Done done);

  // Forgets the function's library: the next invocation loads it again. Thread-safe.
  void retire(const std::string& function_arn);

  // Refuses new invocations ("Stopped"), completes queued ones with "Stopped", waits up to
  // stop_grace for running handlers, reports those still running as ended
  // (Runtime.ExitError) and leaves their threads behind. Idempotent; blocks.
  // REQUIRES: not called from a `done` callback.
  void shutdown();

  struct Stats {
    uint64_t loads = 0;    // dlopen() calls that succeeded
    uint64_t unloads = 0;  // dlclose() calls
    uint64_t threads = 0;  // worker threads started
    uint64_t running = 0;  // handlers executing now (timed-out ones included)
  };
  Stats stats() const;

 private:
  explicit InProcessInvoker(std::shared_ptr<internal::InProcessState> state);
  std::shared_ptr<internal::InProcessState> state_;
};

}  // namespace sluice::runtime
