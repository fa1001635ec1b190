// The CBOR 1.1 protocol: the transcoder alone (cbor_to_json, json_to_cbor), then whole CBOR
// requests through kinesis::Api over a StreamService on MemFileSystem + ManualClock.

#include "kinesis/cbor.h"

#include "kinesis/api.h"
#include "tests/stream/stream_test_env.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cbor.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <regex>
#include <string>
#include <string_view>

namespace sluice::kinesis {
namespace {

// Builds CBOR by hand, item head by item head (RFC 8949 section 3), so that tests can write
// exactly the bytes a client would, including indefinite lengths and broken ones.
class Cbor {
 public:
  Cbor& head(uint8_t major, uint64_t v) {
    const auto m = static_cast<uint8_t>(major << 5);
    if (v < 24) return byte(m | v);
    int width = 8;
    uint8_t info = 27;
    if (v <= 0xff) {
      width = 1;
      info = 24;
    } else if (v <= 0xffff) {
      width = 2;
      info = 25;
    } else if (v <= 0xffffffffULL) {
      width = 4;
      info = 26;
    }
    byte(m | info);
    for (int i = width - 1; i >= 0; --i) byte(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Cbor& map(uint64_t n) { return head(5, n); }
  Cbor& array(uint64_t n) { return head(4, n); }
  Cbor& text(std::string_view s) {
    head(3, s.size());
    out_.append(s);
    return *this;
  }
  Cbor& bytes(std::string_view s) {
    head(2, s.size());
    out_.append(s);
    return *this;
  }
  Cbor& uint(uint64_t v) { return head(0, v); }
  Cbor& neg(uint64_t n) { return head(1, n); }  // the value -1 - n
  Cbor& tag(uint64_t t) { return head(6, t); }
  Cbor& boolean(bool v) { return byte(v ? 0xf5 : 0xf4); }
  Cbor& null() { return byte(0xf6); }
  Cbor& f64(double d) {
    uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    byte(0xfb);
    for (int i = 7; i >= 0; --i) byte(static_cast<uint8_t>(bits >> (8 * i)));
    return *this;
  }
  Cbor& begin_map() { return byte(0xbf); }
  Cbor& begin_array() { return byte(0x9f); }
  Cbor& begin_text() { return byte(0x7f); }
  Cbor& begin_bytes() { return byte(0x5f); }
  Cbor& end() { return byte(0xff); }
  Cbor& raw(std::initializer_list<int> bs) {
    for (int b : bs) byte(static_cast<uint8_t>(b));
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  Cbor& byte(uint64_t b) {
    out_.push_back(static_cast<char>(b));
    return *this;
  }
  std::string out_;
};

// Diagnostic notation of one CBOR item (RFC 8949 section 8), decoded with libcbor's item
// API, a code path apart from the transcoder's streaming decoder. Floats end in "f".
void diag(const cbor_item_t* item, std::string& out) {
  switch (cbor_typeof(item)) {
    case CBOR_TYPE_UINT:
      out += std::to_string(cbor_get_int(item));
      return;
    case CBOR_TYPE_NEGINT:
      // The value -1 - n; n + 1 overflows only for the smallest value.
      out += cbor_get_int(item) == std::numeric_limits<uint64_t>::max()
                 ? "-18446744073709551616"
                 : "-" + std::to_string(cbor_get_int(item) + 1);
      return;
    case CBOR_TYPE_BYTESTRING: {
      ASSERT_TRUE(cbor_bytestring_is_definite(item));
      out += "h'";
      const unsigned char* p = cbor_bytestring_handle(item);
      for (size_t i = 0; i < cbor_bytestring_length(item); ++i) out += fmt::format("{:02x}", p[i]);
      out += "'";
      return;
    }
    case CBOR_TYPE_STRING:
      ASSERT_TRUE(cbor_string_is_definite(item));
      out += '"';
      out.append(reinterpret_cast<const char*>(cbor_string_handle(item)), cbor_string_length(item));
      out += '"';
      return;
    case CBOR_TYPE_ARRAY: {
      ASSERT_TRUE(cbor_array_is_definite(item));
      out += "[";
      cbor_item_t** items = cbor_array_handle(item);
      for (size_t i = 0; i < cbor_array_size(item); ++i) {
        if (i > 0) out += ", ";
        diag(items[i], out);
      }
      out += "]";
      return;
    }
    case CBOR_TYPE_MAP: {
      ASSERT_TRUE(cbor_map_is_definite(item));
      out += "{";
      cbor_pair* pairs = cbor_map_handle(item);
      for (size_t i = 0; i < cbor_map_size(item); ++i) {
        if (i > 0) out += ", ";
        diag(pairs[i].key, out);
        out += ": ";
        diag(pairs[i].value, out);
      }
      out += "}";
      return;
    }
    case CBOR_TYPE_TAG: {
      out += fmt::format("{}(", cbor_tag_value(item));
      cbor_item_t* inner = cbor_tag_item(item);
      diag(inner, out);
      cbor_decref(&inner);
      out += ")";
      return;
    }
    case CBOR_TYPE_FLOAT_CTRL:
      if (cbor_float_ctrl_is_ctrl(item)) {
        switch (cbor_ctrl_value(item)) {
          case CBOR_CTRL_FALSE:
            out += "false";
            return;
          case CBOR_CTRL_TRUE:
            out += "true";
            return;
          case CBOR_CTRL_NULL:
            out += "null";
            return;
          default:
            out += "simple";
            return;
        }
      }
      out += fmt::format("{}f", cbor_float_get_float(item));
      return;
  }
}

// The diagnostic notation of `bytes`, which must be exactly one well-formed item.
std::string diag(std::string_view bytes) {
  cbor_load_result result;
  cbor_item_t* item =
      cbor_load(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &result);
  if (item == nullptr) return "<not CBOR>";
  if (result.read != bytes.size()) {
    cbor_decref(&item);
    return "<trailing bytes>";
  }
  std::string out;
  diag(item, out);
  cbor_decref(&item);
  return out;
}

std::string to_json(const Cbor& body, std::string_view op = "") {
  auto r = cbor_to_json(body.str(), op);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::string("<refused>");
}

bool refused(const Cbor& body, const CborLimits& limits = {}) {
  auto r = cbor_to_json(body.str(), "PutRecord", limits);
  return !r.ok() && r.status().code() == Code::kInvalidArgument;
}

std::string to_cbor_diag(std::string_view json, std::string_view op = "") {
  auto r = json_to_cbor(json, op);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? diag(*r) : std::string("<refused>");
}

// ---- CBOR request -> JSON ----

TEST(CborToJsonTest, ScalarsContainersAndEscapesKeepTheirTypes) {
  const Cbor body = Cbor()
                        .map(7)
                        .text("s")
                        .text("a\"b\\c\n\x01")
                        .text("u")
                        .uint(1000000)
                        .text("n")
                        .neg(9)
                        .text("t")
                        .boolean(true)
                        .text("f")
                        .boolean(false)
                        .text("z")
                        .null()
                        .text("l")
                        .array(3)
                        .map(0)
                        .array(0)
                        .raw({0xf7});  // undefined reads as null
  EXPECT_EQ(to_json(body),
            R"({"s":"a\"b\\c\u000a\u0001","u":1000000,"n":-10,"t":true,"f":false,"z":null,)"
            R"("l":[{},[],null]})");
}

TEST(CborToJsonTest, EmptyMapIsEmptyObject) { EXPECT_EQ(to_json(Cbor().map(0)), "{}"); }

TEST(CborToJsonTest, ByteStringDataOfPutRecordBecomesBase64) {
  const Cbor body = Cbor()
                        .map(3)
                        .text("StreamName")
                        .text("s")
                        .text("PartitionKey")
                        .bytes("pk")  // not a blob member: read as text
                        .text("Data")
                        .bytes(std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(to_json(body, "PutRecord"),
            R"({"StreamName":"s","PartitionKey":"pk","Data":"AAEC/w=="})");
}

TEST(CborToJsonTest, Base64TextDataPassesThroughForTheJsonChecks) {
  EXPECT_EQ(to_json(Cbor().map(1).text("Data").text("aGk="), "PutRecord"), R"({"Data":"aGk="})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Data").text("abc"), "PutRecord"), R"({"Data":"abc"})");
}

TEST(CborToJsonTest, ByteStringDataInPutRecordsEntries) {
  const Cbor body = Cbor()
                        .map(2)
                        .text("Records")
                        .array(2)
                        .map(2)
                        .text("Data")
                        .bytes("hi")
                        .text("PartitionKey")
                        .text("a")
                        .map(1)
                        .text("Data")
                        .bytes("")
                        .text("Data")  // not a member of PutRecordsInput: read as text
                        .bytes("x");
  EXPECT_EQ(to_json(body, "PutRecords"),
            R"({"Records":[{"Data":"aGk=","PartitionKey":"a"},{"Data":""}],"Data":"x"})");
}

TEST(CborToJsonTest, ByteStringOutsideBlobMembersIsText) {
  EXPECT_EQ(to_json(Cbor().map(1).text("Data").bytes("hi"), "GetRecords"), R"({"Data":"hi"})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Data").bytes("hi")), R"({"Data":"hi"})");
}

TEST(CborToJsonTest, TimestampIntegersAreMillisecondsTaggedOrNot) {
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").tag(1).uint(1700000005123), "GetShardIterator"),
            R"({"Timestamp":1700000005.123})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").uint(1700000005123), "GetShardIterator"),
            R"({"Timestamp":1700000005.123})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").uint(7), "GetShardIterator"),
            R"({"Timestamp":0.007})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").neg(1499), "GetShardIterator"),
            R"({"Timestamp":-1.500})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").neg(std::numeric_limits<uint64_t>::max()),
                    "GetShardIterator"),
            R"({"Timestamp":-18446744073709551.616})");
}

