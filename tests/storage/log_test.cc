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

// Passes everything to another file system and counts the bytes pread() returns: what a
// read copies out of the files.
class ReadCountingFileSystem final : public FileSystem {
 public:
  explicit ReadCountingFileSystem(FileSystem* base) : base_(base) {}

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> f, base_->open(path, mode));
    return std::unique_ptr<File>(std::make_unique<CountingFile>(std::move(f), &bytes_read_));
  }
  Status create_dirs(const std::string& path) override { return base_->create_dirs(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return base_->list_dir(path);
  }
  Status remove_file(const std::string& path) override { return base_->remove_file(path); }
  Status remove_all(const std::string& path) override { return base_->remove_all(path); }
  Status rename(const std::string& from, const std::string& to) override {
    return base_->rename(from, to);
  }
  Status sync_dir(const std::string& path) override { return base_->sync_dir(path); }
  bool exists(const std::string& path) override { return base_->exists(path); }

  uint64_t bytes_read() const { return bytes_read_.load(); }

 private:
  class CountingFile final : public File {
   public:
    CountingFile(std::unique_ptr<File> f, std::atomic<uint64_t>* counter)
        : f_(std::move(f)), counter_(counter) {}
    Result<size_t> pread(uint64_t pos, std::span<std::byte> out) const override {
      auto n = f_->pread(pos, out);
      if (n.ok()) *counter_ += *n;
      return n;
    }
    Status pwritev(uint64_t pos, std::span<const ByteView> parts) override {
      return f_->pwritev(pos, parts);
    }
    Status sync() override { return f_->sync(); }
    Status truncate(uint64_t size) override { return f_->truncate(size); }
    Result<uint64_t> size() const override { return f_->size(); }
    const std::string& path() const override { return f_->path(); }

   private:
    std::unique_ptr<File> f_;
    std::atomic<uint64_t>* counter_;
  };

  FileSystem* const base_;
  std::atomic<uint64_t> bytes_read_{0};
};

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

// A read that may take a few records copies about their bytes out of the segment, not a
// whole read chunk: the sparse index bounds the span (reads of 1000 records for an event
// source mapping used to copy 4 MiB each).
TEST(LogReadSpanTest, ASmallReadCopiesOnlyTheSpanOfItsRecords) {
  MemFileSystem mem;
  ReadCountingFileSystem counting(&mem);
  ManualClock clock;
  auto opened = Log::open(&counting, "/data/logs/s-0", LogOptions{}, &clock);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Log& log = **opened;
  for (int b = 0; b < 100; ++b) {  // 100 batches of 100 records of 100 bytes: over 1 MB
    ASSERT_TRUE(log.append(as_records(make_records(100, b, "b" + std::to_string(b), 100))).ok());
  }
  for (const uint64_t from : {0u, 5050u, 9950u}) {
    const uint64_t before = counting.bytes_read();
    auto r = log.read(Offset(from), ReadLimits{.max_records = 100});
    ASSERT_TRUE(r.ok()) << r.status();
    const uint64_t copied = counting.bytes_read() - before;
    const uint64_t want = std::min<uint64_t>(100, 10000 - from);
    ASSERT_EQ(r->records.size(), want) << from;
    for (uint64_t i = 0; i < want; ++i) {
      const uint64_t o = from + i;
      EXPECT_EQ(r->records[i].offset, Offset(o));
      EXPECT_TRUE(
          as_string_view(r->records[i].payload)
              .starts_with("b" + std::to_string(o / 100) + "-" + std::to_string(o % 100) + "."));
    }
    EXPECT_EQ(r->next_offset, Offset(from + want));
    // At most the two batches the records lie in (about 13 KB each) and a header.
    EXPECT_LT(copied, 32u * 1024) << "from " << from;
    EXPECT_GT(copied, want * 100) << "from " << from;
  }
}

TEST(LogReadSpanTest, ReadsThatEndOnABatchEdgeContinueInTheNextSegment) {
  MemFileSystem mem;
  ReadCountingFileSystem counting(&mem);
  ManualClock clock;
  auto opened =
      Log::open(&counting, "/data/logs/s-0",
                LogOptions{.segment_max_bytes = 4096, .index_interval_bytes = 256}, &clock);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Log& log = **opened;
  for (int b = 0; b < 30; ++b) {
    ASSERT_TRUE(log.append(as_records(make_records(10, b, "s" + std::to_string(b), 50))).ok());
  }
  ASSERT_GT(log.segment_count(), 3u);
  // Reads of every size from every offset step through the log without a gap or a repeat.
  for (const size_t step : {1u, 7u, 10u, 25u, 300u}) {
    Offset at(0);
    uint64_t seen = 0;
    while (at < log.end_offset()) {
      auto r = log.read(at, ReadLimits{.max_records = step});
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_FALSE(r->records.empty()) << "step " << step << " at " << at.value();
      ASSERT_LE(r->records.size(), step);
      for (const RecordView& v : r->records) {
        ASSERT_EQ(v.offset, Offset(seen)) << "step " << step;
        EXPECT_TRUE(as_string_view(v.payload).starts_with("s" + std::to_string(seen / 10) + "-" +
                                                          std::to_string(seen % 10) + "."));
        ++seen;
      }
      at = r->next_offset;
    }
    EXPECT_EQ(seen, 300u) << "step " << step;
  }
}

}  // namespace
}  // namespace sluice::storage
