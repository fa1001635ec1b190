#include "storage/log.h"

#include "tests/storage/test_records.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sluice::storage {
namespace {

using testing::as_records;
using testing::make_records;
using testing::OwnedRecord;

class LogTest : public ::testing::Test {
 protected:
  std::unique_ptr<Log> open_log(LogOptions options = {}) {
    auto log = Log::open(&faults_, "/data/logs/s-0", options, &clock_);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }

  static AppendResult append(Log& log, const std::vector<OwnedRecord>& owned) {
    auto r = log.append(as_records(owned));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : AppendResult{};
  }

  static std::vector<std::string> payloads(const ReadResult& r) {
    std::vector<std::string> out;
    for (const RecordView& v : r.records) out.emplace_back(as_string_view(v.payload));
    return out;
  }

  MemFileSystem mem_;
  FaultInjectionFileSystem faults_{&mem_};
  ManualClock clock_;
};

TEST_F(LogTest, AppendAssignsConsecutiveOffsetsFromZero) {
  auto log = open_log();
  EXPECT_EQ(log->end_offset(), Offset(0));
  const auto a = append(*log, make_records(3, 100, "a"));
  const auto b = append(*log, make_records(2, 200, "b"));
  EXPECT_EQ(a.base_offset, Offset(0));
  EXPECT_EQ(a.last_offset, Offset(2));
  EXPECT_EQ(b.base_offset, Offset(3));
  EXPECT_EQ(b.last_offset, Offset(4));
  EXPECT_EQ(log->end_offset(), Offset(5));
}

TEST_F(LogTest, ReadReturnsRecordsBitExactWithMetadata) {
  auto log = open_log();
  const std::vector<OwnedRecord> owned = {
      {"one", "pk1", "123", 11}, {"", "pk2", "", 12}, {std::string(70000, 'z'), "pk3", "", 13}};
  append(*log, owned);
  auto r = log->read(Offset(0), ReadLimits{});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->records.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r->records[i].offset, Offset(i));
    EXPECT_EQ(as_string_view(r->records[i].payload), owned[i].payload);
    EXPECT_EQ(r->records[i].partition_key, owned[i].partition_key);
    EXPECT_EQ(r->records[i].explicit_hash_key, owned[i].explicit_hash_key);
    EXPECT_EQ(r->records[i].arrival_ms, owned[i].arrival_ms);
  }
  EXPECT_EQ(r->next_offset, Offset(3));
}

TEST_F(LogTest, ReadFromTheMiddleOfABatch) {
  auto log = open_log();
  append(*log, make_records(5, 0, "m"));
  auto r = log->read(Offset(3), ReadLimits{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(payloads(*r), (std::vector<std::string>{"m-3.......", "m-4......."}));
}

TEST_F(LogTest, ReadAtTheEndIsEmptyAndPointsAtTheEnd) {
  auto log = open_log();
  append(*log, make_records(2, 0, "e"));
  auto r = log->read(Offset(2), ReadLimits{});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->records.empty());
  EXPECT_EQ(r->next_offset, Offset(2));
  auto beyond = log->read(Offset(50), ReadLimits{});
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond->records.empty());
}

TEST_F(LogTest, ReadHonoursRecordLimit) {
  auto log = open_log();
  append(*log, make_records(10, 0, "l"));
  auto r = log->read(Offset(2), ReadLimits{.max_records = 4, .max_bytes = 1 << 20});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 4u);
  EXPECT_EQ(r->records.front().offset, Offset(2));
  EXPECT_EQ(r->next_offset, Offset(6));
}

TEST_F(LogTest, ReadHonoursByteLimitButAlwaysReturnsTheFirstRecord) {
  auto log = open_log();
  append(*log, make_records(10, 0, "b", 100));
  auto r = log->read(Offset(0), ReadLimits{.max_records = 100, .max_bytes = 250});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.size(), 2u);
  EXPECT_EQ(r->next_offset, Offset(2));
  auto one = log->read(Offset(0), ReadLimits{.max_records = 100, .max_bytes = 10});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->records.size(), 1u);
}

TEST_F(LogTest, ViewsStayValidAfterTheResultMoves) {
  auto log = open_log();
  append(*log, make_records(3, 0, "v"));
  std::vector<ReadResult> kept;
  {
    auto r = log->read(Offset(0), ReadLimits{});
    ASSERT_TRUE(r.ok());
    kept.push_back(std::move(*r));
  }
  kept.reserve(10);  // force the vector to move its element
  EXPECT_EQ(as_string_view(kept[0].records[2].payload), "v-2.......");
}