TEST(CborToJsonTest, TimestampFloatsAreSeconds) {
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").f64(1700000005.5), "GetShardIterator"),
            R"({"Timestamp":1700000005.5})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").tag(1).f64(1.25), "GetShardIterator"),
            R"({"Timestamp":1.25})");
}

TEST(CborToJsonTest, TagOneElsewhereLeavesTheIntegerAlone) {
  EXPECT_EQ(to_json(Cbor().map(1).text("ShardCount").tag(1).uint(5), "GetShardIterator"),
            R"({"ShardCount":5})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").uint(5000), "GetRecords"),
            R"({"Timestamp":5000})");
}

TEST(CborToJsonTest, WrongTypesAtTimestampsAndBlobsKeepTheirTypeForCoercion) {
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").text("x"), "GetShardIterator"),
            R"({"Timestamp":"x"})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Timestamp").boolean(true), "GetShardIterator"),
            R"({"Timestamp":true})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Data").uint(1), "PutRecord"), R"({"Data":1})");
  EXPECT_EQ(to_json(Cbor().map(1).text("Data").array(0), "PutRecord"), R"({"Data":[]})");
}

// Every input member of type blob or timestamp in the service model.
TEST(CborToJsonTest, EveryInputBlobAndTimestampMember) {
  struct Case {
    std::string_view op;
    Cbor body;
    std::string_view json;
  };
  const Case cases[] = {
      {"GetShardIterator", Cbor().map(1).text("Timestamp").tag(1).uint(1000),
       R"({"Timestamp":1.000})"},
      {"ListShards",
       Cbor()
           .map(2)
           .text("StreamCreationTimestamp")
           .tag(1)
           .uint(1700000000000)
           .text("ShardFilter")
           .map(2)
           .text("Type")
           .text("AT_TIMESTAMP")
           .text("Timestamp")
           .tag(1)
           .uint(1700000001001),
       R"({"StreamCreationTimestamp":1700000000.000,)"
       R"("ShardFilter":{"Type":"AT_TIMESTAMP","Timestamp":1700000001.001}})"},
      {"ListStreamConsumers", Cbor().map(1).text("StreamCreationTimestamp").uint(2000),
       R"({"StreamCreationTimestamp":2.000})"},
      {"PutRecord", Cbor().map(1).text("Data").bytes("\xfb"), R"({"Data":"+w=="})"},
      {"PutRecords", Cbor().map(1).text("Records").array(1).map(1).text("Data").bytes("\xfb"),
       R"({"Records":[{"Data":"+w=="}]})"},
      {"SubscribeToShard",
       Cbor().map(1).text("StartingPosition").map(1).text("Timestamp").tag(1).uint(3000),
       R"({"StartingPosition":{"Timestamp":3.000}})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op);
    EXPECT_EQ(to_json(c.body, c.op), c.json);
    // The same members in another operation are plain integers and text.
    const std::string other = to_json(c.body, "DescribeLimits");
    EXPECT_EQ(other.find(".0"), std::string::npos) << other;
  }
}

TEST(CborToJsonTest, IndefiniteLengthsEverywhere) {
  const Cbor body = Cbor()
                        .begin_map()
                        .text("Records")
                        .begin_array()
                        .begin_map()
                        .begin_text()
                        .text("Da")
                        .text("ta")
                        .end()
                        .begin_bytes()
                        .bytes(std::string("\x00\x01", 2))
                        .bytes("")
                        .bytes("\x02")
                        .end()
                        .text("PartitionKey")
                        .begin_text()
                        .text("p")
                        .text("k")
                        .end()
                        .end()
                        .end()
                        .begin_text()
                        .end()
                        .begin_text()
                        .end()
                        .end();
  EXPECT_EQ(to_json(body, "PutRecords"),
            R"({"Records":[{"Data":"AAEC","PartitionKey":"pk"}],"":""})");
}

TEST(CborToJsonTest, HalfAndSingleFloats) {
  const Cbor body = Cbor()
                        .map(2)
                        .text("Limit")
                        .raw({0xf9, 0x3e, 0x00})  // 1.5
                        .text("x")
                        .raw({0xfa, 0x3f, 0xc0, 0x00, 0x00});  // 1.5
  EXPECT_EQ(to_json(body, "GetRecords"), R"({"Limit":1.5,"x":1.5})");
}

TEST(CborToJsonTest, IntegersAtTheEdgesOfSixtyFourBits) {
  const Cbor body = Cbor()
                        .map(3)
                        .text("a")
                        .uint(std::numeric_limits<uint64_t>::max())
                        .text("b")
                        .neg(static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                        .text("c")
                        .neg(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(to_json(body),
            R"({"a":18446744073709551615,"b":-9223372036854775808,"c":-1.8446744073709552e+19})");
}

TEST(CborToJsonTest, SelfDescribeTagAndNestedTagsAreAccepted) {
  EXPECT_EQ(to_json(Cbor().tag(55799).map(1).text("a").tag(2).tag(1).uint(1)), R"({"a":1})");
}

TEST(CborToJsonTest, MalformedBodiesAreRefused) {
  EXPECT_TRUE(refused(Cbor()));                                    // nothing
  EXPECT_TRUE(refused(Cbor().raw({0xa1})));                        // map without its entry
  EXPECT_TRUE(refused(Cbor().map(2).text("a").uint(1)));           // one entry short
  EXPECT_TRUE(refused(Cbor().map(1).text("a")));                   // key without value
  EXPECT_TRUE(refused(Cbor().map(0).uint(1)));                     // trailing bytes
  EXPECT_TRUE(refused(Cbor().map(0).map(0)));                      // two top-level maps
  EXPECT_TRUE(refused(Cbor().array(0)));                           // top is not a map
  EXPECT_TRUE(refused(Cbor().uint(5)));                            // top is not a map
  EXPECT_TRUE(refused(Cbor().text("{}")));                         // top is not a map
  EXPECT_TRUE(refused(Cbor().bytes("{}")));                        // top is not a map
  EXPECT_TRUE(refused(Cbor().raw({0xf6})));                        // top is null
  EXPECT_TRUE(refused(Cbor().map(1).uint(1).text("x")));           // integer key
  EXPECT_TRUE(refused(Cbor().map(1).bytes("k").text("x")));        // byte-string key
  EXPECT_TRUE(refused(Cbor().map(1).map(0).text("x")));            // map key
  EXPECT_TRUE(refused(Cbor().map(1).tag(1).text("k").text("x")));  // tagged key
  EXPECT_TRUE(refused(Cbor().end()));                              // break at top
  EXPECT_TRUE(refused(Cbor().map(1).text("k").end()));             // break in a definite map
  EXPECT_TRUE(refused(Cbor().begin_map().text("a").end()));        // odd indefinite map
  EXPECT_TRUE(refused(Cbor().begin_map().text("a").uint(1)));      // no break
  EXPECT_TRUE(refused(Cbor().map(1).text("k").begin_bytes().text("x").end()));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").begin_text().bytes("x").end()));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").begin_text().begin_text().end().end()));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").begin_text().uint(1).end()));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").begin_text().tag(1).text("x").end()));
  EXPECT_TRUE(refused(Cbor().begin_map().text("k").tag(1).end()));    // tag without item
  EXPECT_TRUE(refused(Cbor().map(1).text("k").tag(1)));               // tag at the end
  EXPECT_TRUE(refused(Cbor().map(1).text("k").raw({0x1c})));          // reserved additional info
  EXPECT_TRUE(refused(Cbor().map(1).text("k").raw({0xf8, 0x20})));    // simple value 32
  EXPECT_TRUE(refused(Cbor().map(1).text("k").raw({0xf0})));          // simple value 16
  EXPECT_TRUE(refused(Cbor().map(1).text("k").raw({0xc6}).uint(1)));  // tag 6: libcbor refuses
  EXPECT_TRUE(refused(Cbor().map(1).text("k").raw({0x19, 0x01})));    // short integer
  EXPECT_TRUE(refused(Cbor().map(1).text("k").f64(std::nan(""))));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").f64(std::numeric_limits<double>::infinity())));
  EXPECT_TRUE(
      refused(Cbor().map(1).text("Timestamp").f64(-std::numeric_limits<double>::infinity())));
}

