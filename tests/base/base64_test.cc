#include "base/base64.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <string_view>

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

TEST(Base64Test, AppendKeepsWhatTheBufferHeld) {
  std::string arena = "head";
  ASSERT_FALSE(base64_decode_append("Zm9v", arena).has_value());
  ASSERT_FALSE(base64_decode_append("", arena).has_value());
  ASSERT_FALSE(base64_decode_append("YmFyYg==", arena).has_value());
  EXPECT_EQ(arena, "headfoobarb");
  // A failure anywhere (first groups, last group, length) leaves the size as it was.
  for (const std::string_view bad : {"ab!cZm9v", "Zm9vab!c", "Zm9vZh==", "Zm9", "Zg==Zm9v"}) {
    EXPECT_TRUE(base64_decode_append(bad, arena).has_value()) << bad;
    EXPECT_EQ(arena, "headfoobarb") << bad;
  }
}

// The rules of Base64Failure, one character at a time: what every decoder path must report.
std::optional<Base64Failure> reference_check(std::string_view text) {
  using Kind = Base64Failure::Kind;
  if (text.size() % 4 != 0) return Base64Failure{Kind::kLength};
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  bool seen_pad = false;
  for (const char c : text) {
    if (c == '=') {
      seen_pad = true;
    } else if (alphabet.find(c) == std::string_view::npos || seen_pad) {
      return Base64Failure{Kind::kCharacter, c};
    }
  }
  const size_t pad = text.size() - (text.find_last_not_of('=') + 1);
  if (pad > 2) return Base64Failure{Kind::kNonCanonical};
  if (pad > 0 && text.size() >= 4) {
    const size_t last = alphabet.find(text[text.size() - pad - 1]);
    if ((pad == 1 && (last & 3) != 0) || (pad == 2 && (last & 15) != 0)) {
      return Base64Failure{Kind::kNonCanonical};
    }
  }
  return std::nullopt;
}

TEST(Base64Test, DamagedTextsFailAsTheReferenceSays) {
  // Valid texts with one or two characters replaced (by '=', '!', a letter, a NUL): the
  // fast path over whole groups and the character-by-character path must agree.
  std::mt19937 rng(11);
  const std::string replacements = std::string("=!A/z\xff", 6) + std::string(1, '\0');
  for (int round = 0; round < 4000; ++round) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    std::string text = base64_encode(as_bytes(bytes));
    const int damage = round % 3;  // 0: intact
    for (int k = 0; k < damage && !text.empty(); ++k) {
      text[rng() % text.size()] = replacements[rng() % replacements.size()];
    }
    if (round % 7 == 0 && !text.empty()) text.pop_back();
    const auto want = reference_check(text);
    std::string out = "x";
    const auto got = base64_decode_append(text, out);
    ASSERT_EQ(got.has_value(), want.has_value()) << text;
    if (got) {
      EXPECT_EQ(got->kind, want->kind) << text;
      EXPECT_EQ(got->character, want->character) << text;
      EXPECT_EQ(out, "x") << text;
    } else {
      // An accepted text is canonical: it re-encodes to itself.
      EXPECT_EQ(base64_encode(as_bytes(std::string_view(out).substr(1))), text);
    }
  }
}

}  // namespace
}  // namespace sluice
