#include "storage/batch_format.h"

#include "base/checksum.h"
#include "tests/storage/test_records.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::storage {
namespace {

using testing::as_records;
using testing::OwnedRecord;

// Flattens the parts of a write into the bytes that land on disk.
std::vector<std::byte> flatten(std::span<const ByteView> parts) {
  std::vector<std::byte> out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<RecordView> decode_all(const std::vector<std::byte>& bytes, Status* status = nullptr) {
  std::vector<RecordView> out;
  auto h = decode_batch_header(ByteView(bytes.data(), bytes.size()), FilePos(0));
  if (!h.ok()) {
    if (status) *status = h.status();
    return out;
  }
  Status s = verify_batch(*h, ByteView(bytes.data(), bytes.size()), FilePos(0));
  if (!s.ok()) {
    if (status) *status = s;
    return out;
  }
  s = for_each_record(*h, ByteView(bytes.data(), bytes.size()), FilePos(0),
                      [&](const RecordView& r) { out.push_back(r); });
  if (status) *status = s;
  return out;
}

TEST(BatchFormatTest, RoundTripsEveryField) {
  const std::vector<OwnedRecord> owned = {
      {"hello", "key-a", "", 1000},
      {"", "key-b", "340282366920938463463374607431768211455", 999},
      {std::string(5000, 'x'), "k", "", 2000},
  };
  const auto records = as_records(owned);
  BatchEncoder enc;
  enc.clear();
  enc.add(Offset(42), records);
  const auto bytes = flatten(enc.finish());
  ASSERT_EQ(bytes.size(), encoded_batch_bytes(records));
  ASSERT_EQ(enc.headers().size(), 1u);
  EXPECT_EQ(enc.headers()[0].max_timestamp_ms, 2000);
  EXPECT_EQ(enc.headers()[0].first_timestamp_ms, 1000);

  Status s;
  const auto views = decode_all(bytes, &s);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(views.size(), 3u);
  for (size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(views[i].offset, Offset(42 + i));
    EXPECT_EQ(as_string_view(views[i].payload), owned[i].payload);
    EXPECT_EQ(views[i].partition_key, owned[i].partition_key);
    EXPECT_EQ(views[i].explicit_hash_key, owned[i].explicit_hash_key);
    EXPECT_EQ(views[i].arrival_ms, owned[i].arrival_ms);
  }
}

TEST(BatchFormatTest, PayloadsAreReferencedNotCopied) {
  const std::vector<OwnedRecord> owned = {{std::string(100, 'p'), "k", "", 1}};
  const auto records = as_records(owned);
  BatchEncoder enc;
  enc.add(Offset(0), records);
  const auto parts = enc.finish();
  bool found = false;
  for (ByteView p : parts) found |= p.data() == records[0].payload.data();
  EXPECT_TRUE(found);
}

TEST(BatchFormatTest, SeveralBatchesInOneWriteDecodeOneAfterAnother) {
  const auto a = testing::make_records(3, 10, "a");
  const auto b = testing::make_records(2, 20, "b");
  BatchEncoder enc;
  enc.add(Offset(0), as_records(a));
  enc.add(Offset(3), as_records(b));
  const auto bytes = flatten(enc.finish());
  auto h1 = decode_batch_header(ByteView(bytes.data(), bytes.size()), FilePos(0));
  ASSERT_TRUE(h1.ok());
  EXPECT_EQ(h1->record_count, 3u);
  const ByteView first(bytes.data(), h1->batch_bytes);
  EXPECT_TRUE(verify_batch(*h1, first, FilePos(0)).ok());
  const ByteView rest(bytes.data() + h1->batch_bytes, bytes.size() - h1->batch_bytes);
  auto h2 = decode_batch_header(rest, FilePos(h1->batch_bytes));
  ASSERT_TRUE(h2.ok());
  EXPECT_EQ(h2->base_offset, Offset(3));
  EXPECT_TRUE(verify_batch(*h2, rest, FilePos(h1->batch_bytes)).ok());
}

TEST(BatchFormatTest, EveryFlippedByteIsDetected) {
  const auto owned = testing::make_records(2, 5, "flip", 20);
  BatchEncoder enc;
  enc.add(Offset(7), as_records(owned));
  const auto good = flatten(enc.finish());
  for (size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= std::byte{0x01};
    Status s;
    const auto views = decode_all(bad, &s);
    EXPECT_TRUE(s.is_corruption()) << "byte " << i << " flipped went unnoticed";
  }
}

TEST(BatchFormatTest, ImpossibleHeadersAreCorruptionNamingThePosition) {
  std::vector<std::byte> bytes(kBatchHeaderSize, std::byte{0});
  auto h = decode_batch_header(ByteView(bytes.data(), bytes.size()), FilePos(4096));
  ASSERT_TRUE(h.status().is_corruption());
  EXPECT_NE(h.status().message().find("4096"), std::string_view::npos);

  auto shorter = decode_batch_header(ByteView(bytes.data(), 10), FilePos(77));
  EXPECT_TRUE(shorter.status().is_corruption());
}

TEST(BatchFormatTest, LengthBeyondLimitIsRejected) {
  const auto owned = testing::make_records(1, 5, "x");
  BatchEncoder enc;
  enc.add(Offset(0), as_records(owned));
  auto bytes = flatten(enc.finish());
  store_le32(bytes.data() + 8, static_cast<uint32_t>(kMaxBatchBytes + 1));
  EXPECT_TRUE(decode_batch_header(ByteView(bytes.data(), bytes.size()), FilePos(0))
                  .status()
                  .is_corruption());
}

TEST(BatchFormatTest, ValidateRecordsEnforcesLimits) {
  EXPECT_EQ(validate_records({}).code(), Code::kInvalidArgument);
  std::string big(kMaxPayloadBytes + 1, 'b');
  std::vector<OwnedRecord> owned = {{big, "k", "", 0}};
  EXPECT_EQ(validate_records(as_records(owned)).code(), Code::kInvalidArgument);
  owned[0].payload.resize(kMaxPayloadBytes);
  EXPECT_TRUE(validate_records(as_records(owned)).ok());
  owned[0].partition_key.assign(kMaxPartitionKeyBytes + 1, 'k');
  EXPECT_EQ(validate_records(as_records(owned)).code(), Code::kInvalidArgument);
}

TEST(BatchFormatTest, SegmentHeaderRoundTripsAndRejectsDamage) {
  std::byte h[kSegmentHeaderSize];
  encode_segment_header(SegmentHeader{kSegmentFormatVersion, Offset(1042)}, h);
  auto decoded = decode_segment_header(ByteView(h, kSegmentHeaderSize));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->base_offset, Offset(1042));
  h[17] ^= std::byte{0x10};
  EXPECT_TRUE(decode_segment_header(ByteView(h, kSegmentHeaderSize)).status().is_corruption());
}

TEST(BatchFormatTest, FsyncPolicyNamesRoundTrip) {
  for (auto p : {FsyncPolicy::kAlways, FsyncPolicy::kGroup, FsyncPolicy::kNever}) {
    EXPECT_EQ(parse_fsync_policy(fsync_policy_name(p)), p);
  }
  EXPECT_FALSE(parse_fsync_policy("sometimes").has_value());
}

}  // namespace
}  // namespace sluice::storage

namespace sluice::storage {
namespace {

TEST(BatchFormatTest, ChecksumValidBatchThatDisagreesWithItsHeaderIsCorrupt) {
  const auto owned = testing::make_records(3, 100, "h");
  BatchEncoder enc;
  enc.add(Offset(0), testing::as_records(owned));
  auto bytes = flatten(enc.finish());
  auto h = decode_batch_header(ByteView(bytes.data(), bytes.size()), FilePos(0));
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(check_batch_records(*h, ByteView(bytes.data(), bytes.size()), FilePos(0)).ok());
  // Claim a larger max timestamp and re-seal: the checksum passes, the records do not agree.
  store_le64(bytes.data() + 40, 999);
  store_le64(bytes.data(), checksum(ByteView(bytes.data() + 8, bytes.size() - 8)));
  h = decode_batch_header(ByteView(bytes.data(), bytes.size()), FilePos(0));
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(verify_batch(*h, ByteView(bytes.data(), bytes.size()), FilePos(0)).ok());
  EXPECT_TRUE(
      check_batch_records(*h, ByteView(bytes.data(), bytes.size()), FilePos(0)).is_corruption());
}

}  // namespace
}  // namespace sluice::storage