TEST(CborToJsonTest, LengthPrefixesLargerThanTheBodyAreRefusedWithoutAllocating) {
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  EXPECT_TRUE(refused(Cbor().map(1).text("k").array(huge)));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").map(huge)));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").map(uint64_t{1} << 62)));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").head(2, huge)));
  EXPECT_TRUE(refused(Cbor().map(1).text("k").head(3, uint64_t{1} << 40)));
  EXPECT_TRUE(refused(Cbor().map(huge)));
  // 1000 elements announced, 3 present.
  EXPECT_TRUE(refused(Cbor().map(1).text("k").array(1000).uint(1).uint(2).uint(3)));
}

TEST(CborToJsonTest, NestingIsBoundedByTheLimit) {
  auto nested = [](int arrays) {
    Cbor c;
    c.map(1).text("k");
    for (int i = 0; i < arrays; ++i) c.array(1);
    c.uint(0);
    return c;
  };
  auto nested_indefinite = [](int arrays) {
    Cbor c;
    c.map(1).text("k");
    for (int i = 0; i < arrays; ++i) c.begin_array();
    for (int i = 0; i < arrays; ++i) c.end();
    return c;
  };
  // The top map is one level: 31 arrays inside make 32.
  EXPECT_FALSE(refused(nested(31)));
  EXPECT_TRUE(refused(nested(32)));
  EXPECT_FALSE(refused(nested_indefinite(31)));
  EXPECT_TRUE(refused(nested_indefinite(32)));
  EXPECT_TRUE(refused(nested_indefinite(100000)));
  EXPECT_FALSE(refused(nested(100), CborLimits{.max_depth = 101}));
}

