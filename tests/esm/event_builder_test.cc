#include "esm/event_builder.h"

#include "base/base64.h"
#include "base/json_writer.h"

#include <gtest/gtest.h>

#include <random>
#include <simdjson.h>
#include <string>
#include <vector>

namespace sluice::esm {
namespace {

constexpr std::string_view kShard = "shardId-000000000002";
constexpr std::string_view kStreamArn = "arn:aws:kinesis:eu-west-1:111122223333:stream/orders";
constexpr std::string_view kRegion = "eu-west-1";
constexpr std::string_view kRole = "arn:aws:iam::111122223333:role/order-processor-role";

EventSource source() { return EventSource{kShard, kStreamArn, kRegion, kRole}; }

// Owns the bytes an EventRecord views.
struct OwnedRecord {
  std::string sequence_number;
  int64_t arrival_ms = 0;
  std::string partition_key;
  std::string data;

  EventRecord view() const {
    return EventRecord{sequence_number, arrival_ms, partition_key, as_bytes(data)};
  }
};

std::vector<EventRecord> views(const std::vector<OwnedRecord>& owned) {
  std::vector<EventRecord> out;
  for (const OwnedRecord& r : owned) out.push_back(r.view());
  return out;
}

size_t predicted_size(std::span<const EventRecord> records, const EventSource& src) {
  size_t n = event_overhead_bytes();
  for (const EventRecord& r : records) n += record_event_bytes(r, src);
  if (records.size() > 1) n += records.size() - 1;
  return n;
}

std::string all_bytes() {
  std::string s;
  for (int c = 0; c < 256; ++c) s.push_back(static_cast<char>(c));
  return s;
}

// Records whose every field stresses the size computation.
std::vector<OwnedRecord> odd_records() {
  std::string controls;
  for (char c = 0; c < 0x20; ++c) controls.push_back(c);
  return {
      {"49655101234567890123456789012345678901234567890123456786", 1767225600125, "customer-42",
       R"({"orderId":1})"},
      {"1", 0, "", ""},
      {"2", 1767225600000, "quote\"back\\slash", "a"},
      {"3", 1767225600001, controls, "ab"},
      {"4", 1767225600999, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "abc"},
      {"5", 9, "\x7f\x80\xff", all_bytes()},
      {"6", 999, std::string(256, '"'), std::string(1'000'003, '\x01')},
      {"7", 1000, "k", std::string(4, '\0')},
      {"8", -1500, "neg", "abcde"},
      {"99999999999999999999999999999999999999", 17672256001234, "big-ts", "x"},
  };
}

TEST(EventBuilder, OverheadIsTheEmptyEvent) {
  EXPECT_EQ(event_overhead_bytes(), std::string(R"({"Records":[]})").size());
  EXPECT_EQ(build_event({}, source()), R"({"Records":[]})");
}

TEST(EventBuilder, SizesAreExactForOddRecords) {
  const std::vector<OwnedRecord> owned = odd_records();
  const std::vector<EventRecord> records = views(owned);
  const EventSource src = source();
  // Each record alone, then every prefix, then all of them.
  for (const EventRecord& r : records) {
    const std::string one = build_event({&r, 1}, src);
    EXPECT_EQ(one.size(), event_overhead_bytes() + record_event_bytes(r, src)) << r.partition_key;
  }
  for (size_t n = 0; n <= records.size(); ++n) {
    const std::span<const EventRecord> prefix(records.data(), n);
    EXPECT_EQ(build_event(prefix, src).size(), predicted_size(prefix, src)) << n;
  }
}

TEST(EventBuilder, SizesAreExactForOddSources) {
  std::string controls;
  for (char c = 1; c < 0x20; ++c) controls.push_back(c);
  const std::string shard = "shard\"\\" + controls;
  const std::string arn = "arn:\xe2\x82\xac\n";
  const std::string region = "\t\r";
  const std::string role;
  const EventSource src{shard, arn, region, role};
  const std::vector<OwnedRecord> owned = odd_records();
  const std::vector<EventRecord> records = views(owned);
  EXPECT_EQ(build_event(records, src).size(), predicted_size(records, src));
}

TEST(EventBuilder, SizesAreExactForRandomRecords) {
  std::mt19937_64 rng(20261127);
  const EventSource src = source();
  for (int round = 0; round < 200; ++round) {
    std::vector<OwnedRecord> owned(1 + rng() % 8);
    for (OwnedRecord& r : owned) {
      r.sequence_number = std::to_string(rng());
      r.arrival_ms = static_cast<int64_t>(rng() % 4'000'000'000'000) - 1'000'000'000'000;
      r.partition_key.resize(rng() % 300);
      for (char& c : r.partition_key) c = static_cast<char>(rng());
      r.data.resize(rng() % 2000);
      for (char& c : r.data) c = static_cast<char>(rng());
    }
    const std::vector<EventRecord> records = views(owned);
    EXPECT_EQ(build_event(records, src).size(), predicted_size(records, src)) << round;
  }
}

// Names of the members of `obj` in order.
std::vector<std::string> keys_of(simdjson::dom::object obj) {
  std::vector<std::string> out;
  for (auto field : obj) out.emplace_back(field.key);
  return out;
}

std::string str(simdjson::dom::element e, const char* name) {
  std::string_view v;
  EXPECT_EQ(e[name].get_string().get(v), simdjson::SUCCESS) << name;
  return std::string(v);
}

TEST(EventBuilder, ParsesWithTheShapeAndKeyOrderOfTheSpec) {
  // Partition keys pass through unchanged, so one that is not UTF-8 makes an event a strict
  // parser refuses (the size tests above keep such a key; Kinesis only stores UTF-8 keys).
  std::vector<OwnedRecord> owned = odd_records();
  for (OwnedRecord& r : owned) {
    if (!simdjson::validate_utf8(r.partition_key)) r.partition_key = "was-not-utf8";
  }
  const std::vector<EventRecord> records = views(owned);
  const std::string event = build_event(records, source());

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(event).get(root), simdjson::SUCCESS);
  simdjson::dom::object top;
  ASSERT_EQ(root.get_object().get(top), simdjson::SUCCESS);
  EXPECT_EQ(keys_of(top), std::vector<std::string>{"Records"});
  simdjson::dom::array list;
  ASSERT_EQ(root["Records"].get_array().get(list), simdjson::SUCCESS);
  ASSERT_EQ(list.size(), owned.size());

