#include "kinesis/errors.h"
#include "kinesis/json_writer.h"
#include "kinesis/request_reader.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::kinesis {
namespace {

std::string b64(std::string_view s) {
  std::string out;
  append_base64(out, as_bytes(s));
  return out;
}

TEST(JsonWriterTest, PlacesCommasAndEscapes) {
  JsonWriter w;
  w.begin_object();
  w.member("a", "x\"y\\z\n\x01");
  w.key("list");
  w.begin_array();
  w.integer(1);
  w.string("two");
  w.begin_object();
  w.end_object();
  w.end_array();
  w.member_bool("b", false);
  w.end_object();
  EXPECT_EQ(w.text(), R"({"a":"x\"y\\z\n\u0001","list":[1,"two",{}],"b":false})");
}

TEST(JsonWriterTest, TimestampsAreSecondsWithMillisecondFraction) {
  JsonWriter w;
  w.begin_array();
  w.epoch_seconds_millis(1700000005123);
  w.epoch_seconds_millis(1700000005005);
  w.epoch_seconds(1700000005999);
  w.end_array();
  EXPECT_EQ(w.text(), "[1700000005.123,1700000005.005,1700000005]");
}

TEST(Base64Test, EncodesWithPadding) {
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("h"), "aA==");
  EXPECT_EQ(b64("he"), "aGU=");
  EXPECT_EQ(b64("hello"), "aGVsbG8=");
}

TEST(Base64Test, DecodeRoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n < all.size(); n += 37) {
    std::string out;
    std::string error;
    ASSERT_TRUE(decode_base64(b64(all.substr(0, n)), out, error)) << error;
    EXPECT_EQ(out, all.substr(0, n));
  }
}

TEST(Base64Test, RejectsWithTheServiceTexts) {
  std::string out;
  std::string error;
  EXPECT_FALSE(decode_base64("abc", out, error));
  EXPECT_EQ(error, "Base64 encoded length is expected a multiple of 4 bytes but found: 3");
  EXPECT_FALSE(decode_base64("ab!c", out, error));
  EXPECT_EQ(error, "Invalid Base64 character: '!'");
  EXPECT_FALSE(decode_base64("a=bc", out, error));
  EXPECT_EQ(error, "Invalid Base64 character: 'b'");
  EXPECT_FALSE(decode_base64("aB==", out, error));  // "aA==" is the canonical form
  EXPECT_EQ(error, "Invalid last non-pad Base64 character dectected");
}

class ReaderTest : public ::testing::Test {
 protected:
  MemberReader read(std::string_view json) {
    simdjson::dom::object obj;
    EXPECT_EQ(parser_.parse(json.data(), json.size()).get(obj), simdjson::SUCCESS);
    return MemberReader(obj);
  }
  simdjson::dom::parser parser_;
};

TEST_F(ReaderTest, CoercionErrorsUseTheServiceMessages) {
  struct Case {
    std::string json;
    std::string message;
  } cases[] = {
      {R"({"S":true})", "class java.lang.Boolean can not be converted to an String"},
      {R"({"S":1})",
       "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an "
       "String"},
      {R"({"S":[]})", "Start of list found where not expected"},
      {R"({"S":{}})", "Start of structure or map found where not expected."},
  };
  for (const auto& c : cases) {
    MemberReader r = read(c.json);
    EXPECT_FALSE(r.string("S").has_value());
    EXPECT_EQ(r.error(), c.message) << c.json;
  }
  MemberReader r = read(R"({"I":"5"})");
  EXPECT_FALSE(r.integer("I").has_value());
  EXPECT_EQ(r.error(), "class java.lang.String can not be converted to an Integer");
  r = read(R"({"B":"yes"})");
  EXPECT_FALSE(r.boolean("B").has_value());
  EXPECT_EQ(r.error(), "'YES' can not be converted to an Boolean");
  r = read(R"({"T":"now"})");
  EXPECT_FALSE(r.timestamp("T").has_value());
  EXPECT_EQ(r.error(), "class java.lang.String can not be converted to milliseconds since epoch");
  std::string storage;
  r = read(R"({"D":"abc"})");
  EXPECT_FALSE(r.blob("D", storage).has_value());
  EXPECT_EQ(r.error(),
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple "
            "of 4 bytes but found: 3");
  r = read(R"({"L":3})");
  EXPECT_FALSE(r.list("L").has_value());
  EXPECT_EQ(r.error(), "Expected list or null");
}