TEST(CborToJsonTest, EmptyStringsAreFine) {
  EXPECT_EQ(to_json(Cbor().map(2).text("k").bytes("").text("Data").bytes(""), "PutRecord"),
            R"({"k":"","Data":""})");
}

// ---- JSON response -> CBOR ----

TEST(JsonToCborTest, GetRecordsDataIsBytesAndArrivalIsTagOneMilliseconds) {
  EXPECT_EQ(
      to_cbor_diag(
          R"({"Records":[{"SequenceNumber":"49","ApproximateArrivalTimestamp":)"
          R"(1700000005.123,"Data":"AAEC/w==","PartitionKey":"k","EncryptionType":"NONE"}],)"
          R"("NextShardIterator":"it","MillisBehindLatest":0})",
          "GetRecords"),
      R"({"Records": [{"SequenceNumber": "49", "ApproximateArrivalTimestamp": 1(1700000005123), )"
      R"("Data": h'000102ff', "PartitionKey": "k", "EncryptionType": "NONE"}], )"
      R"("NextShardIterator": "it", "MillisBehindLatest": 0})");
}

// Every output member of type blob or timestamp in the service model.
TEST(JsonToCborTest, EveryOutputBlobAndTimestampMember) {
  struct Case {
    std::string_view op;
    std::string_view json;
    std::string_view diag;
  };
  const Case cases[] = {
      {"DescribeStream",
       R"({"StreamDescription":{"StreamName":"s","StreamCreationTimestamp":1700000000}})",
       R"({"StreamDescription": {"StreamName": "s", "StreamCreationTimestamp": 1(1700000000000)}})"},
      {"DescribeStreamSummary",
       R"({"StreamDescriptionSummary":{"StreamCreationTimestamp":1700000001}})",
       R"({"StreamDescriptionSummary": {"StreamCreationTimestamp": 1(1700000001000)}})"},
      {"DescribeStreamConsumer",
       R"({"ConsumerDescription":{"ConsumerCreationTimestamp":1700000002.5}})",
       R"({"ConsumerDescription": {"ConsumerCreationTimestamp": 1(1700000002500)}})"},
      {"RegisterStreamConsumer", R"({"Consumer":{"ConsumerCreationTimestamp":3}})",
       R"({"Consumer": {"ConsumerCreationTimestamp": 1(3000)}})"},
      {"ListStreamConsumers",
       R"({"Consumers":[{"ConsumerCreationTimestamp":4},{"ConsumerName":"c"}],"NextToken":"t"})",
       R"({"Consumers": [{"ConsumerCreationTimestamp": 1(4000)}, {"ConsumerName": "c"}], )"
       R"("NextToken": "t"})"},
      {"ListStreams", R"({"StreamNames":["s"],"StreamSummaries":[{"StreamCreationTimestamp":5}]})",
       R"({"StreamNames": ["s"], "StreamSummaries": [{"StreamCreationTimestamp": 1(5000)}]})"},
      {"DescribeAccountSettings",
       R"({"MinimumThroughputBillingCommitment":{"Status":"ENABLED","StartedAt":6,)"
       R"("EndedAt":7.001,"EarliestAllowedEndAt":8}})",
       R"({"MinimumThroughputBillingCommitment": {"Status": "ENABLED", "StartedAt": 1(6000), )"
       R"("EndedAt": 1(7001), "EarliestAllowedEndAt": 1(8000)}})"},
      {"UpdateAccountSettings", R"({"MinimumThroughputBillingCommitment":{"StartedAt":9}})",
       R"({"MinimumThroughputBillingCommitment": {"StartedAt": 1(9000)}})"},
      {"GetRecords", R"({"Records":[{"ApproximateArrivalTimestamp":10,"Data":""}]})",
       R"({"Records": [{"ApproximateArrivalTimestamp": 1(10000), "Data": h''}]})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op);
    EXPECT_EQ(to_cbor_diag(c.json, c.op), c.diag);
    // Elsewhere the same members are plain numbers and text: nothing is tagged.
    EXPECT_EQ(to_cbor_diag(c.json, "DescribeLimits").find("1("), std::string::npos);
  }
}

TEST(JsonToCborTest, OtherValuesKeepTheirTypes) {
  EXPECT_EQ(to_cbor_diag(R"({"a":[1,-2,-9223372036854775808,18446744073709551615,1.5,true,false,)"
                         R"(null,"x",{}],"Timestamp":1,"Data":"aGk="})"),
            R"({"a": [1, -2, -9223372036854775808, 18446744073709551615, 1.5f, true, false, null, )"
            R"("x", {}], "Timestamp": 1, "Data": "aGk="})");
}

TEST(JsonToCborTest, ErrorEnvelopeBecomesAMap) {
  EXPECT_EQ(to_cbor_diag(R"({"__type":"SerializationException","Message":"bad"})", "PutRecord"),
            R"({"__type": "SerializationException", "Message": "bad"})");
}

TEST(JsonToCborTest, EmptyBodyStaysEmptyAndBadJsonIsRefused) {
  auto empty = json_to_cbor("", "CreateStream");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
  EXPECT_FALSE(json_to_cbor("{", "").ok());
}

TEST(JsonToCborTest, PlainDocumentsRoundTrip) {
  for (std::string_view json :
       {R"({})", R"({"a":[1,-2,"x",true,null,{"b":{}}],"c":"q\"uote\\"})",
        R"({"Records":[{"Data":"aGk=","PartitionKey":"p"}],"StreamName":"s"})"}) {
    auto cbor = json_to_cbor(json, "PutRecords");
    ASSERT_TRUE(cbor.ok());
    auto back = cbor_to_json(*cbor, "PutRecords");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, json);
  }
}

