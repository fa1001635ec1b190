#include "stream/internal/tokens.h"

#include "stream/internal/crypto.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::stream::internal {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";

IteratorPayload payload(std::string name = "orders") {
  IteratorPayload p;
  p.issued_ms = 1'700'000'000'123;
  p.stream = StreamKey{"000000000000", "us-east-1", std::move(name)};
  p.incarnation = 42;
  p.shard_index = 7;
  p.position = LogOffset(123456789);
  return p;
}

TEST(ShardIteratorTest, RoundTrips) {
  const std::string text = encode_shard_iterator(payload(), as_bytes(kSecret));
  auto back = decode_shard_iterator(text, as_bytes(kSecret));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, payload());
}

// Spec 7.2 structure and 9.9 test 8 (names of 29 and 30 characters), up to 128.
TEST(ShardIteratorTest, Spec7_2_StructureHoldsForAllNameLengths) {
  for (size_t len : {1u, 29u, 30u, 64u, 100u, 128u}) {
    const std::string text =
        encode_shard_iterator(payload(std::string(len, 'n')), as_bytes(kSecret));
    EXPECT_LE(text.size(), 512u);
    auto raw = base64_decode(text);
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(base64_encode(as_bytes(*raw)), text);  // canonical
    EXPECT_GE(raw->size(), 152u);
    EXPECT_EQ((raw->size() - 152) % 16, 0u) << len;
    EXPECT_EQ(raw->substr(0, 8), std::string("\0\0\0\0\0\0\0\1", 8));
  }
  const std::string longest = encode_shard_iterator(
      {1, {std::string(64, 'a'), std::string(64, 'r'), std::string(128, 'n')}, 1, 1, LogOffset(1)},
      as_bytes(kSecret));
  EXPECT_LE(longest.size(), 512u);
}

TEST(ShardIteratorTest, EveryFlippedByteIsRejected) {
  const std::string text = encode_shard_iterator(payload(), as_bytes(kSecret));
  const std::string raw = *base64_decode(text);
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string bad = raw;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    auto r = decode_shard_iterator(base64_encode(as_bytes(bad)), as_bytes(kSecret));
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "Invalid ShardIterator.");
  }
}

TEST(ShardIteratorTest, AnotherSecretIsRejected) {
  const std::string text = encode_shard_iterator(payload(), as_bytes(kSecret));
  EXPECT_FALSE(decode_shard_iterator(text, as_bytes(std::string(32, 'x'))).ok());
}

TEST(ShardIteratorTest, Spec7_1_OnePairOfQuotesIsStripped) {
  const std::string text = encode_shard_iterator(payload(), as_bytes(kSecret));
  EXPECT_TRUE(decode_shard_iterator("\"" + text + "\"", as_bytes(kSecret)).ok());
  EXPECT_FALSE(decode_shard_iterator("\"\"" + text + "\"\"", as_bytes(kSecret)).ok());
}

TEST(ShardIteratorTest, GarbageIsInvalid) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "AAAA", "random-string",
                                "AAAAAAAAAAE=", std::string(400, 'A'), std::string(512, '/')}) {
    EXPECT_EQ(decode_shard_iterator(s, as_bytes(kSecret)).status().message(),
              "Invalid ShardIterator.")
        << s;
  }
}

TEST(ShardIteratorTest, NonCanonicalBase64IsRejected) {
  std::string text = encode_shard_iterator(payload(), as_bytes(kSecret));
  // The decoded size is a multiple of 8, never of 3, so the text ends in padding; the last
  // data symbol carries unused bits, which canonical base64 leaves zero.
  ASSERT_EQ(text.back(), '=');
  const size_t last = text.find_last_not_of('=');
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const size_t v = alphabet.find(text[last]);
  text[last] = alphabet[v ^ 1];  // flips an unused low bit
  EXPECT_FALSE(base64_decode(text).has_value());
  EXPECT_FALSE(decode_shard_iterator(text, as_bytes(kSecret)).ok());
}

TEST(TokenTest, SealedTokensRoundTripAndResistTampering) {
  const std::vector<std::string> fields = {"1700000000000", "acct", "", "x"};
  const std::string t = seal_token("ListShards", fields, as_bytes(kSecret));
  auto back = open_token("ListShards", t, as_bytes(kSecret));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, fields);
  EXPECT_FALSE(open_token("ListStreams", t, as_bytes(kSecret)).ok());
  std::string bad = *base64_decode(t);
  bad[3] ^= 1;
  EXPECT_FALSE(open_token("ListShards", base64_encode(as_bytes(bad)), as_bytes(kSecret)).ok());
  EXPECT_FALSE(open_token("ListShards", "!!", as_bytes(kSecret)).ok());
}

TEST(JavaDateTest, Spec7_3_FormatsLikeJavaDateToStringInUtc) {
  EXPECT_EQ(java_utc_date(1'421'889'722'000), "Thu Jan 22 01:22:02 UTC 2015");
  EXPECT_EQ(java_utc_date(1'700'000'000'999), "Tue Nov 14 22:13:20 UTC 2023");
  EXPECT_EQ(java_utc_date(0), "Thu Jan 01 00:00:00 UTC 1970");
}

TEST(CryptoTest, Base64KnownValues) {
  EXPECT_EQ(base64_encode(as_bytes("")), "");
  EXPECT_EQ(base64_encode(as_bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(base64_decode("Zm9vYg==").value_or("?"), "foob");
  EXPECT_FALSE(base64_decode("Zm9vYh==").has_value());  // non-canonical
  EXPECT_FALSE(base64_decode("Zm9").has_value());
  EXPECT_FALSE(base64_decode("Zm=v").has_value());
  EXPECT_FALSE(base64_decode("Z===").has_value());
}

TEST(CryptoTest, HmacSha256KnownValue) {
  // RFC 4231 test case 2.
  const Sha256Mac mac = hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"));
  EXPECT_EQ(hex_encode(ByteView(reinterpret_cast<const std::byte*>(mac.data()), mac.size())),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace sluice::stream::internal
