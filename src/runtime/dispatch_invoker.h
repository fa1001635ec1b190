#pragma once

#include "function/invoker.h"
#include "runtime/inprocess_invoker.h"
#include "runtime/process_invoker.h"
#include "runtime/remote_invoker.h"

#include <memory>
#include <string>

namespace sluice::runtime {

// The Invoker the control plane and event source mappings see: looks each function up and
// hands the invocation to the invoker of its runtime: "sluice.cpp" to InProcessInvoker,
// "sluice.remote" to RemoteInvoker, every other runtime to ProcessInvoker.
//
// Created by the composition root, which gives it the three invokers (owned from then on) and
// the same FunctionLookup they use. Thread-safe; invoke() does not block. A function that
// cannot be found gets kUnavailable "ResourceNotFound", as from the invokers themselves.
class DispatchInvoker final : public function::Invoker {
 public:
  DispatchInvoker(FunctionLookup lookup, std::unique_ptr<ProcessInvoker> process,
                  std::unique_ptr<InProcessInvoker> in_process,
                  std::unique_ptr<RemoteInvoker> remote);
  ~DispatchInvoker() override;  // shutdown()
  DispatchInvoker(const DispatchInvoker&) = delete;
  DispatchInvoker& operator=(const DispatchInvoker&) = delete;

  void invoke(function::Invocation invocation, Done done) override;

  // Retires what every invoker holds for the function (environments, a loaded library).
  void retire(const std::string& function_arn);

  // Shuts every invoker down (processes first, then in-process handlers, then remote calls).
  // Idempotent; blocks. REQUIRES: not called from a `done` callback.
  void shutdown();

  ProcessInvoker& process() { return *process_; }
  InProcessInvoker& in_process() { return *in_process_; }
  RemoteInvoker& remote() { return *remote_; }

 private:
  const FunctionLookup lookup_;
  const std::unique_ptr<ProcessInvoker> process_;
  const std::unique_ptr<InProcessInvoker> in_process_;
  const std::unique_ptr<RemoteInvoker> remote_;
};

}  // namespace sluice::runtime