// ---- Whole requests through the Api ----

constexpr std::string_view kAuth =
    "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc";

class CborApiTest : public ::testing::Test {
 protected:
  net::Response call(std::string_view op, const Cbor& body,
                     std::string_view content_type = kCborContentType) {
    return call_raw(op, body.str(), content_type);
  }
  net::Response call_raw(std::string_view op, std::string body, std::string_view content_type) {
    target_ = "Kinesis_20131202." + std::string(op);
    body_ = std::move(body);
    net::Request r;
    r.method = "POST";
    r.target = "/";
    r.path = "/";
    r.headers = {
        {"X-Amz-Target", target_}, {"X-Amz-Date", "20240101T000000Z"}, {"Authorization", kAuth}};
    if (!content_type.empty()) r.headers.push_back({"Content-Type", content_type});
    r.body = body_;
    return api_.handle(r);
  }
  static std::string header(const net::Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return {};
  }
  // One text member of a CBOR map answer.
  static std::string text_member(const net::Response& r, const std::string& name) {
    const std::string d = diag(r.body);
    std::smatch m;
    if (!std::regex_search(d, m, std::regex("\"" + name + "\": \"([^\"]*)\""))) return {};
    return m[1];
  }

  void create_stream(std::string_view name, uint64_t shards) {
    net::Response r =
        call("CreateStream",
             Cbor().map(2).text("StreamName").text(name).text("ShardCount").uint(shards));
    ASSERT_EQ(r.status, 200) << diag(r.body);
  }
  std::string iterator(const Cbor& body) {
    net::Response r = call("GetShardIterator", body);
    EXPECT_EQ(r.status, 200) << diag(r.body);
    return text_member(r, "ShardIterator");
  }

