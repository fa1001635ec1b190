#include "stream/sequence_number.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sluice::stream {
namespace {

// Numeric comparison of decimal strings without leading zeros.
bool less_decimal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

// Spec 6.2 example.
TEST(SequenceNumberTest, Spec6_2_EncodesTheWorkedExample) {
  const auto s = encode_sequence_number({1700000000, 0, 1, 1700000005});
  EXPECT_EQ(s.view(), "49646437577108476416916876405827138351405044649047359490");
  EXPECT_EQ(s.view().size(), 56u);
}

TEST(SequenceNumberTest, Spec9_3_StartingSequenceNumberOfTheDescribeExample) {
  EXPECT_EQ(encode_sequence_number({1700000000, 0, 0, 1700000000}).view(),
            "49646437577108476416916876405825929425585429676275269634");
}

// Spec 6.2: shards 0 and 1 of one stream start 2^144 + 16 apart.
TEST(SequenceNumberTest, Spec6_2_StartsOfShardZeroAndOneDifferByTwoToThe144PlusSixteen) {
  const auto s0 = encode_sequence_number({1700000000, 0, 0, 1700000000}).str();
  const auto s1 = encode_sequence_number({1700000000, 1, 0, 1700000000}).str();
  // 49646437577108476416916876405825929425585429676275269634 + 2^144 + 16
  EXPECT_EQ(s1, "49646437577130777162115407028967465143858078037781250066");
  EXPECT_TRUE(less_decimal(s0, s1));
}

TEST(SequenceNumberTest, EndingNumberCarriesTheMaximumCounter) {
  EXPECT_EQ(encode_sequence_number({1700000000, 0, kMaxSequenceCounter, 1700000100}).view(),
            "49646437577119626789516141717395488358902146099801227266");
}

TEST(SequenceNumberTest, RoundTripsThroughTheParser) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    SequenceFields f;
    f.creation_s = static_cast<int64_t>(rng() % 16'000'000'000ull);
    f.shard_index = static_cast<int32_t>(rng() % 2'147'483'648ull);
    f.counter = rng() & kMaxSequenceCounter;
    f.arrival_s = static_cast<int64_t>(rng() % 68'000'000'000ull);
    const auto text = encode_sequence_number(f);
    auto p = parse_sequence_number(text.view());
    ASSERT_TRUE(p.ok()) << text.view() << ": " << p.status();
    EXPECT_EQ(p->version, 2);
    EXPECT_EQ(p->creation_s, f.creation_s);
    EXPECT_EQ(p->shard_index, f.shard_index);
    EXPECT_EQ(p->counter, f.counter);
    EXPECT_EQ(p->arrival_s, f.arrival_s);
  }
}

TEST(SequenceNumberTest, GrowsStrictlyWithTheCounterWhateverTheArrivalTime) {
  std::string prev = encode_sequence_number({1700000000, 3, 0, 1700000000}).str();
  for (uint64_t c = 1; c < 300; ++c) {
    // Arrival may even go back a little; the counter decides the order.
    const auto s =
        encode_sequence_number({1700000000, 3, c * 977, 1700009999 - static_cast<int64_t>(c)})
            .str();
    EXPECT_TRUE(less_decimal(prev, s)) << prev << " !< " << s;
    prev = s;
  }
  EXPECT_TRUE(
      less_decimal(prev, encode_sequence_number({1700000000, 3, kMaxSequenceCounter, 0}).str()));
}

// Spec 9.7 test 8: the hex shape for small shard indices.
// The run encoder must give exactly what the full encoding gives: runs of consecutive
// counters (where it adds in decimal), counters whose hex digits all roll over, the largest
// counters, and breaks in the run (other shard, other second, a gap, a step back).
TEST(SequenceNumberTest, RunEncoderAgreesWithTheFullEncoding) {
  std::mt19937_64 rng(7);
  SequenceNumberEncoder encoder;
  auto check = [&](const SequenceFields& f) {
    ASSERT_EQ(encoder.encode(f).view(), encode_sequence_number(f).view())
        << f.creation_s << " " << f.shard_index << " " << f.counter << " " << f.arrival_s;
  };
  const std::vector<uint64_t> starts = {
      0, 1, 14, 255, 0xFFFFF, 4095, 999'999'999, kMaxSequenceCounter - 40, 1u << 31};
  for (const uint64_t start : starts) {
    for (uint64_t c = start; c < start + 40 && c <= kMaxSequenceCounter; ++c) {
      check({1'700'000'000, 3, c, 1'700'000'123});
    }
  }
  for (int i = 0; i < 20000; ++i) {
    SequenceFields f{static_cast<int64_t>(rng() % (int64_t{1} << 36)),
                     static_cast<int32_t>(rng() % 300), rng() % (kMaxSequenceCounter + 1),
                     static_cast<int64_t>(rng() % (int64_t{1} << 36))};
    const int run = static_cast<int>(rng() % 5);
    for (int k = 0; k <= run && f.counter <= kMaxSequenceCounter; ++k, ++f.counter) check(f);
    if (rng() % 3 == 0 && f.counter > 2) {
      f.counter -= 2;  // a step back: encoded in full
      check(f);
    }
  }
}

TEST(SequenceNumberTest, EncoderRunsCarryingOutOfTheRewrittenDigits) {
  // Counter 1457432228797443179 gives ...964199999998791074180407180669222962: the next
  // number carries out of the last 32 digits, the ones a run rewrites in place.
  const SequenceFields base{1'700'000'000, 3, 1'457'432'228'797'443'179, 1'700'000'123};
  ASSERT_EQ(encode_sequence_number(base).view(),
            "49646437577177140579964199999998791074180407180669222962");
  SequenceNumberEncoder encoder;
  std::vector<SequenceNumberText> outs(8);
  for (uint64_t k = 0; k < outs.size(); ++k) {
    SequenceFields f = base;
    f.counter = base.counter - 3 + k;
    encoder.encode_to(f, outs[k]);
    ASSERT_EQ(outs[k].view(), encode_sequence_number(f).view()) << k;
  }
  EXPECT_EQ(outs[4].view(), "49646437577177140579964200000000000000000021809843929138");
  // Earlier outputs are untouched by later calls.
  EXPECT_EQ(outs[3].view(), encode_sequence_number(base).view());
}

TEST(SequenceNumberTest, Spec9_7_Test8_HexShape) {
  // 2, creation 065...(9), index nibble, counter (16), 00, arrival (9), 0000000<ix>, 2.
  const auto p =
      parse_sequence_number(encode_sequence_number({1700000000, 5, 77, 1700000003}).view());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->shard_index, 5);
  EXPECT_EQ(p->counter, 77u);
}

// Spec 6.5 worked cases.
TEST(SequenceNumberTest, Spec6_5_TwoFollowedByZerosIsNotAboveTwoToThe185) {
  EXPECT_FALSE(
      parse_sequence_number("49039857307708443467467104868809893875799651909875269632").ok());
}

TEST(SequenceNumberTest, Spec6_5_VersionsThreeAndFourAreInvalid) {
  EXPECT_FALSE(
      parse_sequence_number("49039857307708443467467104868809893875799651909875269635").ok());
  EXPECT_FALSE(
      parse_sequence_number("49039857307708443467467104868809893875799651909875269636").ok());
}

TEST(SequenceNumberTest, Spec6_5_LeadingDigitThreeIsInvalid) {
  EXPECT_FALSE(
      parse_sequence_number("73559785961562665201200657303214840813699477864812904450").ok());
}

TEST(SequenceNumberTest, Spec6_5_LeadingOneFFIsInvalid) {
  EXPECT_FALSE(
      parse_sequence_number("48944076336404325413819708179612999551823480714738794498").ok());
}

TEST(SequenceNumberTest, Spec6_5_DateTooLargeIsInvalid) {
  auto p = parse_sequence_number("73559785961205853278024167332950269321337104080717217794");
  ASSERT_FALSE(p.ok());
  // '2' followed by fffffffff in the creation field: date too large.
  EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
}

TEST(SequenceNumberTest, Spec6_5_CounterNibbleEightIsInvalid) {
  auto p = parse_sequence_number("784637716923513501441061922886090587758975617450052157442");
  EXPECT_FALSE(p.ok());
}

TEST(SequenceNumberTest, Spec6_5_AllZeroFieldsWithVersionOneOrTwoAreValid) {
  auto v1 = parse_sequence_number("49039857307708443467467104868809893875799651909875269633");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version, 1);
  auto v2 = parse_sequence_number("49039857307708443467467104868809893875799651909875269634");
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->shard_index, 0);
  EXPECT_EQ(v2->counter, 0u);
}

