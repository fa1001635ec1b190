#include "storage/segment_index.h"

#include <gtest/gtest.h>

namespace sluice::storage {
namespace {

SegmentSummary sample() {
  SegmentSummary s;
  s.base_offset = Offset(100);
  s.next_offset = Offset(160);
  s.valid_bytes = 9000;
  s.first_timestamp_ms = 5;
  s.max_timestamp_ms = 70;
  s.entries = {{0, 32, kNoTimestamp}, {20, 3000, 30}, {41, 6100, 50}};
  return s;
}

TEST(SegmentIndexTest, RoundTrips) {
  const SegmentSummary s = sample();
  auto back = decode_indexes(encode_offset_index(s), encode_time_index(s), Offset(100), 9000);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
}

TEST(SegmentIndexTest, AnyFlippedByteIsDamage) {
  const SegmentSummary s = sample();
  const std::string off = encode_offset_index(s);
  const std::string tim = encode_time_index(s);
  for (size_t i = 0; i < off.size(); ++i) {
    std::string bad = off;
    bad[i] = static_cast<char>(bad[i] ^ 0x04);
    EXPECT_FALSE(decode_indexes(bad, tim, Offset(100), 9000).ok()) << "offset index byte " << i;
  }
  for (size_t i = 0; i < tim.size(); ++i) {
    std::string bad = tim;
    bad[i] = static_cast<char>(bad[i] ^ 0x04);
    EXPECT_FALSE(decode_indexes(off, bad, Offset(100), 9000).ok()) << "time index byte " << i;
  }
}

TEST(SegmentIndexTest, IndexOfAnotherSizeOrBaseIsRejected) {
  const SegmentSummary s = sample();
  EXPECT_FALSE(
      decode_indexes(encode_offset_index(s), encode_time_index(s), Offset(100), 9001).ok());
  EXPECT_FALSE(decode_indexes(encode_offset_index(s), encode_time_index(s), Offset(99), 9000).ok());
  EXPECT_FALSE(
      decode_indexes(encode_offset_index(s).substr(0, 40), encode_time_index(s), Offset(100), 9000)
          .ok());
}

TEST(SegmentIndexTest, FindsTheEntryAtOrBeforeAnOffset) {
  const SegmentSummary s = sample();
  EXPECT_EQ(find_entry_for_offset(s, Offset(100)), 0u);
  EXPECT_EQ(find_entry_for_offset(s, Offset(119)), 0u);
  EXPECT_EQ(find_entry_for_offset(s, Offset(120)), 1u);
  EXPECT_EQ(find_entry_for_offset(s, Offset(159)), 2u);
}

TEST(SegmentIndexTest, FindsTheLastEntryWhosePastIsOlderThanTheTime) {
  const SegmentSummary s = sample();
  EXPECT_EQ(find_entry_for_time(s, 0), 0u);
  EXPECT_EQ(find_entry_for_time(s, 30), 0u);  // the record with ts 30 may be before entry 1
  EXPECT_EQ(find_entry_for_time(s, 31), 1u);
  EXPECT_EQ(find_entry_for_time(s, 51), 2u);
}

}  // namespace
}  // namespace sluice::storage
