#include "runtime/process_invoker.h"
#include "tests/runtime/invoker_fixture.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>
#include <vector>

namespace sluice::runtime::testing {
namespace {

using Kind = function::InvokeOutcome::Kind;

class ProcessInvokerConcurrencyTest : public InvokerFixture {};

TEST_F(ProcessInvokerConcurrencyTest, InvocationsBeyondTheCapAreUnavailable) {
  auto o = options();
  o.max_environments_per_function = 2;
  start(o);
  const auto arn = python_function("app.sleepy");
  std::vector<std::future<function::InvokeOutcome>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(invoke_async(invocation(arn, R"({"sleep":1})")));
  std::set<std::string> pids;
  int ok = 0;
  int throttled = 0;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    auto out = f.get();
    if (out.kind == Kind::kOk) {
      ++ok;
      pids.insert(out.payload);
    } else {
      EXPECT_EQ(out.kind, Kind::kUnavailable);
      EXPECT_EQ(out.payload, "ConcurrentInvocationLimitExceeded");
      ++throttled;
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(throttled, 2);
  EXPECT_EQ(pids.size(), 2u);  // one invocation at a time per environment
}

TEST_F(ProcessInvokerConcurrencyTest, ReservedConcurrencyZeroThrottlesEverything) {
  start();
  const auto arn = add_function("reserved0", "python3.11", "app.ok", python_root_, 3, 0);
  auto out = invoke(arn, "{}");
  EXPECT_EQ(out.kind, Kind::kUnavailable);
  EXPECT_EQ(out.payload, "ReservedFunctionConcurrentInvocationLimitExceeded");
  EXPECT_EQ(invoker_->stats().cold_starts, 0u);
}

TEST_F(ProcessInvokerConcurrencyTest, ParallelInvocationsFromManyThreadsRunInSeparateEnvironments) {
  start();
  const auto arn = python_function("app.sleepy");
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<function::InvokeOutcome> outcomes;
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      auto out = invoke(arn, R"({"sleep":1})");
      std::lock_guard lock(mu);
      outcomes.push_back(std::move(out));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(3));
  std::set<std::string> pids;
  for (const auto& out : outcomes) {
    EXPECT_EQ(out.kind, Kind::kOk) << out.payload;
    pids.insert(out.payload);
  }
  EXPECT_EQ(pids.size(), 3u);
  // All three are warm now: three more run without a cold start.
  threads.clear();
  for (int i = 0; i < 3; ++i) threads.emplace_back([&] { invoke(arn, R"({"sleep":0})"); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(invoker_->stats().cold_starts, 3u);
}

TEST_F(ProcessInvokerConcurrencyTest, ShutdownCompletesRunningInvocations) {
  start();
  const auto arn = python_function("app.sleepy", /*timeout_s=*/30);
  auto running = invoke_async(invocation(arn, R"({"sleep":20})"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let it reach the handler
  std::thread stopper([&] { invoker_->shutdown(); });
  ASSERT_EQ(running.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto out = running.get();
  EXPECT_EQ(out.kind, Kind::kFunctionError);
  EXPECT_THAT(out.payload, ::testing::HasSubstr("Runtime exited with error: signal: terminated"));
  stopper.join();
  EXPECT_EQ(invoker_->stats().environments, 0u);
}

}  // namespace
}  // namespace sluice::runtime::testing