TEST(SequenceNumberTest, Spec6_5_VersionZeroInTheLongFormIsLegacy) {
  // hex 2000000001 + zeros, digits 28-31 = 0007, version nibble 0.
  auto p = parse_sequence_number("49039857308065255390643594839074465376232476226218885120");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->version, 0);
  EXPECT_EQ(p->creation_s, 1);
  EXPECT_EQ(p->shard_index, 7);
}

TEST(SequenceNumberTest, Spec6_5_NegativeShardIndex) {
  auto p = parse_sequence_number("49039857307708443467467104868809893875799651944235008002");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->shard_index, -2147483647 - 1);
}

TEST(SequenceNumberTest, Spec6_5_SmallDecimalsAreLegacyFormatZero) {
  auto five = parse_sequence_number("5");
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(five->version, 0);
  EXPECT_EQ(five->shard_index, 5);
  auto zero = parse_sequence_number("0");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->version, 0);
  EXPECT_EQ(zero->shard_index, 0);
}

TEST(SequenceNumberTest, Spec6_5_LegacyWithCreationAtTheLimitIsInvalid) {
  // hex 13bb2cc3d80000000000000000000000: creation digits 3bb2cc3d8 = 16025175000.
  EXPECT_FALSE(parse_sequence_number("26227199374822427428162556223570313216").ok());
}

TEST(SequenceNumberTest, RejectsWhatIsNotADecimalNumber) {
  EXPECT_FALSE(parse_sequence_number("").ok());
  EXPECT_FALSE(parse_sequence_number("012").ok());
  EXPECT_FALSE(parse_sequence_number("12a").ok());
  EXPECT_FALSE(parse_sequence_number("-5").ok());
  EXPECT_FALSE(parse_sequence_number(std::string(130, '9')).ok());
  EXPECT_FALSE(parse_sequence_number(std::string(129, '9')).ok());  // far above 3 * 2^184
}

}  // namespace
}  // namespace sluice::stream