  stream::testing::ServiceEnv env_;
  Api api_{&env_.svc(), ApiOptions{}};
  std::string target_;
  std::string body_;
};

TEST_F(CborApiTest, CreateStreamAnswersEmptyCborBody) {
  net::Response r =
      call("CreateStream", Cbor().map(2).text("StreamName").text("s").text("ShardCount").uint(1));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.content_type, kCborContentType);
  EXPECT_EQ(header(r, "x-amzn-RequestId").size(), 36u);
}

TEST_F(CborApiTest, PutRecordWithByteStringDataAndGetRecordsReturnsBytesAndTagOne) {
  create_stream("s", 1);
  const int64_t arrival_ms = env_.clock.now_ms();
  net::Response put = call("PutRecord", Cbor()
                                            .map(3)
                                            .text("StreamName")
                                            .text("s")
                                            .text("PartitionKey")
                                            .text("a")
                                            .text("Data")
                                            .bytes(std::string("\x00\x01\x02\xff", 4)));
  ASSERT_EQ(put.status, 200) << diag(put.body);
  EXPECT_EQ(put.content_type, kCborContentType);
  const std::string sequence = text_member(put, "SequenceNumber");
  EXPECT_FALSE(sequence.empty()) << diag(put.body);
  EXPECT_EQ(text_member(put, "ShardId"), "shardId-000000000000");

  const std::string it = iterator(Cbor()
                                      .map(3)
                                      .text("StreamName")
                                      .text("s")
                                      .text("ShardId")
                                      .text("shardId-000000000000")
                                      .text("ShardIteratorType")
                                      .text("TRIM_HORIZON"));
  ASSERT_FALSE(it.empty());
  net::Response get = call("GetRecords", Cbor().map(1).text("ShardIterator").text(it));
  ASSERT_EQ(get.status, 200) << diag(get.body);
  EXPECT_EQ(get.content_type, kCborContentType);
  const std::string d = diag(get.body);
  EXPECT_NE(
      d.find(fmt::format(R"({{"SequenceNumber": "{}", "ApproximateArrivalTimestamp": {}({}), )"
                         R"("Data": h'000102ff', "PartitionKey": "a", )",
                         sequence, 1, arrival_ms)),
      std::string::npos)
      << d;
  EXPECT_NE(d.find(R"("MillisBehindLatest": 0)"), std::string::npos) << d;
}

TEST_F(CborApiTest, PutRecordsWithByteStrings) {
  create_stream("s", 2);
  net::Response r = call("PutRecords", Cbor()
                                           .map(2)
                                           .text("Records")
                                           .array(2)
                                           .map(2)
                                           .text("Data")
                                           .bytes("one")
                                           .text("PartitionKey")
                                           .text("a")
                                           .map(2)
                                           .text("Data")
                                           .bytes("two")
                                           .text("PartitionKey")
                                           .text("b")
                                           .text("StreamName")
                                           .text("s"));
  ASSERT_EQ(r.status, 200) << diag(r.body);
  const std::string d = diag(r.body);
  EXPECT_NE(d.find(R"({"FailedRecordCount": 0, "Records": [{"SequenceNumber": ")"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find(R"("EncryptionType": "NONE"})"), std::string::npos) << d;
}

