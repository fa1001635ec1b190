#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ASCII"));
  EXPECT_TRUE(valid_utf8("h\xc3\xa9"));             // U+00E9
  EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));          // U+20AC
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));      // U+1F600
  EXPECT_TRUE(valid_utf8(std::string("a\0b", 3)));  // NUL is a code point
  EXPECT_TRUE(valid_utf8(kUtf8Replacement));
}

TEST(Utf8Test, RefusesWhatIsNotUtf8) {
  EXPECT_FALSE(valid_utf8("\x80"));              // continuation byte alone
  EXPECT_FALSE(valid_utf8("\xc3"));              // truncated sequence
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8(std::string(100, 'a') + "\xfe"));  // past the first SIMD block
}

}  // namespace
}  // namespace sluice
