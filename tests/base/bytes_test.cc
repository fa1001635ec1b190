#include "base/bytes.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace sluice {
namespace {

template <size_t N>
std::array<uint8_t, N> as_u8(const std::array<std::byte, N>& b) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<uint8_t>(b[i]);
  return out;
}

TEST(BytesTest, Le16StoresLeastSignificantByteFirst) {
  std::array<std::byte, 2> buf{};
  store_le16(buf.data(), 0x1234);
  EXPECT_EQ(as_u8(buf), (std::array<uint8_t, 2>{0x34, 0x12}));
  EXPECT_EQ(load_le16(buf.data()), 0x1234);
}

TEST(BytesTest, Le32StoresLeastSignificantByteFirst) {
  std::array<std::byte, 4> buf{};
  store_le32(buf.data(), 0x12345678u);
  EXPECT_EQ(as_u8(buf), (std::array<uint8_t, 4>{0x78, 0x56, 0x34, 0x12}));
  EXPECT_EQ(load_le32(buf.data()), 0x12345678u);
}

TEST(BytesTest, Le64StoresLeastSignificantByteFirst) {
  std::array<std::byte, 8> buf{};
  store_le64(buf.data(), 0x0102030405060708ull);
  EXPECT_EQ(as_u8(buf), (std::array<uint8_t, 8>{0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
  EXPECT_EQ(load_le64(buf.data()), 0x0102030405060708ull);
}

TEST(BytesTest, LoadsReadHighBytesWithoutSignExtension) {
  const std::array<std::byte, 8> ff = {std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                                       std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                                       std::byte{0xff}, std::byte{0x80}};
  EXPECT_EQ(load_le16(ff.data()), 0xffffu);
  EXPECT_EQ(load_le32(ff.data()), 0xffffffffu);
  EXPECT_EQ(load_le64(ff.data()), 0x80ffffffffffffffull);
}

TEST(BytesTest, StoresWriteOnlyTheirWidth) {
  std::array<std::byte, 10> buf;
  buf.fill(std::byte{0xee});
  store_le16(buf.data() + 1, 0xffff);
  EXPECT_EQ(buf[0], std::byte{0xee});
  EXPECT_EQ(buf[3], std::byte{0xee});
  buf.fill(std::byte{0xee});
  store_le32(buf.data() + 1, 0);
  EXPECT_EQ(buf[0], std::byte{0xee});
  EXPECT_EQ(buf[5], std::byte{0xee});
  buf.fill(std::byte{0xee});
  store_le64(buf.data() + 1, 0);
  EXPECT_EQ(buf[0], std::byte{0xee});
  EXPECT_EQ(buf[9], std::byte{0xee});
}

TEST(BytesTest, RandomValuesRoundTripAtUnalignedAddresses) {
  std::mt19937_64 rng(1);
  std::array<std::byte, 17> buf{};
  for (int i = 0; i < 1000; ++i) {
    const uint64_t v = rng();
    const size_t at = static_cast<size_t>(i % 9);
    store_le16(buf.data() + at, static_cast<uint16_t>(v));
    EXPECT_EQ(load_le16(buf.data() + at), static_cast<uint16_t>(v));
    store_le32(buf.data() + at, static_cast<uint32_t>(v));
    EXPECT_EQ(load_le32(buf.data() + at), static_cast<uint32_t>(v));
    store_le64(buf.data() + at, v);
    EXPECT_EQ(load_le64(buf.data() + at), v);
  }
}

TEST(BytesTest, ExtremeValuesRoundTrip) {
  std::array<std::byte, 8> buf{};
  for (uint64_t v :
       {uint64_t{0}, uint64_t{1}, std::numeric_limits<uint64_t>::max(), uint64_t{1} << 63}) {
    store_le64(buf.data(), v);
    EXPECT_EQ(load_le64(buf.data()), v);
  }
  for (uint32_t v : {0u, 1u, std::numeric_limits<uint32_t>::max(), 1u << 31}) {
    store_le32(buf.data(), v);
    EXPECT_EQ(load_le32(buf.data()), v);
  }
  for (uint16_t v : {uint16_t{0}, uint16_t{1}, uint16_t{0xffff}, uint16_t{0x8000}}) {
    store_le16(buf.data(), v);
    EXPECT_EQ(load_le16(buf.data()), v);
  }
}

TEST(BytesTest, StringViewsRoundTripThroughByteViews) {
  const std::string s("a\0b", 3);
  const ByteView b = as_bytes(s);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(static_cast<const void*>(b.data()), static_cast<const void*>(s.data()));
  EXPECT_EQ(b[1], std::byte{0});
  EXPECT_EQ(as_string_view(b), s);
  EXPECT_TRUE(as_bytes(std::string_view()).empty());
}

}  // namespace
}  // namespace sluice