  const std::vector<std::string> record_keys = {"kinesis",   "eventSource",   "eventVersion",
                                                "eventID",   "eventName",     "invokeIdentityArn",
                                                "awsRegion", "eventSourceARN"};
  const std::vector<std::string> kinesis_keys = {"kinesisSchemaVersion", "partitionKey",
                                                 "sequenceNumber", "data",
                                                 "approximateArrivalTimestamp"};
  size_t i = 0;
  for (simdjson::dom::element rec : list) {
    const OwnedRecord& want = owned[i++];
    simdjson::dom::object rec_obj;
    ASSERT_EQ(rec.get_object().get(rec_obj), simdjson::SUCCESS);
    EXPECT_EQ(keys_of(rec_obj), record_keys);
    simdjson::dom::object kin;
    ASSERT_EQ(rec["kinesis"].get_object().get(kin), simdjson::SUCCESS);
    EXPECT_EQ(keys_of(kin), kinesis_keys);

    EXPECT_EQ(str(rec["kinesis"], "kinesisSchemaVersion"), "1.0");
    EXPECT_EQ(str(rec["kinesis"], "partitionKey"), want.partition_key);
    EXPECT_EQ(str(rec["kinesis"], "sequenceNumber"), want.sequence_number);
    std::string decoded;
    EXPECT_EQ(base64_decode(str(rec["kinesis"], "data"), decoded), std::nullopt);
    EXPECT_EQ(decoded, want.data);
    double ts = 0;
    ASSERT_EQ(rec["kinesis"]["approximateArrivalTimestamp"].get_double().get(ts),
              simdjson::SUCCESS);
    EXPECT_NEAR(ts * 1000.0, static_cast<double>(want.arrival_ms), 0.5);

    EXPECT_EQ(str(rec, "eventSource"), "aws:kinesis");
    EXPECT_EQ(str(rec, "eventVersion"), "1.0");
    EXPECT_EQ(str(rec, "eventID"), std::string(kShard) + ":" + want.sequence_number);
    EXPECT_EQ(str(rec, "eventName"), "aws:kinesis:record");
    EXPECT_EQ(str(rec, "invokeIdentityArn"), kRole);
    EXPECT_EQ(str(rec, "awsRegion"), kRegion);
    EXPECT_EQ(str(rec, "eventSourceARN"), kStreamArn);
  }
}

TEST(EventBuilder, MatchesTheSpecExampleByteForByte) {
  const OwnedRecord r{"49655101234567890123456789012345678901234567890123456786", 1767225600125,
                      "customer-42", R"({"orderId":1})"};
  const EventRecord rec = r.view();
  EXPECT_EQ(build_event({&rec, 1}, source()),
            R"({"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"customer-42",)"
            R"("sequenceNumber":"49655101234567890123456789012345678901234567890123456786",)"
            R"("data":"eyJvcmRlcklkIjoxfQ==","approximateArrivalTimestamp":1767225600.125},)"
            R"("eventSource":"aws:kinesis","eventVersion":"1.0",)"
            R"("eventID":"shardId-000000000002:)"
            R"(49655101234567890123456789012345678901234567890123456786",)"
            R"("eventName":"aws:kinesis:record",)"
            R"("invokeIdentityArn":"arn:aws:iam::111122223333:role/order-processor-role",)"
            R"("awsRegion":"eu-west-1",)"
            R"("eventSourceARN":"arn:aws:kinesis:eu-west-1:111122223333:stream/orders"}]})");
}

