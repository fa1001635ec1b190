#include "lambda/event_queue.h"

#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

namespace sluice::lambda {
namespace {

using Kind = function::InvokeOutcome::Kind;
using sluice::testing::TempDir;

constexpr std::string_view kNs = "lambda.event";
const std::string kArnA = "arn:aws:lambda:us-east-1:000000000000:function:a";
const std::string kArnB = "arn:aws:lambda:us-east-1:000000000000:function:b";

function::InvokeOutcome outcome(Kind kind, std::string payload = "{}") {
  function::InvokeOutcome o;
  o.kind = kind;
  o.payload = std::move(payload);
  return o;
}

// Records every invocation and completes it only when the test says so, from the test's
// thread, as a real invoker would from its own.
class HeldInvoker final : public function::Invoker {
 public:
  struct Call {
    function::Invocation invocation;
    Done done;
  };
  void invoke(function::Invocation invocation, Done done) override {
    std::lock_guard lock(mu_);
    calls_.push_back({std::move(invocation), std::move(done)});
  }
  size_t calls() const {
    std::lock_guard lock(mu_);
    return calls_.size();
  }
  const function::Invocation& invocation(size_t i) const {
    std::lock_guard lock(mu_);
    return calls_.at(i).invocation;
  }
  // Completes call `i`. REQUIRES: not completed before.
  void complete(size_t i, function::InvokeOutcome o) {
    Done done;
    {
      std::lock_guard lock(mu_);
      done = std::move(calls_.at(i).done);
    }
    done(std::move(o));
  }

 private:
  mutable std::mutex mu_;
  std::deque<Call> calls_;
};

// Answers every invocation at once with the next scripted outcome (kOk when the script is
// over), on the caller's thread.
class ScriptedInvoker final : public function::Invoker {
 public:
  explicit ScriptedInvoker(std::vector<Kind> script) : script_(std::move(script)) {}
  void invoke(function::Invocation invocation, Done done) override {
    Kind kind = Kind::kOk;
    {
      std::lock_guard lock(mu_);
      request_ids_.push_back(invocation.request_id);
      if (next_ < script_.size()) kind = script_[next_++];
    }
    done(outcome(kind));
  }
  std::vector<std::string> request_ids() const {
    std::lock_guard lock(mu_);
    return request_ids_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Kind> script_;
  size_t next_ = 0;
  std::vector<std::string> request_ids_;
};

AsyncEvent event(std::string request_id, std::string arn = kArnA) {
  AsyncEvent e;
  e.request_id = std::move(request_id);
  e.function_arn = std::move(arn);
  e.payload = R"({"n": 1})";
  return e;
}

class EventQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.retry_delays_ms = {60'000, 120'000};
    options_.throttle_delay_ms = 1'000;
    options_.max_throttle_delay_ms = 8'000;
    open_catalog();
  }
  void open_catalog() {
    queue_.reset();
    catalog_.reset();
    auto catalog = storage::Catalog::open(tmp_.path() + "/catalog.db");
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = std::move(*catalog);
  }
  void open_queue(function::Invoker* invoker) {
    queue_.reset();
    auto q = EventQueue::open(
        catalog_.get(), invoker,
        [this](const std::string& arn) -> Result<int32_t> {
          if (gone_ == arn) return Status::not_found("Function not found: " + arn);
          return 3;
        },
        &clock_, options_);
    ASSERT_TRUE(q.ok()) << q.status();
    queue_ = std::move(*q);
  }
  std::vector<AsyncEvent> stored() const {
    auto entries = catalog_->list(kNs);
    EXPECT_TRUE(entries.ok()) << entries.status();
    std::vector<AsyncEvent> out;
    for (const auto& [key, value] : *entries) {
      auto e = decode_event(value, key);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) out.push_back(*e);
    }
    return out;
  }
  void run() { queue_->TEST_run_once(); }

