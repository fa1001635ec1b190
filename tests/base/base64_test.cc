#include "base/base64.h"

#include <gtest/gtest.h>

#include <random>

namespace sluice {
namespace {

TEST(Base64Test, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(as_bytes("")), "");
  EXPECT_EQ(base64_encode(as_bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(as_bytes("foobar")), "Zm9vYmFy");
}

TEST(Base64Test, RandomBytesRoundTrip) {
  std::mt19937 rng(7);
  for (size_t n = 0; n < 300; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    std::string back;
    ASSERT_FALSE(base64_decode(base64_encode(as_bytes(bytes)), back).has_value()) << n;
    EXPECT_EQ(back, bytes);
  }
}

TEST(Base64Test, RejectsInOrderLengthCharacterPadding) {
  std::string out;
  EXPECT_EQ(base64_decode("abc", out)->kind, Base64Failure::Kind::kLength);
  auto bad_char = base64_decode("ab!c", out);
  ASSERT_TRUE(bad_char);
  EXPECT_EQ(bad_char->kind, Base64Failure::Kind::kCharacter);
  EXPECT_EQ(bad_char->character, '!');
  EXPECT_EQ(base64_decode("Zg=a", out)->kind, Base64Failure::Kind::kCharacter);  // after '='
  EXPECT_EQ(base64_decode("Z===", out)->kind, Base64Failure::Kind::kNonCanonical);
  EXPECT_EQ(base64_decode("Zh==", out)->kind, Base64Failure::Kind::kNonCanonical);  // bits set
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sluice
