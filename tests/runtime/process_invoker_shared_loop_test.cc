// The process invoker on an io_context it does not own (ProcessInvokerOptions::io_context), as
// the server runs it on its event loop: invocations dispatched from the loop's own threads,
// answered there, and everything a warm environment, a timeout, a crash and shutdown do.
#include "runtime/process_invoker.h"
#include "tests/runtime/invoker_fixture.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <vector>

namespace sluice::runtime::testing {
namespace {

using ::testing::HasSubstr;
using Kind = function::InvokeOutcome::Kind;
namespace asio = boost::asio;

std::string pid_of(const std::string& payload) {
  std::smatch m;
  if (!std::regex_search(payload, m, std::regex(R"re("pid": (\d+))re"))) return "";
  return m[1];
}

struct Answer {
  function::InvokeOutcome outcome;
  std::thread::id done_on;
};

class SharedLoopTest : public InvokerFixture {
 protected:
  void SetUp() override {
    InvokerFixture::SetUp();
    work_.emplace(asio::make_work_guard(*loop_));
    for (int i = 0; i < 2; ++i) {
      loop_threads_.emplace_back([this] { loop_->run(); });
    }
    for (const auto& t : loop_threads_) loop_ids_.insert(t.get_id());
    auto o = options();
    o.io_context = loop_.get();
    start(std::move(o));
  }

  void TearDown() override {
    InvokerFixture::TearDown();  // shuts the invoker down while the loop still runs
    stop_loop();
  }

  void stop_loop() {
    work_.reset();
    if (loop_) loop_->stop();
    for (auto& t : loop_threads_) {
      if (t.joinable()) t.join();
    }
  }

  // Calls invoke() on a loop thread and lets it run there, as the Invoke API does.
  std::future<Answer> invoke_from_loop(function::Invocation inv) {
    auto promise = std::make_shared<std::promise<Answer>>();
    auto future = promise->get_future();
    asio::post(*loop_, [this, promise, inv = std::move(inv)]() mutable {
      inv.may_run_inline = true;
      invoker_->invoke(std::move(inv), [promise](function::InvokeOutcome outcome) {
        promise->set_value(Answer{std::move(outcome), std::this_thread::get_id()});
      });
    });
    return future;
  }

  Answer wait(std::future<Answer>& f) {
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "invocation did not complete";
      return {};
    }
    return f.get();
  }

  Answer call_from_loop(const std::string& arn, std::string payload) {
    auto f = invoke_from_loop(invocation(arn, std::move(payload)));
    return wait(f);
  }

