#include "stream/internal/shard_writer.h"

#include "stream/internal/metadata_codec.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::stream::internal {
namespace {

using testing::MemMetadataStore;

// A ShardLog in memory that records how appends arrived.
class RecordingLog final : public ShardLog {
 public:
  Result<LogOffset> append(std::span<const LogRecordIn> records) override {
    std::lock_guard lock(mu_);
    if (fail_) return Status::io_error("injected");
    const LogOffset base(records_.size());
    for (const LogRecordIn& r : records) {
      records_.push_back({r.counter, r.arrival_ms, std::string(as_string_view(r.payload))});
    }
    batches_.push_back(records.size());
    return base;
  }
  Result<LogRead> read(LogOffset, LogReadLimits) const override { return LogRead{}; }
  Result<LogOffset> offset_at_time(int64_t) const override { return LogOffset(0); }
  Result<LogOffset> start_offset() const override { return LogOffset(0); }
  Result<LogOffset> end_offset() const override {
    std::lock_guard lock(mu_);
    return LogOffset(records_.size());
  }
  Status trim_before_time(int64_t) override { return Status(); }

  struct Rec {
    uint64_t counter;
    int64_t arrival_ms;
    std::string data;
  };
  std::vector<Rec> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }
  std::vector<size_t> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }
  void fail(bool f) {
    std::lock_guard lock(mu_);
    fail_ = f;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Rec> records_;
  std::vector<size_t> batches_;
  bool fail_ = false;
};

// Runs every task on a thread of its own, joined when the scheduler goes: declare it after
// what the writers borrow (so it is destroyed first) and before the writers.
class ThreadPerTask {
 public:
  ~ThreadPerTask() {
    // Tasks may schedule tasks: join until none are left.
    for (;;) {
      std::vector<std::thread> threads;
      {
        std::lock_guard lock(mu_);
        threads.swap(threads_);
      }
      if (threads.empty()) return;
      for (auto& t : threads) t.join();
    }
  }
  ShardWriter::Scheduler scheduler() {
    return [this](std::function<void()> task) {
      std::lock_guard lock(mu_);
      threads_.emplace_back(std::move(task));
    };
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

LogRecordIn rec(std::string_view data) {
  return LogRecordIn{.payload = as_bytes(data), .partition_key = "k"};
}

TEST(SequenceCounterTest, HandsOutConsecutiveValuesFromOne) {
  MemMetadataStore store;
  SequenceCounter c(&store, "x", 0);
  EXPECT_EQ(*c.allocate(1), 1u);
  EXPECT_EQ(*c.allocate(5), 2u);
  EXPECT_EQ(*c.allocate(1), 7u);
  EXPECT_EQ(store.applies(), 1u);  // one reservation covers them all
}

TEST(SequenceCounterTest, ReopenedCounterNeverReusesAValue) {
  MemMetadataStore store;
  uint64_t last = 0;
  {
    SequenceCounter c(&store, "x", 0);
    for (int i = 0; i < 10; ++i) last = *c.allocate(3) + 2;
  }
  const auto reserved = store.get(kCounterNs, "x");
  ASSERT_TRUE(reserved.ok() && reserved->has_value());
  SequenceCounter again(&store, "x", std::stoull(**reserved));
  EXPECT_GT(*again.allocate(1), last);
}

TEST(SequenceCounterTest, FailsWithoutHandingOutWhenTheReservationCannotBeSaved) {
  MemMetadataStore store;
  store.fail_applies(true);
  SequenceCounter c(&store, "x", 0);
  EXPECT_FALSE(c.allocate(1).ok());
  store.fail_applies(false);
  EXPECT_EQ(*c.allocate(1), 1u);
}

// What the writers of a test borrow; the scheduler's threads are joined first.
class ShardWriterTest : public ::testing::Test {
 protected:
  std::shared_ptr<ShardWriter> make_writer(std::shared_ptr<ShardLog> log) {
    return std::make_shared<ShardWriter>(std::move(log), &counter_, &clock_, 0, 1 << 20,
                                         threads_.scheduler());
  }

  MemMetadataStore store_;
  SequenceCounter counter_{&store_, "x", 0};
  ManualClock clock_;
  ThreadPerTask threads_;
};

TEST_F(ShardWriterTest, AppendsGiveConsecutiveCountersAndOffsets) {
  auto log = std::make_shared<RecordingLog>();
  auto writer = make_writer(log);
  ShardWriter& w = *writer;
  const LogRecordIn two[] = {rec("a"), rec("b")};
  auto r1 = w.append(two);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->base_offset, LogOffset(0));
  EXPECT_EQ(r1->first_counter, 1u);
  EXPECT_EQ(r1->arrival_ms, clock_.now_ms());
  auto r2 = w.append(std::span(two, 1));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->base_offset, LogOffset(2));
  EXPECT_EQ(r2->first_counter, 3u);
}

TEST_F(ShardWriterTest, ArrivalTimesNeverGoBackWhenTheClockDoes) {
  auto log = std::make_shared<RecordingLog>();
  auto writer = make_writer(log);
  ShardWriter& w = *writer;
  const LogRecordIn one[] = {rec("a")};
  ASSERT_TRUE(w.append(one).ok());
  clock_.set_ms(clock_.now_ms() - 10'000);
  auto r = w.append(one);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->arrival_ms, ManualClock::kDefaultStartMs);
}