  TempDir tmp_;
  ManualClock clock_;
  EventQueueOptions options_;
  std::string gone_;  // an ARN the lookup reports as not found
  std::unique_ptr<storage::Catalog> catalog_;
  std::unique_ptr<EventQueue> queue_;
};

TEST_F(EventQueueTest, EnqueueIsDurableBeforeItReturnsAndSuccessErasesTheEntry) {
  HeldInvoker invoker;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  auto rows = stored();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].request_id, "r1");
  EXPECT_EQ(rows[0].attempts, 0);
  EXPECT_EQ(rows[0].enqueued_ms, clock_.now_ms());
  EXPECT_EQ(rows[0].due_ms, clock_.now_ms());
  EXPECT_EQ(invoker.calls(), 0u);  // nothing runs before the worker does

  run();
  ASSERT_EQ(invoker.calls(), 1u);
  EXPECT_EQ(invoker.invocation(0).request_id, "r1");
  EXPECT_EQ(invoker.invocation(0).function_arn, kArnA);
  EXPECT_EQ(invoker.invocation(0).payload, R"({"n": 1})");
  EXPECT_EQ(invoker.invocation(0).deadline,
            std::chrono::system_clock::time_point(std::chrono::milliseconds(clock_.now_ms())) +
                std::chrono::seconds(3));
  EXPECT_EQ(queue_->stats().in_flight, 1u);
  EXPECT_EQ(stored().size(), 1u);  // still there while the attempt runs

  invoker.complete(0, outcome(Kind::kOk));
  run();
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(queue_->stats().succeeded, 1u);
  EXPECT_EQ(queue_->stats().pending, 0u);
  clock_.advance_ms(3'600'000);
  run();
  EXPECT_EQ(invoker.calls(), 1u);
}