  std::unique_ptr<asio::io_context> loop_ = std::make_unique<asio::io_context>(2);
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> loop_threads_;
  std::set<std::thread::id> loop_ids_;
};

TEST_F(SharedLoopTest, WarmInvocationsFromTheLoopAreAnsweredOnTheLoop) {
  const auto arn = python_function("app.counter");
  const Answer first = call_from_loop(arn, "{}");
  ASSERT_EQ(first.outcome.kind, Kind::kOk) << first.outcome.payload;
  EXPECT_THAT(first.outcome.payload, HasSubstr(R"("count": 1)"));
  EXPECT_EQ(loop_ids_.count(first.done_on), 1u);
  const Answer second = call_from_loop(arn, "{}");
  ASSERT_EQ(second.outcome.kind, Kind::kOk) << second.outcome.payload;
  EXPECT_THAT(second.outcome.payload, HasSubstr(R"("count": 2)"));
  EXPECT_EQ(pid_of(second.outcome.payload), pid_of(first.outcome.payload));
  EXPECT_EQ(loop_ids_.count(second.done_on), 1u);
  EXPECT_EQ(invoker_->stats().cold_starts, 1u);
  // The log tail carries the REPORT line, with the memory read from /proc.
  EXPECT_THAT(second.outcome.log_tail, HasSubstr("Max Memory Used: "));
  EXPECT_THAT(second.outcome.log_tail, ::testing::Not(HasSubstr("Max Memory Used: 0 MB")));
}

TEST_F(SharedLoopTest, CallersOffTheLoopAreAnsweredOnTheLoopToo) {
  const auto arn = python_function("app.ok");
  auto out = invoke(arn, R"({"a":1})");  // from the test thread, may_run_inline unset
  EXPECT_EQ(out.kind, Kind::kOk);
  EXPECT_EQ(out.payload, R"({"ok": true, "e": {"a": 1}})");
}

TEST_F(SharedLoopTest, TimeoutKillsTheEnvironmentAndTheNextCallStartsFresh) {
  const auto arn = python_function("app.sleepy", /*timeout_s=*/1);
  const Answer slow = call_from_loop(arn, R"({"sleep":5})");
  EXPECT_EQ(slow.outcome.kind, Kind::kTimedOut);
  EXPECT_THAT(slow.outcome.payload, HasSubstr("Sandbox.Timedout"));
  const Answer next = call_from_loop(arn, R"({"sleep":0})");
  EXPECT_EQ(next.outcome.kind, Kind::kOk) << next.outcome.payload;
  EXPECT_EQ(invoker_->stats().cold_starts, 2u);
}

TEST_F(SharedLoopTest, CrashIsRuntimeExitErrorAndTheEnvironmentIsReplaced) {
  const auto crash = python_function("app.crash");
  const Answer out = call_from_loop(crash, "{}");
  EXPECT_EQ(out.outcome.kind, Kind::kFunctionError);
  EXPECT_THAT(out.outcome.payload, HasSubstr("Runtime.ExitError"));
  EXPECT_THAT(out.outcome.payload, HasSubstr("exit status 3"));
  const auto ok = python_function("app.ok");
  EXPECT_EQ(call_from_loop(ok, "{}").outcome.kind, Kind::kOk);
}

TEST_F(SharedLoopTest, UnknownFunctionIsUnavailable) {
  auto f =
      invoke_from_loop(invocation("arn:aws:lambda:us-east-1:123456789012:function:nope", "{}"));
  const Answer out = wait(f);
  EXPECT_EQ(out.outcome.kind, Kind::kUnavailable);
  EXPECT_EQ(out.outcome.payload, "ResourceNotFound");
}

TEST_F(SharedLoopTest, ParallelInvocationsFromLoopAndOtherThreadsRunInSeparateEnvironments) {
  const auto arn = python_function("app.sleepy");
  std::vector<std::future<Answer>> from_loop;
  for (int i = 0; i < 3; ++i)
    from_loop.push_back(invoke_from_loop(invocation(arn, R"({"sleep":1})")));
  std::vector<std::future<function::InvokeOutcome>> from_threads;
  for (int i = 0; i < 3; ++i)
    from_threads.push_back(invoke_async(invocation(arn, R"({"sleep":1})")));
  std::set<std::string> pids;
  for (auto& f : from_loop) {
    const Answer a = wait(f);
    EXPECT_EQ(a.outcome.kind, Kind::kOk) << a.outcome.payload;
    pids.insert(a.outcome.payload);
  }
  for (auto& f : from_threads) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    const auto out = f.get();
    EXPECT_EQ(out.kind, Kind::kOk) << out.payload;
    pids.insert(out.payload);
  }
  EXPECT_EQ(pids.size(), 6u);  // one invocation at a time per environment
  EXPECT_EQ(invoker_->stats().cold_starts, 6u);
}

TEST_F(SharedLoopTest, ShutdownCompletesRunningInvocationsAndRefusesLaterOnes) {
  const auto arn = python_function("app.sleepy", /*timeout_s=*/30);
  auto running = invoke_from_loop(invocation(arn, R"({"sleep":20})"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let it reach the handler
  invoker_->shutdown();
  const Answer out = wait(running);
  EXPECT_EQ(out.outcome.kind, Kind::kFunctionError);
  EXPECT_THAT(out.outcome.payload, HasSubstr("Runtime exited with error: signal: terminated"));
  EXPECT_EQ(invoker_->stats().environments, 0u);
  const Answer later = call_from_loop(arn, "{}");
  EXPECT_EQ(later.outcome.kind, Kind::kUnavailable);
  EXPECT_EQ(later.outcome.payload, "Stopped");
}

TEST_F(SharedLoopTest, AShutDownInvokerOutlivesTheContextItRanOn) {
  // The server's order: the invoker is shut down, the event loop is stopped and destroyed
  // (with its strand service), and only then is the invoker destroyed. Nothing of the
  // invoker may refer to the context's services by then (the sanitizer builds check).
  const auto arn = python_function("app.counter");
  ASSERT_EQ(call_from_loop(arn, "{}").outcome.kind, Kind::kOk);
  invoker_->shutdown();
  stop_loop();
  loop_.reset();
  invoker_.reset();
}

}  // namespace
}  // namespace sluice::runtime::testing