TEST_F(ShardWriterTest, ConcurrentAppendsKeepCounterOrderEqualToOffsetOrder) {
  auto log = std::make_shared<RecordingLog>();
  auto writer = make_writer(log);
  ShardWriter& w = *writer;
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string data = std::to_string(t) + ":" + std::to_string(i);
        const LogRecordIn r[] = {rec(data), rec(data)};
        auto out = w.append(r);
        ASSERT_TRUE(out.ok());
      }
    });
  }
  for (auto& th : clients) th.join();
  const auto recs = log->records();
  ASSERT_EQ(recs.size(), 8u * 200 * 2);
  for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].counter, i + 1) << i;
  // Blocks stay whole: the two records of one append are adjacent.
  for (size_t i = 0; i < recs.size(); i += 2) EXPECT_EQ(recs[i].data, recs[i + 1].data);
}

TEST_F(ShardWriterTest, CloseRefusesLaterAppendsAsShardClosed) {
  auto log = std::make_shared<RecordingLog>();
  auto writer = make_writer(log);
  ShardWriter& w = *writer;
  const LogRecordIn one[] = {rec("a")};
  ASSERT_TRUE(w.append(one).ok());
  w.close();
  auto r = w.append(one);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(is_shard_closed(r.status()));
  EXPECT_EQ(log->records().size(), 1u);
}

TEST_F(ShardWriterTest, AFailedAppendFailsItsWholeGroupAndBurnsItsCounters) {
  auto log = std::make_shared<RecordingLog>();
  auto writer = make_writer(log);
  ShardWriter& w = *writer;
  const LogRecordIn one[] = {rec("a")};
  log->fail(true);
  auto bad = w.append(one);
  EXPECT_EQ(bad.status().code(), Code::kIOError);
  log->fail(false);
  auto good = w.append(one);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->first_counter, 2u);  // never reused
}

TEST_F(ShardWriterTest, BlocksOnSeveralWritersCompleteIndependently) {
  auto log_a = std::make_shared<RecordingLog>();
  auto log_b = std::make_shared<RecordingLog>();
  auto a = make_writer(log_a);
  auto b = make_writer(log_b);
  const LogRecordIn one[] = {rec("x")};
  auto ra = a->append(one);
  auto rb = b->append(one);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_NE(ra->first_counter, rb->first_counter);
  EXPECT_EQ(log_a->records().size(), 1u);
  EXPECT_EQ(log_b->records().size(), 1u);
}

// A ShardLog whose appends wait until released, to hold a write in flight.
class GatedLog final : public ShardLog {
 public:
  Result<LogOffset> append(std::span<const LogRecordIn> records) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    const LogOffset base(count_);
    count_ += records.size();
    batches_.push_back(records.size());
    return base;
  }
  Result<LogRead> read(LogOffset, LogReadLimits) const override { return LogRead{}; }
  Result<LogOffset> offset_at_time(int64_t) const override { return LogOffset(0); }
  Result<LogOffset> start_offset() const override { return LogOffset(0); }
  Result<LogOffset> end_offset() const override {
    std::lock_guard lock(mu_);
    return LogOffset(count_);
  }
  Status trim_before_time(int64_t) override { return Status(); }

  void wait_entered(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<size_t> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
  size_t count_ = 0;
  std::vector<size_t> batches_;
};

// Collects the outcomes of submit() callbacks and the threads they ran on.
struct Outcomes {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Result<AppendOutcome>> results;
  std::vector<std::thread::id> threads;

  ShardWriter::Done add() {
    return [this](Result<AppendOutcome> r) {
      std::lock_guard lock(mu);
      results.push_back(std::move(r));
      threads.push_back(std::this_thread::get_id());
      cv.notify_all();
    };
  }
  void wait_for(size_t n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return results.size() >= n; });
  }
};

TEST_F(ShardWriterTest, BlocksQueuedDuringAWriteGoOutAsOneGroupAfterIt) {
  auto log = std::make_shared<GatedLog>();
  auto w = make_writer(log);
  const LogRecordIn one[] = {rec("a")};
  Outcomes outcomes;
  w->submit(one, outcomes.add());
  log->wait_entered(1);  // the first block is being written
  for (int i = 0; i < 5; ++i) w->submit(one, outcomes.add());
  log->open();
  outcomes.wait_for(6);
  EXPECT_EQ(log->batches(), (std::vector<size_t>{1, 5}));
  for (size_t i = 0; i < outcomes.results.size(); ++i) {
    ASSERT_TRUE(outcomes.results[i].ok()) << i;
    EXPECT_EQ(outcomes.results[i]->base_offset, LogOffset(i));
    EXPECT_EQ(outcomes.results[i]->first_counter, i + 1);
    EXPECT_NE(outcomes.threads[i], std::this_thread::get_id());
  }
}

TEST_F(ShardWriterTest, CloseWaitsForTheWriteInFlightAndRefusesTheQueue) {
  auto log = std::make_shared<GatedLog>();
  auto w = make_writer(log);
  const LogRecordIn one[] = {rec("a")};
  Outcomes outcomes;
  w->submit(one, outcomes.add());
  log->wait_entered(1);
  w->submit(one, outcomes.add());
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    w->close();
    closed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(closed.load());  // the write in flight holds close() up
  log->open();
  closer.join();
  EXPECT_EQ(log->end_offset()->value(), 1u);  // final: the queued block never went in
  outcomes.wait_for(2);
  int ok = 0;
  int refused = 0;
  for (const auto& r : outcomes.results) {
    if (r.ok()) ++ok;
    if (!r.ok() && is_shard_closed(r.status())) ++refused;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(refused, 1);
  w->submit(one, outcomes.add());  // after close: refused before submit() returns
  ASSERT_EQ(outcomes.results.size(), 3u);
  EXPECT_TRUE(is_shard_closed(outcomes.results[2].status()));
  EXPECT_EQ(log->end_offset()->value(), 1u);
}

}  // namespace
}  // namespace sluice::stream::internal