TEST_F(CborApiTest, AtTimestampWithTagOneMillisecondsStartsAtTheExactRecord) {
  create_stream("s", 1);
  auto put = [&](std::string_view data) {
    net::Response r = call("PutRecord", Cbor()
                                            .map(3)
                                            .text("StreamName")
                                            .text("s")
                                            .text("PartitionKey")
                                            .text("a")
                                            .text("Data")
                                            .bytes(data));
    ASSERT_EQ(r.status, 200) << diag(r.body);
  };
  put("first");
  env_.clock.advance_ms(1);
  const int64_t second_ms = env_.clock.now_ms();
  put("second");
  env_.clock.advance_ms(1234);
  const std::string it = iterator(Cbor()
                                      .map(4)
                                      .text("StreamName")
                                      .text("s")
                                      .text("ShardId")
                                      .text("shardId-000000000000")
                                      .text("ShardIteratorType")
                                      .text("AT_TIMESTAMP")
                                      .text("Timestamp")
                                      .tag(1)
                                      .uint(static_cast<uint64_t>(second_ms)));
  ASSERT_FALSE(it.empty());
  net::Response get = call("GetRecords", Cbor().map(1).text("ShardIterator").text(it));
  ASSERT_EQ(get.status, 200);
  const std::string d = diag(get.body);
  EXPECT_EQ(d.find("h'6669727374'"), std::string::npos) << d;  // "first"
  EXPECT_NE(d.find(fmt::format("1({}), \"Data\": h'7365636f6e64'", second_ms)), std::string::npos)
      << d;  // "second"
}

TEST_F(CborApiTest, AtTimestampInTheFutureNamesTheMilliseconds) {
  create_stream("s", 1);
  const int64_t future = env_.clock.now_ms() + 2001;
  net::Response r = call("GetShardIterator", Cbor()
                                                 .map(4)
                                                 .text("StreamName")
                                                 .text("s")
                                                 .text("ShardId")
                                                 .text("shardId-000000000000")
                                                 .text("ShardIteratorType")
                                                 .text("AT_TIMESTAMP")
                                                 .text("Timestamp")
                                                 .tag(1)
                                                 .uint(static_cast<uint64_t>(future)));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(header(r, "x-amzn-ErrorType"), "InvalidArgumentException");
  EXPECT_NE(diag(r.body).find(fmt::format("timestampInMillis: {}, currentTimestampInMillis: {}",
                                          future, env_.clock.now_ms())),
            std::string::npos)
      << diag(r.body);
}

TEST_F(CborApiTest, DescribeStreamSummaryTimestampIsTagOneWithTheMillisecondsOfJson) {
  create_stream("s", 1);
  net::Response r = call("DescribeStreamSummary", Cbor().map(1).text("StreamName").text("s"));
  ASSERT_EQ(r.status, 200) << diag(r.body);
  net::Response json =
      call_raw("DescribeStreamSummary", R"({"StreamName":"s"})", "application/x-amz-json-1.1");
  ASSERT_EQ(json.status, 200) << json.body;
  const std::smatch seconds = [&] {
    std::smatch m;
    std::regex_search(json.body, m, std::regex(R"("StreamCreationTimestamp":(\d+)[,}])"));
    return m;
  }();
  ASSERT_FALSE(seconds.empty()) << json.body;
  const std::string d = diag(r.body);
  EXPECT_NE(d.find(fmt::format(R"("StreamCreationTimestamp": 1({}000))", seconds[1].str())),
            std::string::npos)
      << d << " vs " << json.body;
  EXPECT_NE(d.find(R"("StreamName": "s")"), std::string::npos) << d;
}

TEST_F(CborApiTest, ErrorsAreCborMapsWithTheSameStatusAndHeaders) {
  net::Response r = call("DescribeStream", Cbor().map(1).text("StreamName").text("nope"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, kCborContentType);
  EXPECT_EQ(header(r, "x-amzn-ErrorType"), "ResourceNotFoundException");
  EXPECT_EQ(diag(r.body), R"({"__type": "ResourceNotFoundException", "message": "Stream nope )"
                          R"(under account 000000000000 not found."})");
}

TEST_F(CborApiTest, WrongTypesGiveTheSerializationExceptionTextsOfJson) {
  net::Response data = call("PutRecord", Cbor()
                                             .map(3)
                                             .text("StreamName")
                                             .text("s")
                                             .text("PartitionKey")
                                             .text("a")
                                             .text("Data")
                                             .uint(5));
  EXPECT_EQ(data.status, 400);
  EXPECT_EQ(diag(data.body),
            R"({"__type": "SerializationException", "Message": "class )"
            R"(com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a )"
            R"(Blob"})");
  net::Response name = call("DescribeStream", Cbor().map(1).text("StreamName").boolean(true));
  EXPECT_EQ(diag(name.body), R"({"__type": "SerializationException", "Message": "class )"
                             R"(java.lang.Boolean can not be converted to an String"})");
  net::Response ts = call("GetShardIterator", Cbor().map(1).text("Timestamp").text("now"));
  EXPECT_EQ(diag(ts.body),
            R"({"__type": "SerializationException", "Message": "class )"
            R"(java.lang.String can not be converted to milliseconds since epoch"})");
  net::Response base64 = call("PutRecord", Cbor().map(1).text("Data").text("abc"));
  EXPECT_NE(diag(base64.body)
                .find("'abc' can not be converted to a Blob: Base64 encoded length "
                      "is expected a multiple of 4 bytes but found: 3"),
            std::string::npos);
}

