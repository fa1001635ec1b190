#include "stream/internal/shard_writer.h"

#include "stream/internal/metadata_codec.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

#include <thread>

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

TEST(ShardWriterTest, AppendsGiveConsecutiveCountersAndOffsets) {
  MemMetadataStore store;
  SequenceCounter counter(&store, "x", 0);
  auto log = std::make_shared<RecordingLog>();
  ManualClock clock;
  ShardWriter w(log, &counter, &clock, 0, 1 << 20);
  const LogRecordIn two[] = {rec("a"), rec("b")};
  auto r1 = w.append(two);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->base_offset, LogOffset(0));
  EXPECT_EQ(r1->first_counter, 1u);
  EXPECT_EQ(r1->arrival_ms, clock.now_ms());
  auto r2 = w.append(std::span(two, 1));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->base_offset, LogOffset(2));
  EXPECT_EQ(r2->first_counter, 3u);
}

TEST(ShardWriterTest, ArrivalTimesNeverGoBackWhenTheClockDoes) {
  MemMetadataStore store;
  SequenceCounter counter(&store, "x", 0);
  auto log = std::make_shared<RecordingLog>();
  ManualClock clock;
  ShardWriter w(log, &counter, &clock, 0, 1 << 20);
  const LogRecordIn one[] = {rec("a")};
  ASSERT_TRUE(w.append(one).ok());
  clock.set_ms(clock.now_ms() - 10'000);
  auto r = w.append(one);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->arrival_ms, ManualClock::kDefaultStartMs);
}

TEST(ShardWriterTest, ConcurrentAppendsKeepCounterOrderEqualToOffsetOrder) {
  MemMetadataStore store;
  SequenceCounter counter(&store, "x", 0);
  auto log = std::make_shared<RecordingLog>();
  ManualClock clock;
  ShardWriter w(log, &counter, &clock, 0, 1 << 20);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string data = std::to_string(t) + ":" + std::to_string(i);
        const LogRecordIn r[] = {rec(data), rec(data)};
        auto out = w.append(r);
        ASSERT_TRUE(out.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto recs = log->records();
  ASSERT_EQ(recs.size(), 8u * 200 * 2);
  for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].counter, i + 1) << i;
  // Blocks stay whole: the two records of one append are adjacent.
  for (size_t i = 0; i < recs.size(); i += 2) EXPECT_EQ(recs[i].data, recs[i + 1].data);
}

TEST(ShardWriterTest, CloseRefusesLaterAppendsAsShardClosed) {
  MemMetadataStore store;
  SequenceCounter counter(&store, "x", 0);
  auto log = std::make_shared<RecordingLog>();
  ManualClock clock;
  ShardWriter w(log, &counter, &clock, 0, 1 << 20);
  const LogRecordIn one[] = {rec("a")};
  ASSERT_TRUE(w.append(one).ok());
  w.close();
  auto r = w.append(one);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(is_shard_closed(r.status()));
  EXPECT_EQ(log->records().size(), 1u);
}

TEST(ShardWriterTest, AFailedAppendFailsItsWholeGroupAndBurnsItsCounters) {
  MemMetadataStore store;
  SequenceCounter counter(&store, "x", 0);
  auto log = std::make_shared<RecordingLog>();
  ManualClock clock;
  ShardWriter w(log, &counter, &clock, 0, 1 << 20);
  const LogRecordIn one[] = {rec("a")};
  log->fail(true);
  auto bad = w.append(one);
  EXPECT_EQ(bad.status().code(), Code::kIOError);
  log->fail(false);
  auto good = w.append(one);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->first_counter, 2u);  // never reused
}

TEST(ShardWriterTest, TicketsOnSeveralWritersCanBeWaitedInAnyOrder) {
  MemMetadataStore store;
  SequenceCounter counter(&store, "x", 0);
  auto log_a = std::make_shared<RecordingLog>();
  auto log_b = std::make_shared<RecordingLog>();
  ManualClock clock;
  ShardWriter a(log_a, &counter, &clock, 0, 1 << 20);
  ShardWriter b(log_b, &counter, &clock, 0, 1 << 20);
  const LogRecordIn one[] = {rec("x")};
  auto ta = a.submit(one);
  auto tb = b.submit(one);
  auto rb = b.wait(*tb);
  auto ra = a.wait(*ta);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_NE(ra->first_counter, rb->first_counter);
}

}  // namespace
}  // namespace sluice::stream::internal