TEST_F(ReaderTest, BlobsAppendToOneArena) {
  std::string arena = "ab";
  MemberReader r = read(R"({"D":"aGVsbG8=","E":"","N":null,"X":"a!=="})");
  EXPECT_EQ(r.blob_append("D", arena), 5u);
  EXPECT_EQ(r.blob_append("E", arena), 0u);
  EXPECT_FALSE(r.blob_append("N", arena).has_value());        // null: absent, no error
  EXPECT_FALSE(r.blob_append("missing", arena).has_value());  // absent
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(arena, "abhello");
  EXPECT_FALSE(r.blob_append("X", arena).has_value());
  EXPECT_EQ(r.error(), "'a!==' can not be converted to a Blob: Invalid Base64 character: '!'");
  EXPECT_EQ(arena, "abhello");  // a failed blob leaves nothing behind
}

TEST(Base64Test, DecodeAppendKeepsEarlierBytes) {
  std::string out = "x";
  std::string error;
  ASSERT_TRUE(decode_base64_append(b64("hello"), out, error)) << error;
  EXPECT_EQ(out, "xhello");
  EXPECT_FALSE(decode_base64_append("aB==", out, error));
  EXPECT_EQ(error, "Invalid last non-pad Base64 character dectected");
  EXPECT_EQ(out, "xhello");
  ASSERT_TRUE(decode_base64(b64("hi"), out, error));  // the non-appending form replaces
  EXPECT_EQ(out, "hi");
}

TEST_F(ReaderTest, IntegersAreFlooredAndClampedAndNullIsAbsent) {
  MemberReader r = read(R"({"a":2.9,"b":-2.5,"c":100000000000,"d":1e300,"e":null})");
  EXPECT_EQ(r.integer("a"), 2);
  EXPECT_EQ(r.integer("b"), -3);
  EXPECT_EQ(r.integer("c"), 2147483647);
  EXPECT_EQ(r.integer("d"), 2147483647);
  EXPECT_FALSE(r.integer("e").has_value());
  EXPECT_FALSE(r.integer("missing").has_value());
  EXPECT_FALSE(r.failed());
}

TEST(ValidatorTest, RendersTheSpecExample) {
  Validator v;
  v.int_range("shardCount", 0, 1, 100000);
  v.required("streamName", true);
  v.string("streamName", std::string_view(""), Validator::Pattern::kName, 1, 128);
  EXPECT_EQ(v.message(),
            "3 validation errors detected: Value '0' at 'shardCount' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1; Value '' at "
            "'streamName' failed to satisfy constraint: Member must satisfy regular expression "
            "pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1");
}

TEST(ValidatorTest, SingularAndNullAndAtMostTenClauses) {
  Validator one;
  one.required("streamName", false);
  EXPECT_EQ(one.message(),
            "1 validation error detected: Value null at 'streamName' failed to satisfy "
            "constraint: Member must not be null");
  Validator many;
  for (int i = 0; i < 12; ++i) many.required("x", false);
  EXPECT_TRUE(many.message().starts_with("10 validation errors detected: "));
}

TEST(ValidatorTest, PatternsAreAnchored) {
  EXPECT_TRUE(matches_hash_key("0"));
  EXPECT_FALSE(matches_hash_key("01"));
  EXPECT_TRUE(matches_hash_key(std::string(39, '9')));
  EXPECT_FALSE(matches_hash_key(std::string(40, '9')));
  EXPECT_TRUE(matches_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s"));
  EXPECT_FALSE(matches_stream_arn("arn:aws:kinesis:us-east-1:0000:stream/s"));
  EXPECT_FALSE(matches_name("a b"));
  EXPECT_EQ(utf16_length("a\xc3\xbf\xf0\x9f\x98\x80"), 4u);  // a, ÿ, and a surrogate pair
}

TEST(ErrorsTest, MapsStatusCodesAndExpiredPerOperation) {
  EXPECT_EQ(to_wire_error(Status::not_found("x")), (WireError{400, "ResourceNotFoundException"}));
  EXPECT_EQ(to_wire_error(Status::in_use("x")), (WireError{400, "ResourceInUseException"}));
  EXPECT_EQ(to_wire_error(Status::already_exists("x")), (WireError{400, "ResourceInUseException"}));
  EXPECT_EQ(to_wire_error(Status::invalid_argument("x")),
            (WireError{400, "InvalidArgumentException"}));
  EXPECT_EQ(to_wire_error(Status::invalid_argument("1 validation error detected: x")),
            (WireError{400, "ValidationException"}));
  EXPECT_EQ(to_wire_error(Status::expired("x")), (WireError{400, "ExpiredIteratorException"}));
  EXPECT_EQ(to_wire_error(Status::expired("x"), ExpiredMeaning::kNextToken),
            (WireError{400, "ExpiredNextTokenException"}));
  EXPECT_EQ(to_wire_error(Status::io_error("disk")), (WireError{500, "InternalFailure"}));
}

TEST(ErrorsTest, InternalFailureHasNoMessage) {
  net::Response r = status_response(Status::io_error("secret path /x"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"__type":"InternalFailure"})");
  EXPECT_EQ(r.content_type, "application/x-amz-json-1.1");
}

}  // namespace
}  // namespace sluice::kinesis
