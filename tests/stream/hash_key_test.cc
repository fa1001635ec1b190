#include "stream/hash_key.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::stream {
namespace {

std::vector<std::pair<std::string, std::string>> division(uint32_t n) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const HashKeyRange& r : divide_hash_space(n)) {
    out.emplace_back(format_hash_key(r.starting), format_hash_key(r.ending));
  }
  return out;
}

TEST(HashKeyTest, FormatsAndParsesTheExtremes) {
  EXPECT_EQ(format_hash_key(0), "0");
  EXPECT_EQ(format_hash_key(kMaxHashKey), "340282366920938463463374607431768211455");
  EXPECT_TRUE(parse_hash_key("340282366920938463463374607431768211455") == kMaxHashKey);
  EXPECT_TRUE(parse_hash_key("0") == HashKey{0});
  EXPECT_TRUE(parse_hash_key("007") == HashKey{7});
}

TEST(HashKeyTest, RejectsValuesAboveTwoToThe128MinusOneAndNonDigits) {
  EXPECT_FALSE(parse_hash_key("340282366920938463463374607431768211456").has_value());  // 2^128
  EXPECT_FALSE(parse_hash_key("3402823669209384634633746074317682114550").has_value());
  EXPECT_FALSE(parse_hash_key("").has_value());
  EXPECT_FALSE(parse_hash_key("-1").has_value());
  EXPECT_FALSE(parse_hash_key("+1").has_value());
  EXPECT_FALSE(parse_hash_key("1e5").has_value());
  EXPECT_FALSE(parse_hash_key(" 1").has_value());
}

TEST(HashKeyTest, RoundTripsRandomValues) {
  HashKey v = 1;
  for (int i = 0; i < 200; ++i) {
    v = v * 6364136223846793005ull + 1442695040888963407ull;  // 128-bit LCG, wraps
    auto back = parse_hash_key(format_hash_key(v));
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(*back == v) << format_hash_key(v);
  }
}

// Spec 5.3 worked values.
TEST(HashKeyTest, Spec5_3_ThreeShardDivision) {
  const std::vector<std::pair<std::string, std::string>> want = {
      {"0", "113427455640312821154458202477256070484"},
      {"113427455640312821154458202477256070485", "226854911280625642308916404954512140969"},
      {"226854911280625642308916404954512140970", "340282366920938463463374607431768211455"},
  };
  EXPECT_EQ(division(3), want);
}

TEST(HashKeyTest, Spec5_3_FourShardBoundaries) {
  const auto d = division(4);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].first, "0");
  EXPECT_EQ(d[1].first, "85070591730234615865843651857942052864");
  EXPECT_EQ(d[2].first, "170141183460469231731687303715884105728");
  EXPECT_EQ(d[3].first, "255211775190703847597530955573826158592");
  EXPECT_EQ(d[0].second, "85070591730234615865843651857942052863");
  EXPECT_EQ(d[3].second, "340282366920938463463374607431768211455");
}

TEST(HashKeyTest, OneShardCoversEverythingAndFiveShardsUseFloorStep) {
  EXPECT_EQ(division(1), (std::vector<std::pair<std::string, std::string>>{
                             {"0", "340282366920938463463374607431768211455"}}));
  const auto d = division(5);  // floor(2^128 / 5) = 68056473384187692692674921486353642291
  EXPECT_EQ(d[1].first, "68056473384187692692674921486353642291");
  EXPECT_EQ(d[4].first, "272225893536750770770699685945414569164");
  EXPECT_EQ(d[4].second, "340282366920938463463374607431768211455");
}

TEST(HashKeyTest, DivisionIsContiguousAndComplete) {
  for (uint32_t n : {1u, 2u, 3u, 7u, 16u, 100u, 1000u, 4097u}) {
    const auto ranges = divide_hash_space(n);
    ASSERT_EQ(ranges.size(), n);
    EXPECT_TRUE(ranges.front().starting == 0);
    EXPECT_TRUE(ranges.back().ending == kMaxHashKey);
    for (size_t i = 1; i < n; ++i) {
      EXPECT_TRUE(ranges[i].starting == ranges[i - 1].ending + 1) << n << " " << i;
      EXPECT_TRUE(ranges[i].starting <= ranges[i].ending);
    }
  }
}

// MD5 values pinned with Python: int(hashlib.md5(k.encode()).hexdigest(), 16).
TEST(HashKeyTest, PartitionKeyHashIsBigEndianMd5) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"a", "16955237001963240173058271559858726497"},       // 0cc175b9...
      {"b", "195289424170611159128911017612795795343"},      // 92eb5ffe...
      {"e", "299611584147932843547128611849858313266"},      // e1671797...
      {"f", "190917122200326810055233066464581373159"},      // 8fa14cdd...
      {"orders", "24949005185884340550514182707680296583"},  // 12c500ed...
      {"", "281949768489412648962353822266799178366"},       // d41d8cd9...
      {"hello", "123957004363873451094272536567338222994"},  // 5d41402a...
  };
  for (const auto& [key, want] : vectors) {
    EXPECT_EQ(format_hash_key(partition_key_hash(key)), want) << "key '" << key << "'";
  }
}

// Spec 5.4 worked examples: which of three even shards each key lands in.
TEST(HashKeyTest, Spec5_4_RoutingExamples) {
  const auto ranges = divide_hash_space(3);
  auto shard_of = [&](std::string_view key) {
    const HashKey h = partition_key_hash(key);
    for (size_t i = 0; i < ranges.size(); ++i) {
      if (ranges[i].contains(h)) return static_cast<int>(i);
    }
    return -1;
  };
  EXPECT_EQ(shard_of("a"), 0);
  EXPECT_EQ(shard_of("b"), 1);
  EXPECT_EQ(shard_of("e"), 2);
  EXPECT_EQ(shard_of("f"), 1);
}

}  // namespace
}  // namespace sluice::stream