TEST_F(CborApiTest, MalformedCborIsSerializationExceptionInCbor) {
  for (const Cbor& body : {Cbor().raw({0xa1, 0x61}), Cbor().array(0), Cbor().map(0).uint(1),
                           Cbor().map(1).bytes("k").uint(1)}) {
    net::Response r = call("ListStreams", body);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.content_type, kCborContentType);
    EXPECT_EQ(header(r, "x-amzn-ErrorType"), "SerializationException");
    EXPECT_EQ(diag(r.body), R"({"__type": "SerializationException"})");
  }
  // Ahead of the operation check, as for JSON (spec 2.1 row 6 before row 8).
  EXPECT_EQ(diag(call("Frobnicate", Cbor().array(0)).body),
            R"({"__type": "SerializationException"})");
}

TEST_F(CborApiTest, UnknownOperationAndMissingAuthenticationInCbor) {
  net::Response unknown = call("Frobnicate", Cbor().map(0));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(diag(unknown.body), R"({"__type": "UnknownOperationException"})");
  target_ = "Kinesis_20131202.ListStreams";
  body_ = Cbor().map(0).str();
  net::Request r;
  r.method = "POST";
  r.headers = {{"X-Amz-Target", target_}, {"Content-Type", kCborContentType}};
  r.body = body_;
  net::Response no_auth = api_.handle(r);
  EXPECT_EQ(no_auth.content_type, kCborContentType);
  EXPECT_EQ(diag(no_auth.body), R"({"__type": "MissingAuthenticationTokenException", )"
                                R"("message": "Missing Authentication Token"})");
}

TEST_F(CborApiTest, EmptyBodyIsCborUnlessTheContentTypeIsJson) {
  net::Response cbor = call_raw("ListStreams", "", kCborContentType);
  EXPECT_EQ(cbor.status, 400);
  EXPECT_EQ(cbor.content_type, kCborContentType);
  EXPECT_EQ(diag(cbor.body), R"({"__type": "SerializationException"})");
  net::Response none = call_raw("Frobnicate", "", "");
  EXPECT_EQ(none.content_type, kCborContentType);
  EXPECT_EQ(diag(none.body), R"({"__type": "UnknownOperationException"})");
  net::Response json = call_raw("ListStreams", "", "application/x-amz-json-1.1");
  EXPECT_EQ(json.content_type, "application/x-amz-json-1.1");
  EXPECT_EQ(json.body, R"({"__type":"SerializationException"})");
}

TEST_F(CborApiTest, ListStreamsAnswersStreamSummariesWithTagOne) {
  create_stream("a", 1);
  net::Response r = call("ListStreams", Cbor().map(0));
  ASSERT_EQ(r.status, 200);
  const std::string d = diag(r.body);
  EXPECT_NE(d.find(R"("StreamNames": ["a"])"), std::string::npos) << d;
  EXPECT_NE(d.find(R"("StreamCreationTimestamp": 1()"), std::string::npos) << d;
}

TEST_F(CborApiTest, IndefiniteLengthRequestFromAStreamingEncoder) {
  create_stream("s", 1);
  net::Response r = call("PutRecord", Cbor()
                                          .begin_map()
                                          .text("StreamName")
                                          .begin_text()
                                          .text("s")
                                          .end()
                                          .text("PartitionKey")
                                          .text("a")
                                          .text("Data")
                                          .begin_bytes()
                                          .bytes("h")
                                          .bytes("i")
                                          .end()
                                          .end());
  EXPECT_EQ(r.status, 200) << diag(r.body);
}

// Found by kinesis_cbor_request_fuzz: milliseconds near 2^64 made ListStreamConsumers convert
// a double beyond int64 (undefined behaviour, caught by UBSan); the value is clamped now.
TEST_F(CborApiTest, StreamCreationTimestampBeyondInt64IsANotFoundNotAnOverflow) {
  create_stream("s", 1);
  net::Response r =
      call("ListStreamConsumers", Cbor()
                                      .map(2)
                                      .text("StreamARN")
                                      .text("arn:aws:kinesis:us-east-1:000000000000:stream/s")
                                      .text("StreamCreationTimestamp")
                                      .uint(0x9e00018bcfe56800ULL));
  EXPECT_EQ(r.status, 400) << diag(r.body);
  EXPECT_EQ(header(r, "x-amzn-ErrorType"), "ResourceNotFoundException");
}

}  // namespace
}  // namespace sluice::kinesis