TEST_F(LogTest, ConcurrentAppendsAreGroupCommittedAndAllReadable) {
  auto log = open_log(LogOptions{.fsync = FsyncPolicy::kGroup});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const auto recs = make_records(1, i, "t" + std::to_string(t) + "-" + std::to_string(i));
        if (!log->append(as_records(recs)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log->end_offset(), Offset(kThreads * kPerThread));
  // Every append was synced, but several shared one fdatasync only if they queued together;
  // never more syncs than appends (plus the segment creation).
  EXPECT_LE(faults_.sync_calls(), static_cast<uint64_t>(kThreads * kPerThread) + 2);

  std::set<std::string> seen;
  Offset at(0);
  while (at < log->end_offset()) {
    auto r = log->read(at, ReadLimits{.max_records = 333, .max_bytes = 1 << 20});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->records.empty());
    for (const auto& v : r->records) {
      EXPECT_EQ(v.offset, at);
      at = Offset(at.value() + 1);
      seen.insert(std::string(as_string_view(v.payload)));
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(LogTest, AlwaysPolicySyncsEveryAppendNeverPolicySyncsNone) {
  {
    auto log = open_log(LogOptions{.fsync = FsyncPolicy::kAlways});
    const uint64_t before = faults_.sync_calls();
    for (int i = 0; i < 5; ++i) append(*log, make_records(1, i, "a"));
    EXPECT_EQ(faults_.sync_calls() - before, 5u);
  }
  auto log =
      Log::open(&faults_, "/data/logs/s-never", LogOptions{.fsync = FsyncPolicy::kNever}, &clock_);
  ASSERT_TRUE(log.ok());
  const uint64_t before = faults_.sync_calls();
  for (int i = 0; i < 5; ++i) append(**log, make_records(1, i, "n"));
  EXPECT_EQ(faults_.sync_calls() - before, 0u);
  EXPECT_TRUE((*log)->sync().ok());
  EXPECT_EQ(faults_.sync_calls() - before, 1u);
}

TEST_F(LogTest, RollsBySizeAndReadsAcrossSegments) {
  auto log = open_log(LogOptions{.segment_max_bytes = 1024, .index_interval_bytes = 128});
  for (int i = 0; i < 40; ++i) append(*log, make_records(2, i, "r" + std::to_string(i), 50));
  EXPECT_GT(log->segment_count(), 5u);
  auto r = log->read(Offset(0), ReadLimits{.max_records = 1000, .max_bytes = 1 << 20});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->records.size(), 80u);
  for (size_t i = 0; i < 80; ++i) EXPECT_EQ(r->records[i].offset, Offset(i));
  // And from every starting point.
  for (uint64_t from = 0; from < 80; from += 7) {
    auto part = log->read(Offset(from), ReadLimits{.max_records = 3, .max_bytes = 1 << 20});
    ASSERT_TRUE(part.ok());
    ASSERT_EQ(part->records.size(), 3u);
    EXPECT_EQ(part->records[0].offset, Offset(from));
  }
}

TEST_F(LogTest, RollsByAgeOnlyWhenTheSegmentHoldsRecords) {
  auto log = open_log(LogOptions{.segment_max_age_ms = 1000});
  clock_.advance_ms(5000);
  append(*log, make_records(1, 0, "first"));
  EXPECT_EQ(log->segment_count(), 1u);  // the empty segment did not roll
  clock_.advance_ms(999);
  append(*log, make_records(1, 0, "second"));
  EXPECT_EQ(log->segment_count(), 1u);
  clock_.advance_ms(2);
  append(*log, make_records(1, 0, "third"));
  EXPECT_EQ(log->segment_count(), 2u);
}

TEST_F(LogTest, OffsetAtTimeFindsTheFirstRecordAtOrAfter) {
  auto log = open_log(LogOptions{.segment_max_bytes = 600, .index_interval_bytes = 64});
  for (int i = 0; i < 30; ++i) {
    append(*log, {OwnedRecord{"p" + std::to_string(i), "k", "", 1000 + i * 10}});
  }
  for (int i = 0; i < 30; ++i) {
    auto at = log->offset_at_time(1000 + i * 10);
    ASSERT_TRUE(at.ok());
    EXPECT_EQ(*at, Offset(i));
    auto between = log->offset_at_time(1000 + i * 10 - 5);
    ASSERT_TRUE(between.ok());
    EXPECT_EQ(*between, Offset(i));
  }
  EXPECT_EQ(*log->offset_at_time(0), Offset(0));
  EXPECT_EQ(*log->offset_at_time(999999), Offset(30));
}

TEST_F(LogTest, OffsetAtTimeToleratesClockGoingBackwards) {
  auto log = open_log();
  append(*log,
         {{"a", "k", "", 100}, {"b", "k", "", 300}, {"c", "k", "", 200}, {"d", "k", "", 400}});
  EXPECT_EQ(*log->offset_at_time(250), Offset(1));
  EXPECT_EQ(*log->offset_at_time(350), Offset(3));
}

TEST_F(LogTest, TrimDeletesOnlyWholeOldSealedSegments) {
  auto log = open_log(LogOptions{.segment_max_bytes = 300});
  for (int i = 0; i < 20; ++i)
    append(*log, make_records(1, 1000 + i * 100, "t" + std::to_string(i), 100));
  const size_t before = log->segment_count();
  ASSERT_GT(before, 3u);
  auto removed = log->trim_before_time(1000 + 10 * 100);
  ASSERT_TRUE(removed.ok());
  EXPECT_GT(*removed, 0u);
  EXPECT_EQ(log->segment_count(), before - *removed);
  const Offset start = log->start_offset();
  EXPECT_GT(start, Offset(0));
  EXPECT_LE(start, Offset(10));  // no record of 1000+10*100 or later was dropped
  auto r = log->read(Offset(0), ReadLimits{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.front().offset, start);
  EXPECT_EQ(r->records.size(), 20 - start.value());
  // Everything trimmed: still keeps the active segment and its records.
  ASSERT_TRUE(log->trim_before_time(1'000'000).ok());
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->end_offset(), Offset(20));
}

TEST_F(LogTest, TrimSurvivesReopen) {
  {
    auto log = open_log(LogOptions{.segment_max_bytes = 300});
    for (int i = 0; i < 20; ++i) append(*log, make_records(1, i, "x", 100));
    ASSERT_TRUE(log->trim_before_time(10).ok());
  }
  auto log = open_log(LogOptions{.segment_max_bytes = 300});
  EXPECT_GT(log->start_offset(), Offset(0));
  EXPECT_EQ(log->end_offset(), Offset(20));
}

TEST_F(LogTest, FullDiskPoisonsTheLogButKeepsAcknowledgedRecordsReadable) {
  auto log = open_log();
  append(*log, make_records(3, 0, "ok"));
  faults_.fail_writes_with_enospc(true);
  faults_.set_partial_write_bytes(7);  // a torn write lands on disk
  auto failed = log->append(as_records(make_records(2, 0, "lost")));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kIOError);
  EXPECT_NE(failed.status().message().find("No space left"), std::string_view::npos);
  faults_.fail_writes_with_enospc(false);
  // Poisoned: the disk has room again, but the log repeats its first failure.
  auto again = log->append(as_records(make_records(1, 0, "later")));
  EXPECT_EQ(again.status().message(), failed.status().message());
  EXPECT_FALSE(log->health().ok());
  auto r = log->read(Offset(0), ReadLimits{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.size(), 3u);
  EXPECT_EQ(log->end_offset(), Offset(3));
  log.reset();
  // A restart recovers: the torn bytes are cut, offsets continue after the acknowledged ones.
  auto reopened = open_log();
  EXPECT_EQ(reopened->end_offset(), Offset(3));
  EXPECT_EQ(append(*reopened, make_records(1, 0, "after")).base_offset, Offset(3));
}

TEST_F(LogTest, FailedSyncPoisonsAndNothingUnsyncedIsAcknowledged) {
  auto log = open_log();
  append(*log, make_records(2, 0, "synced"));
  faults_.fail_syncs(true);
  auto failed = log->append(as_records(make_records(2, 0, "unsynced")));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kIOError);
  auto r = log->read(Offset(0), ReadLimits{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records.size(), 2u);  // the unacknowledged records are not visible
  faults_.fail_syncs(false);
  log.reset();
  ASSERT_TRUE(faults_.drop_unsynced_data().ok());
  auto reopened = open_log();
  EXPECT_EQ(reopened->end_offset(), Offset(2));
}

TEST_F(LogTest, ClosedLogRefusesAppends) {
  auto log = open_log();
  ASSERT_TRUE(log->close().ok());
  EXPECT_EQ(log->append(as_records(make_records(1, 0, "x"))).status().code(), Code::kUnavailable);
  EXPECT_TRUE(log->close().ok());
}

TEST_F(LogTest, OversizedAppendIsInvalidArgumentAndLeavesTheLogUsable) {
  auto log = open_log();
  std::vector<OwnedRecord> big = {{std::string(kMaxPayloadBytes + 1, 'b'), "k", "", 0}};
  EXPECT_EQ(log->append(as_records(big)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(append(*log, make_records(1, 0, "fine")).base_offset, Offset(0));
}

TEST_F(LogTest, AMaximumSizeRecordRoundTrips) {
  auto log = open_log(LogOptions{.segment_max_bytes = 1 << 20});
  std::string payload(kMaxPayloadBytes, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131);
  append(*log, {{payload, "k", "", 0}});
  append(*log, make_records(1, 0, "next"));
  auto r = log->read(Offset(0), ReadLimits{.max_records = 10, .max_bytes = 1024});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_TRUE(as_string_view(r->records[0].payload) == payload);
}

}  // namespace
}  // namespace sluice::storage

namespace sluice::storage {
namespace {

TEST_F(LogTest, FailedExplicitSyncPoisonsTheLog) {
  auto log = open_log(LogOptions{.fsync = FsyncPolicy::kNever});
  append(*log, make_records(2, 0, "n"));
  faults_.fail_syncs(true);
  EXPECT_EQ(log->sync().code(), Code::kIOError);
  faults_.fail_syncs(false);
  EXPECT_FALSE(log->health().ok());
  EXPECT_EQ(log->append(as_records(make_records(1, 0, "x"))).status().code(), Code::kIOError);
}

}  // namespace
}  // namespace sluice::storage
