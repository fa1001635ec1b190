#pragma once

#include "function/invoker.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

// A function::Invoker whose function is a C++ lambda of the test: `script` gets each
// invocation (and how many came before it) and returns the outcome. Completions run on a
// thread of the invoker's own, as a real invoker's do, never inside invoke(). Every
// invocation is recorded. Thread-safe.
class ScriptedInvoker final : public function::Invoker {
 public:
  using Script =
      std::function<function::InvokeOutcome(const function::Invocation& invocation, size_t index)>;

  explicit ScriptedInvoker(Script script) : script_(std::move(script)) {}
  ~ScriptedInvoker() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  void invoke(function::Invocation invocation, Done done) override {
    size_t index;
    {
      std::lock_guard lock(mu_);
      index = calls_.size();
      calls_.push_back(invocation);
      ++running_;
    }
    cv_.notify_all();
    std::lock_guard lock(mu_);
    threads_.emplace_back(
        [this, invocation = std::move(invocation), index, done = std::move(done)] {
          function::InvokeOutcome outcome = script_(invocation, index);
          done(std::move(outcome));
          {
            std::lock_guard done_lock(mu_);
            --running_;
          }
          cv_.notify_all();
        });
  }

  // The invocations so far, in the order they were made.
  std::vector<function::Invocation> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  // Waits until at least `n` invocations were made and none is running; false at the deadline.
  bool wait_for_calls(size_t n, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return calls_.size() >= n && running_ == 0; });
  }
  // Outcome helpers.
  static function::InvokeOutcome ok(std::string payload = "null") {
    function::InvokeOutcome o;
    o.kind = function::InvokeOutcome::Kind::kOk;
    o.payload = std::move(payload);
    return o;
  }
  static function::InvokeOutcome function_error() {
    function::InvokeOutcome o;
    o.kind = function::InvokeOutcome::Kind::kFunctionError;
    o.payload = R"({"errorType":"Exception","errorMessage":"scripted failure"})";
    return o;
  }
  static function::InvokeOutcome unavailable() {
    function::InvokeOutcome o;
    o.kind = function::InvokeOutcome::Kind::kUnavailable;
    o.payload = "TooManyRequestsException";
    return o;
  }

 private:
  const Script script_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<function::Invocation> calls_;
  std::vector<std::thread> threads_;
  int running_ = 0;
};

}  // namespace sluice::testing
