#include "base/checksum.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace sluice {
namespace {

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

// Cuts `data` at `cuts` random places (empty parts included) into views of it.
std::vector<ByteView> random_split(std::mt19937& rng, std::string_view data, int cuts) {
  std::uniform_int_distribution<size_t> at(0, data.size());
  std::vector<size_t> points = {0, data.size()};
  for (int i = 0; i < cuts; ++i) points.push_back(at(rng));
  std::sort(points.begin(), points.end());
  std::vector<ByteView> parts;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    parts.push_back(as_bytes(data.substr(points[i], points[i + 1] - points[i])));
  }
  return parts;
}

// XXH3_64bits("sluice"), computed once with libxxhash 0.8.1. A change here breaks every
// checksum already on disk (docs/formats/).
TEST(ChecksumTest, MatchesPinnedXxh3Vector) {
  EXPECT_EQ(checksum(as_bytes("sluice")), 0x7e13095f1588691dull);
}

TEST(ChecksumTest, EmptyInputMatchesXxh3OfNothing) {
  EXPECT_EQ(checksum(ByteView()), 0x2d06800538d394c2ull);
  EXPECT_EQ(checksum(std::span<const ByteView>()), 0x2d06800538d394c2ull);
}

TEST(ChecksumTest, SinglePartEqualsMultiPartOverTheSameBytesForRandomSplits) {
  std::mt19937 rng(7);
  // Sizes around XXH3's internal thresholds (16, 128, 240 bytes, 1 KiB stripes, 64 B blocks).
  for (size_t size : {0, 1, 3, 15, 16, 17, 128, 129, 240, 241, 1023, 1024, 1025, 5000, 70000}) {
    const std::string data = random_bytes(rng, size);
    const uint64_t whole = checksum(as_bytes(data));
    for (int trial = 0; trial < 20; ++trial) {
      SCOPED_TRACE(testing::Message() << "size=" << size << " trial=" << trial);
      const auto parts = random_split(rng, data, 1 + trial % 7);
      EXPECT_EQ(checksum(parts), whole);
    }
  }
}

TEST(ChecksumTest, OnePartEqualsTheSingleViewForm) {
  const ByteView one = as_bytes("sluice");
  EXPECT_EQ(checksum(std::span<const ByteView>(&one, 1)), checksum(one));
}

TEST(ChecksumTest, EmptyPartsChangeNothing) {
  const std::vector<ByteView> parts = {ByteView(), as_bytes("slu"), ByteView(), as_bytes("ice"),
                                       ByteView()};
  EXPECT_EQ(checksum(parts), checksum(as_bytes("sluice")));
}

TEST(ChecksumTest, EveryOneBitFlipChangesIt) {
  std::mt19937 rng(11);
  for (size_t size : {1, 8, 100, 300, 2000}) {
    std::string data = random_bytes(rng, size);
    const uint64_t before = checksum(as_bytes(data));
    for (size_t bit = 0; bit < size * 8; bit += (size > 100 ? 13 : 1)) {
      data[bit / 8] = static_cast<char>(data[bit / 8] ^ (1 << (bit % 8)));
      EXPECT_NE(checksum(as_bytes(data)), before) << "size=" << size << " bit=" << bit;
      data[bit / 8] = static_cast<char>(data[bit / 8] ^ (1 << (bit % 8)));
    }
    EXPECT_EQ(checksum(as_bytes(data)), before);
  }
}

TEST(ChecksumTest, MovingBytesBetweenPartsDoesNotChangeIt) {
  const std::vector<ByteView> a = {as_bytes("ab"), as_bytes("cd")};
  const std::vector<ByteView> b = {as_bytes("a"), as_bytes("bcd")};
  EXPECT_EQ(checksum(a), checksum(b));
  const std::vector<ByteView> swapped = {as_bytes("cd"), as_bytes("ab")};
  EXPECT_NE(checksum(a), checksum(swapped));
}

}  // namespace
}  // namespace sluice