TEST(EventBuilder, TimestampHasTenIntegerDigitsAndAMillisecondFraction) {
  const OwnedRecord r{"1", 1767225600000, "k", "d"};
  const EventRecord rec = r.view();
  const std::string event = build_event({&rec, 1}, source());
  EXPECT_NE(event.find(R"("approximateArrivalTimestamp":1767225600.000})"), std::string::npos)
      << event;
}

TEST(EventBuilder, Base64LengthFollowsGroupsOfThree) {
  const EventSource src = source();
  const OwnedRecord empty{"1", 0, "k", ""};
  const size_t base = record_event_bytes(empty.view(), src);
  for (size_t n = 0; n <= 10; ++n) {
    const OwnedRecord r{"1", 0, "k", std::string(n, 'z')};
    EXPECT_EQ(record_event_bytes(r.view(), src) - base, 4 * ((n + 2) / 3)) << n;
  }
}

TEST(EventBuilder, MaxEventBytesIsTheSynchronousLimit) { EXPECT_EQ(kMaxEventBytes, 6'291'456u); }

// The event written member by member with JsonWriter: slow, and obviously in the shape and
// escaping of the rest of Sluice's JSON. EventBuilder writes in place and must match it.
std::string reference_event(std::span<const EventRecord> records, const EventSource& src) {
  JsonWriter w;
  w.begin_object();
  w.key("Records");
  w.begin_array();
  for (const EventRecord& r : records) {
    w.begin_object();
    w.key("kinesis");
    w.begin_object();
    w.member("kinesisSchemaVersion", "1.0");
    w.member("partitionKey", r.partition_key);
    w.member("sequenceNumber", r.sequence_number);
    w.key("data");
    w.base64(r.data);
    w.key("approximateArrivalTimestamp");
    w.epoch_seconds_millis(r.arrival_ms);
    w.end_object();
    w.member("eventSource", "aws:kinesis");
    w.member("eventVersion", "1.0");
    w.member("eventID", std::string(src.shard_id) + ":" + std::string(r.sequence_number));
    w.member("eventName", "aws:kinesis:record");
    w.member("invokeIdentityArn", src.role_arn);
    w.member("awsRegion", src.region);
    w.member("eventSourceARN", src.event_source_arn);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.take();
}

TEST(EventBuilder, WritesWhatJsonWriterWritesForOddRecordsAndSources) {
  std::string controls;
  for (char c = 1; c < 0x20; ++c) controls.push_back(c);
  const std::string shard = "shard\"\\" + controls;
  const std::string arn = "arn:\xe2\x82\xac\n";
  const std::string region = "\t\r";
  const std::vector<OwnedRecord> owned = odd_records();
  const std::vector<EventRecord> records = views(owned);
  for (const EventSource& src :
       {source(), EventSource{shard, arn, region, ""}, EventSource{"", "", "", controls}}) {
    const EventBuilder builder(src);
    EXPECT_EQ(builder.build(records), reference_event(records, src));
    for (const EventRecord& r : records) {
      EXPECT_EQ(builder.build({&r, 1}), reference_event({&r, 1}, src)) << r.partition_key;
      EXPECT_EQ(builder.record_bytes(r), record_event_bytes(r, src));
      EXPECT_EQ(EventBuilder::own_bytes(r) + builder.shared_bytes(), builder.record_bytes(r));
    }
  }
}

TEST(EventBuilder, WritesWhatJsonWriterWritesForRandomRecords) {
  std::mt19937_64 rng(20261128);
  const EventBuilder builder(source());
  for (int round = 0; round < 300; ++round) {
    std::vector<OwnedRecord> owned(rng() % 10);
    for (OwnedRecord& r : owned) {
      r.sequence_number = std::to_string(rng());
      r.arrival_ms = static_cast<int64_t>(rng() % 4'000'000'000'000) - 1'000'000'000'000;
      r.partition_key.resize(rng() % 40);
      for (char& c : r.partition_key) c = static_cast<char>(rng() % 3 == 0 ? rng() % 0x30 : rng());
      r.data.resize(rng() % 300);
      for (char& c : r.data) c = static_cast<char>(rng());
    }
    const std::vector<EventRecord> records = views(owned);
    ASSERT_EQ(builder.build(records), reference_event(records, source())) << round;
  }
}

// The part a record shares with every other record of its source does not grow with it.
TEST(EventBuilder, SharedBytesDependOnTheSourceOnly) {
  const EventBuilder a(source());
  const EventBuilder b(EventSource{kShard, kStreamArn, kRegion, "r"});
  EXPECT_EQ(a.shared_bytes() - b.shared_bytes(), kRole.size() - 1);
  const OwnedRecord small{"1", 0, "k", ""};
  const OwnedRecord large{"1", 0, "k", std::string(3000, 'x')};
  EXPECT_EQ(a.record_bytes(large.view()) - a.record_bytes(small.view()), 4000u);
  EXPECT_EQ(b.record_bytes(large.view()) - b.record_bytes(small.view()), 4000u);
}

// Escaping looks at eight bytes at a time: a byte to escape at every place of a word, and
// the bytes around the cut-offs (0x1f and 0x20, 0x7f and 0x80), in keys of every short length.
TEST(EventBuilder, EscapesEveryPlaceOfAWord) {
  const EventBuilder builder(source());
  for (const char special : {'\0', '\x1f', '\x20', '"', '\\', '\n', '\x7f', '\x80', '\xff'}) {
    for (size_t len = 1; len <= 24; ++len) {
      for (size_t at = 0; at < len; ++at) {
        OwnedRecord r{"1", 0, std::string(len, 'a'), ""};
        r.partition_key[at] = special;
        r.sequence_number = r.partition_key;  // the sequence number is escaped the same way
        const EventRecord rec = r.view();
        ASSERT_EQ(builder.build({&rec, 1}), reference_event({&rec, 1}, source()))
            << "byte " << int(static_cast<unsigned char>(special)) << " at " << at << " of " << len;
      }
    }
  }
}

}  // namespace
}  // namespace sluice::esm
