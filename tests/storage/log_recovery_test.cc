#include "storage/batch_format.h"
#include "storage/log.h"
#include "tests/storage/test_records.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <gtest/gtest.h>

namespace sluice::storage {
namespace {

using testing::as_records;
using testing::make_records;

constexpr char kDir[] = "/d/log";
const std::string kFirstSegment = std::string(kDir) + "/00000000000000000000.log";

class LogRecoveryTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Log>> open(LogOptions options = {}) {
    return Log::open(&faults_, kDir, options, &clock_);
  }
  std::unique_ptr<Log> must_open(LogOptions options = {}) {
    auto log = open(options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  // Appends `batches` batches of 3 records; returns the file size after each.
  std::vector<uint64_t> fill(int batches, LogOptions options = {}) {
    auto log = must_open(options);
    std::vector<uint64_t> ends;
    for (int i = 0; i < batches; ++i) {
      const auto recs = make_records(3, i * 10, "b" + std::to_string(i), 40);
      EXPECT_TRUE(log->append(as_records(recs)).ok());
      ends.push_back(mem_.contents(kFirstSegment).size());
    }
    return ends;
  }
  std::vector<std::string> all_payloads(Log& log) {
    std::vector<std::string> out;
    auto r = log.read(Offset(0), ReadLimits{.max_records = 100000, .max_bytes = 1 << 30});
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      for (const auto& v : r->records) out.emplace_back(as_string_view(v.payload));
    }
    return out;
  }

  MemFileSystem mem_;
  FaultInjectionFileSystem faults_{&mem_};
  ManualClock clock_;
};

TEST_F(LogRecoveryTest, ReopenKeepsEverythingAndContinuesOffsets) {
  fill(4);
  auto log = must_open();
  EXPECT_EQ(log->end_offset(), Offset(12));
  EXPECT_EQ(all_payloads(*log).size(), 12u);
  auto r = log->append(as_records(make_records(1, 0, "next")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->base_offset, Offset(12));
}

TEST_F(LogRecoveryTest, TornTailIsTruncatedAtEveryCutPoint) {
  const auto ends = fill(3);
  const std::string full = mem_.contents(kFirstSegment);
  for (uint64_t cut = ends[1] + 1; cut < ends[2]; ++cut) {
    mem_.set_contents(kFirstSegment, full.substr(0, cut));
    auto log = must_open();
    ASSERT_NE(log, nullptr) << "cut at " << cut;
    EXPECT_EQ(log->end_offset(), Offset(6)) << "cut at " << cut;
    EXPECT_EQ(all_payloads(*log).size(), 6u);
    log.reset();
    EXPECT_EQ(mem_.contents(kFirstSegment).size(), ends[1]) << "cut at " << cut;
  }
}

TEST_F(LogRecoveryTest, GarbageAfterTheLastBatchIsTruncated) {
  const auto ends = fill(2);
  mem_.set_contents(kFirstSegment, mem_.contents(kFirstSegment) + std::string(100, '\x7f'));
  auto log = must_open();
  EXPECT_EQ(log->end_offset(), Offset(6));
  log.reset();
  EXPECT_EQ(mem_.contents(kFirstSegment).size(), ends[1]);
}

TEST_F(LogRecoveryTest, DamageInTheLastBatchIsATornTail) {
  const auto ends = fill(3);
  std::string bytes = mem_.contents(kFirstSegment);
  bytes[ends[2] - 5] ^= 0x20;
  mem_.set_contents(kFirstSegment, bytes);
  auto log = must_open();
  EXPECT_EQ(log->end_offset(), Offset(6));
}

TEST_F(LogRecoveryTest, DamageInTheMiddleStopsOpenNamingFileAndByte) {
  const auto ends = fill(4);
  std::string bytes = mem_.contents(kFirstSegment);
  bytes[ends[1] + 60] ^= 0x01;  // inside the third batch; a whole batch follows
  mem_.set_contents(kFirstSegment, bytes);
  auto log = open();
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(log.status().is_corruption()) << log.status();
  const std::string msg(log.status().message());
  EXPECT_NE(msg.find("00000000000000000000.log"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte " + std::to_string(ends[1])), std::string::npos) << msg;
  EXPECT_NE(msg.find("--repair"), std::string::npos) << msg;
  // Nothing was changed on disk by the refusal.
  EXPECT_EQ(mem_.contents(kFirstSegment), bytes);
}

TEST_F(LogRecoveryTest, RepairSetsTheDamagedPartAsideAndKeepsWhatCameBefore) {
  const auto ends = fill(4);
  std::string bytes = mem_.contents(kFirstSegment);
  bytes[ends[1] + 60] ^= 0x01;
  mem_.set_contents(kFirstSegment, bytes);
  auto log = must_open(LogOptions{.repair = true});
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->end_offset(), Offset(6));
  EXPECT_EQ(all_payloads(*log).size(), 6u);
  const std::string aside = kFirstSegment + ".damaged-at-" + std::to_string(ends[1]);
  ASSERT_TRUE(mem_.exists(aside));
  EXPECT_EQ(mem_.contents(aside), bytes.substr(ends[1]));
}

TEST_F(LogRecoveryTest, ImpossibleLengthInTheMiddleIsNotMistakenForATornTail) {
  const auto ends = fill(3);
  std::string bytes = mem_.contents(kFirstSegment);
  // Break the checksum of the second batch but leave its length right.
  bytes[ends[0] + 2] ^= 0x40;
  mem_.set_contents(kFirstSegment, bytes);
  EXPECT_TRUE(open().status().is_corruption());
}

TEST_F(LogRecoveryTest, AcknowledgedRecordsSurvivePowerLoss) {
  {
    auto log = must_open(LogOptions{.fsync = FsyncPolicy::kGroup, .segment_max_bytes = 2000});
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(log->append(as_records(make_records(2, i, "p" + std::to_string(i), 30))).ok());
    }
  }
  ASSERT_TRUE(faults_.drop_unsynced_data().ok());
  auto log = must_open(LogOptions{.segment_max_bytes = 2000});
  EXPECT_EQ(log->end_offset(), Offset(60));
  EXPECT_EQ(all_payloads(*log).size(), 60u);
}

TEST_F(LogRecoveryTest, MissingIndexesAreRebuiltIdentically) {
  LogOptions options{.segment_max_bytes = 700, .index_interval_bytes = 100};
  {
    auto log = must_open(options);
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(log->append(as_records(make_records(2, i * 7, "x", 40))).ok());
    ASSERT_GT(log->segment_count(), 3u);
  }
  const std::string index = std::string(kDir) + "/00000000000000000000.index";
  const std::string time_index = std::string(kDir) + "/00000000000000000000.timeindex";
  const std::string original = mem_.contents(index);
  const std::string original_time = mem_.contents(time_index);
  ASSERT_FALSE(original.empty());
  ASSERT_TRUE(mem_.remove_file(index).ok());
  auto log = must_open(options);
  EXPECT_EQ(mem_.contents(index), original);
  EXPECT_EQ(mem_.contents(time_index), original_time);
  EXPECT_EQ(all_payloads(*log).size(), 40u);
  EXPECT_EQ(*log->offset_at_time(7 * 10), Offset(20));
}

TEST_F(LogRecoveryTest, DamagedIndexIsRebuilt) {
  LogOptions options{.segment_max_bytes = 700, .index_interval_bytes = 100};
  {
    auto log = must_open(options);
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(log->append(as_records(make_records(2, i, "x", 40))).ok());
  }
  const std::string index = std::string(kDir) + "/00000000000000000000.index";
  const std::string original = mem_.contents(index);
  std::string damaged = original;
  damaged[damaged.size() / 2] ^= 0x08;
  mem_.set_contents(index, damaged);
  auto log = must_open(options);
  EXPECT_EQ(mem_.contents(index), original);
  EXPECT_EQ(all_payloads(*log).size(), 40u);
}

TEST_F(LogRecoveryTest, DamagedSealedSegmentStopsOpen) {
  LogOptions options{.segment_max_bytes = 700};
  {
    auto log = must_open(options);
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(log->append(as_records(make_records(2, i, "x", 40))).ok());
  }
  std::string bytes = mem_.contents(kFirstSegment);
  bytes[bytes.size() - 3] ^= 0x01;  // the last batch of a sealed segment: not a torn tail
  mem_.set_contents(kFirstSegment, bytes);
  ASSERT_TRUE(mem_.remove_file(std::string(kDir) + "/00000000000000000000.index").ok());
  auto log = open(options);
  EXPECT_TRUE(log.status().is_corruption()) << log.status();
}

TEST_F(LogRecoveryTest, ReadOfADamagedSealedSegmentIsCorruptionNotData) {
  LogOptions options{.segment_max_bytes = 700};
  {
    auto log = must_open(options);
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(log->append(as_records(make_records(2, i, "x", 40))).ok());
  }
  // The index is intact, so open trusts the sealed segment; the read must still notice.
  std::string bytes = mem_.contents(kFirstSegment);
  bytes[100] ^= 0x01;
  mem_.set_contents(kFirstSegment, bytes);
  auto log = must_open(options);
  auto r = log->read(Offset(0), ReadLimits{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_corruption());
  EXPECT_NE(r.status().message().find("00000000000000000000.log"), std::string_view::npos);
}

TEST_F(LogRecoveryTest, TornHeaderOfANewestEmptySegmentIsRewritten) {
  LogOptions options{.segment_max_bytes = 700};
  Offset end;
  {
    auto log = must_open(options);
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(log->append(as_records(make_records(2, i, "x", 40))).ok());
    end = log->end_offset();
  }
  // A crash while creating the next segment: its file exists with half a header.
  const std::string next = fmt::format("{}/{:020}.log", kDir, end.value());
  mem_.set_contents(next, std::string("SLUIC"));
  auto log = must_open(options);
  EXPECT_EQ(log->end_offset(), end);
  auto r = log->append(as_records(make_records(1, 0, "after")));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->base_offset, end);
}

TEST_F(LogRecoveryTest, LeftoverTemporaryFilesAreRemoved) {
  fill(1);
  mem_.set_contents(std::string(kDir) + "/00000000000000000000.index.tmp", "half");
  auto log = must_open();
  EXPECT_FALSE(mem_.exists(std::string(kDir) + "/00000000000000000000.index.tmp"));
}

TEST_F(LogRecoveryTest, SegmentOfAnotherFormatVersionIsRefused) {
  fill(1);
  std::string bytes = mem_.contents(kFirstSegment);
  // Version 2 with a valid header checksum: written by a newer sluice.
  std::byte header[kSegmentHeaderSize];
  encode_segment_header(SegmentHeader{2, Offset(0)}, header);
  bytes.replace(0, kSegmentHeaderSize, reinterpret_cast<const char*>(header), kSegmentHeaderSize);
  mem_.set_contents(kFirstSegment, bytes);
  auto log = open();
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("version"), std::string_view::npos) << log.status();
}

}  // namespace
}  // namespace sluice::storage
