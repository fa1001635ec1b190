#include "runtime/dispatch_invoker.h"

namespace sluice::runtime {

DispatchInvoker::DispatchInvoker(FunctionLookup lookup, std::unique_ptr<ProcessInvoker> process,
                                 std::unique_ptr<InProcessInvoker> in_process,
                                 std::unique_ptr<RemoteInvoker> remote)
    : lookup_(std::move(lookup)),
      process_(std::move(process)),
      in_process_(std::move(in_process)),
      remote_(std::move(remote)) {}

DispatchInvoker::~DispatchInvoker() { shutdown(); }

void DispatchInvoker::invoke(function::Invocation invocation, Done done) {
  auto target = lookup_(invocation.function_arn);
  if (!target.ok()) {
    function::InvokeOutcome o;
    o.kind = function::InvokeOutcome::Kind::kUnavailable;
    o.payload = "ResourceNotFound";
    done(std::move(o));
    return;
  }
  const std::string& runtime = target->spec.runtime;
  if (runtime == kInProcessRuntime) {
    in_process_->invoke(std::move(invocation), std::move(*target), std::move(done));
  } else if (runtime == kRemoteRuntime) {
    remote_->invoke(std::move(invocation), std::move(*target), std::move(done));
  } else {
    process_->invoke(std::move(invocation), std::move(*target), std::move(done));
  }
}

void DispatchInvoker::retire(const std::string& function_arn) {
  process_->retire(function_arn);
  in_process_->retire(function_arn);
  remote_->retire(function_arn);
}

void DispatchInvoker::shutdown() {
  process_->shutdown();
  in_process_->shutdown();
  remote_->shutdown();
}

}  // namespace sluice::runtime