TEST_F(EventQueueTest, FailuresAreRetriedTwiceAfterTheConfiguredDelaysWithTheSameRequestId) {
  HeldInvoker invoker;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  run();
  invoker.complete(0, outcome(Kind::kFunctionError));
  run();
  ASSERT_EQ(stored().size(), 1u);
  EXPECT_EQ(stored()[0].attempts, 1);
  EXPECT_EQ(stored()[0].due_ms, clock_.now_ms() + 60'000);

  clock_.advance_ms(59'999);
  run();
  EXPECT_EQ(invoker.calls(), 1u);
  clock_.advance_ms(1);
  run();
  ASSERT_EQ(invoker.calls(), 2u);
  EXPECT_EQ(invoker.invocation(1).request_id, "r1");
  invoker.complete(1, outcome(Kind::kTimedOut));  // a timeout counts as a failure too
  run();
  EXPECT_EQ(stored()[0].attempts, 2);
  clock_.advance_ms(119'999);
  run();
  EXPECT_EQ(invoker.calls(), 2u);
  clock_.advance_ms(1);
  run();
  ASSERT_EQ(invoker.calls(), 3u);
  EXPECT_EQ(invoker.invocation(2).request_id, "r1");

  invoker.complete(2, outcome(Kind::kFunctionError));
  run();
  EXPECT_TRUE(stored().empty());
  const EventQueue::Stats s = queue_->stats();
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.retried, 2u);
  EXPECT_EQ(s.pending, 0u);
  clock_.advance_ms(3'600'000);
  run();
  EXPECT_EQ(invoker.calls(), 3u);  // exactly three attempts
}

TEST_F(EventQueueTest, SucceedingOnTheThirdAttemptFinishesTheEvent) {
  ScriptedInvoker invoker({Kind::kFunctionError, Kind::kFunctionError, Kind::kOk});
  options_.retry_delays_ms = {10};  // the last delay repeats
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  for (int i = 0; i < 3; ++i) {
    run();  // starts the attempt; the scripted outcome is applied on the next pass
    run();
    clock_.advance_ms(10);
  }
  EXPECT_EQ(invoker.request_ids(), (std::vector<std::string>{"r1", "r1", "r1"}));
  EXPECT_EQ(queue_->stats().succeeded, 1u);
  EXPECT_EQ(queue_->stats().dropped, 0u);
  EXPECT_TRUE(stored().empty());
}

TEST_F(EventQueueTest, MaxRetriesZeroMeansOneAttempt) {
  HeldInvoker invoker;
  options_.max_retries = 0;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  run();
  invoker.complete(0, outcome(Kind::kFunctionError));
  run();
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(queue_->stats().dropped, 1u);
}

TEST_F(EventQueueTest, ConcurrencyRefusalsWaitWithBackoffAndConsumeNoRetry) {
  HeldInvoker invoker;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  run();
  // Refused five times: waits of 1, 2, 4, 8 and 8 (the cap) seconds.
  const int64_t waits[] = {1'000, 2'000, 4'000, 8'000, 8'000};
  size_t call = 0;
  for (const int64_t wait : waits) {
    invoker.complete(
        call++, outcome(Kind::kUnavailable, "ReservedFunctionConcurrentInvocationLimitExceeded"));
    run();
    clock_.advance_ms(wait - 1);
    run();
    ASSERT_EQ(invoker.calls(), call) << "ran before its throttle wait of " << wait;
    clock_.advance_ms(1);
    run();
    ASSERT_EQ(invoker.calls(), call + 1);
  }
  ASSERT_EQ(stored().size(), 1u);
  EXPECT_EQ(stored()[0].attempts, 0);  // no retry consumed
  EXPECT_EQ(queue_->stats().throttled, 5u);

  // Still three real attempts.
  invoker.complete(call++, outcome(Kind::kFunctionError));
  run();
  clock_.advance_ms(60'000);
  run();
  invoker.complete(call++, outcome(Kind::kUnavailable, "ConcurrentInvocationLimitExceeded"));
  run();
  clock_.advance_ms(1'000);  // the backoff starts again after a real attempt
  run();
  invoker.complete(call++, outcome(Kind::kFunctionError));
  run();
  clock_.advance_ms(120'000);
  run();
  ASSERT_EQ(invoker.calls(), call + 1);
  EXPECT_EQ(stored()[0].attempts, 2);
  invoker.complete(call++, outcome(Kind::kFunctionError));
  run();
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(queue_->stats().dropped, 1u);
}

TEST_F(EventQueueTest, FunctionDeletedWhileQueuedIsDropped) {
  HeldInvoker invoker;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  ASSERT_TRUE(queue_->enqueue(event("r2", kArnB)).ok());
  gone_ = kArnB;  // the lookup no longer finds b: not invoked at all
  run();
  ASSERT_EQ(invoker.calls(), 1u);
  EXPECT_EQ(invoker.invocation(0).request_id, "r1");
  // The invoker's own "not found" (deleted between lookup and start) drops it as well.
  invoker.complete(0, outcome(Kind::kUnavailable, "ResourceNotFound"));
  run();
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(queue_->stats().dropped, 2u);
}

TEST_F(EventQueueTest, ARetryThatWouldPassTheMaximumAgeIsDropped) {
  HeldInvoker invoker;
  options_.max_event_age_ms = 100'000;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  run();
  invoker.complete(0, outcome(Kind::kFunctionError));
  run();
  ASSERT_EQ(stored().size(), 1u);  // the first retry, at 60 s, fits in 100 s
  clock_.advance_ms(60'000);
  run();
  ASSERT_EQ(invoker.calls(), 2u);
  invoker.complete(1, outcome(Kind::kFunctionError));
  run();
  EXPECT_TRUE(stored().empty());  // the second, at 180 s, would not
  EXPECT_EQ(queue_->stats().dropped, 1u);
}

TEST_F(EventQueueTest, AnEventRefusedUntilItIsTooOldIsDropped) {
  HeldInvoker invoker;
  options_.max_event_age_ms = 10'000;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  size_t completed = 0;
  for (int step = 0; step < 100 && queue_->stats().pending > 0; ++step) {
    while (completed < invoker.calls()) {
      invoker.complete(completed++,
                       outcome(Kind::kUnavailable, "ConcurrentInvocationLimitExceeded"));
    }
    run();
    clock_.advance_ms(500);
    run();
  }
  // Attempts at 0, 1, 3 and 7 s were refused; at 15 s the event is too old to try.
  EXPECT_EQ(invoker.calls(), 4u);
  EXPECT_EQ(queue_->stats().pending, 0u);
  EXPECT_EQ(queue_->stats().dropped, 1u);
  EXPECT_TRUE(stored().empty());
}

TEST_F(EventQueueTest, AnEventTooOldBeforeItsFirstAttemptIsNeverRun) {
  HeldInvoker invoker;
  options_.max_event_age_ms = 60'000;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  clock_.advance_ms(60'001);
  run();
  EXPECT_EQ(invoker.calls(), 0u);
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(queue_->stats().dropped, 1u);
}

TEST_F(EventQueueTest, PendingEventsAttemptCountsAndDueTimesSurviveReopeningTheCatalog) {
  {
    HeldInvoker invoker;
    open_queue(&invoker);
    ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
    clock_.advance_ms(1);
    ASSERT_TRUE(queue_->enqueue(event("r2")).ok());
    run();
    invoker.complete(0, outcome(Kind::kFunctionError));  // r1: attempt 1 failed
    run();
    queue_->shutdown();                       // r2's attempt is still running: it is not lost
    invoker.complete(1, outcome(Kind::kOk));  // too late: ignored
    queue_.reset();
  }
  open_catalog();
  HeldInvoker invoker;
  open_queue(&invoker);
  EXPECT_EQ(queue_->stats().pending, 2u);
  run();
  ASSERT_EQ(invoker.calls(), 1u);  // r2 again; r1 waits for its retry delay
  EXPECT_EQ(invoker.invocation(0).request_id, "r2");
  invoker.complete(0, outcome(Kind::kOk));
  clock_.advance_ms(60'000);
  run();
  ASSERT_EQ(invoker.calls(), 2u);
  EXPECT_EQ(invoker.invocation(1).request_id, "r1");
  invoker.complete(1, outcome(Kind::kFunctionError));
  run();
  clock_.advance_ms(120'000);
  run();
  ASSERT_EQ(invoker.calls(), 3u);
  invoker.complete(2, outcome(Kind::kFunctionError));  // the third attempt, across a restart
  run();
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(queue_->stats().dropped, 1u);
  EXPECT_EQ(queue_->stats().succeeded, 1u);
}

TEST_F(EventQueueTest, EnqueueIsRefusedWhenFullAndAfterShutdown) {
  HeldInvoker invoker;
  options_.max_pending = 1;
  open_queue(&invoker);
  ASSERT_TRUE(queue_->enqueue(event("r1")).ok());
  EXPECT_EQ(queue_->enqueue(event("r2")).code(), Code::kLimitExceeded);
  queue_->shutdown();
  EXPECT_EQ(queue_->enqueue(event("r3")).code(), Code::kUnavailable);
  EXPECT_EQ(stored().size(), 1u);
}

TEST_F(EventQueueTest, FunctionsShareTheSlotsRoundRobin) {
  HeldInvoker invoker;
  options_.max_in_flight = 3;
  options_.max_in_flight_per_function = 2;
  open_queue(&invoker);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue_->enqueue(event("a" + std::to_string(i))).ok());
  ASSERT_TRUE(queue_->enqueue(event("b0", kArnB)).ok());
  run();
  // a's backlog came first, yet b gets a slot, and a no more than its two.
  ASSERT_EQ(invoker.calls(), 3u);
  std::multiset<std::string> started;
  for (size_t i = 0; i < 3; ++i) started.insert(invoker.invocation(i).request_id);
  EXPECT_EQ(started, (std::multiset<std::string>{"a0", "a1", "b0"}));
  invoker.complete(0, outcome(Kind::kOk));
  run();
  ASSERT_EQ(invoker.calls(), 4u);
  EXPECT_EQ(invoker.invocation(3).request_id, "a2");  // a's events in acceptance order
}

TEST_F(EventQueueTest, WorkerThreadRetriesAfterRealDelaysAndShutdownWaitsForRunningAttempts) {
  ScriptedInvoker scripted({Kind::kFunctionError, Kind::kTimedOut, Kind::kOk});
  options_.retry_delays_ms = {20, 40};
  auto queue = EventQueue::open(
      catalog_.get(), &scripted, [](const std::string&) -> Result<int32_t> { return 1; },
      SystemClock::instance(), options_);
  ASSERT_TRUE(queue.ok()) << queue.status();
  (*queue)->start();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*queue)->enqueue(event("r1")).ok());
  while ((*queue)->stats().succeeded == 0 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*queue)->stats().succeeded, 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(60));
  EXPECT_EQ(scripted.request_ids(), (std::vector<std::string>{"r1", "r1", "r1"}));
  EXPECT_TRUE(stored().empty());
  (*queue)->shutdown();

  // An attempt that ends while shutdown() waits is recorded.
  HeldInvoker held;
  options_.shutdown_wait = std::chrono::seconds(10);
  auto second = EventQueue::open(
      catalog_.get(), &held, [](const std::string&) -> Result<int32_t> { return 1; },
      SystemClock::instance(), options_);
  ASSERT_TRUE(second.ok()) << second.status();
  (*second)->start();
  ASSERT_TRUE((*second)->enqueue(event("r2")).ok());
  while (held.calls() == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(held.calls(), 1u);
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    held.complete(0, outcome(Kind::kOk));
  });
  const auto stopping = std::chrono::steady_clock::now();
  (*second)->shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(5));  // not the 10
  finisher.join();
  EXPECT_EQ((*second)->stats().succeeded, 1u);
  EXPECT_TRUE(stored().empty());
}

TEST(EventRecordTest, RoundTripsAndRefusesDamage) {
  AsyncEvent e = event("5e0c3a4e-0000-4000-8000-000000000001");
  e.payload = "{\"s\":\"quote \\\" and \\u00e9\"}";
  e.client_context_b64 = "eyJjdXN0b20iOnt9fQ==";
  e.trace_id = "Root=1-5759e988-bd862e3fe1be46a994272793";
  e.tenant_id = "t1";
  e.enqueued_ms = 1'700'000'000'000;
  e.due_ms = 1'700'000'060'000;
  e.attempts = 1;
  const std::string key = "0001700000000000/5e0c3a4e-0000-4000-8000-000000000001";
  auto back = decode_event(encode_event(e), key);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);
  EXPECT_TRUE(decode_event(encode_event(e), "0001700000000001/x").status().is_corruption());
  EXPECT_TRUE(decode_event("{\"v\":2}", key).status().is_corruption());
  std::string truncated = encode_event(e);
  truncated.resize(truncated.size() - 5);
  EXPECT_TRUE(decode_event(truncated, key).status().is_corruption());
  std::string negative = encode_event(e);
  negative.replace(negative.find("\"attempts\":1"), 12, "\"attempts\":-1");
  EXPECT_TRUE(decode_event(negative, key).status().is_corruption());
}

TEST_F(EventQueueTest, AnUnreadableEntryStopsOpen) {
  ASSERT_TRUE(catalog_->put(kNs, "0000000000000001/r", "not json").ok());
  HeldInvoker invoker;
  auto q = EventQueue::open(
      catalog_.get(), &invoker, [](const std::string&) -> Result<int32_t> { return 1; }, &clock_,
      options_);
  ASSERT_FALSE(q.ok());
  EXPECT_TRUE(q.status().is_corruption());
  EXPECT_NE(q.status().message().find("0000000000000001/r"), std::string::npos);
}

}  // namespace
}  // namespace sluice::lambda
