#include "esm/mapping.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace sluice::esm {
namespace {

constexpr std::string_view kKey = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";

// Every member away from its default, so that a member the codec forgets shows up.
Mapping full_mapping() {
  Mapping m;
  m.uuid = std::string(kKey);
  m.account = "111122223333";
  m.region = "eu-west-1";
  m.function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:order-processor:$LATEST";
  m.event_source_arn = "arn:aws:kinesis:eu-west-1:111122223333:stream/orders";
  m.starting_position = StartingPosition::kAtTimestamp;
  m.starting_position_timestamp = 1767225600.125;
  m.batch_size = 250;
  m.maximum_batching_window_s = 7;
  m.parallelization_factor = 4;
  m.bisect_batch_on_function_error = true;
  m.maximum_retry_attempts = 3;
  m.maximum_record_age_s = 3600;
  m.on_failure_destination = "arn:aws:sqs:eu-west-1:111122223333:dlq";
  m.report_batch_item_failures = true;
  m.tumbling_window_s = 60;
  m.filter_patterns = {R"({"data":{"event_type":["a"]}})", "{\"k\":[\"\\\"quoted\\n\"]}"};
  m.metrics = {"EventCount"};
  m.kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/abc";
  m.enabled = false;
  m.state = MappingState::kDisabling;
  m.state_transition_reason = "User action";
  m.last_processing_result = std::string(kResultFunctionFailed);
  m.last_modified_ms = 1767225600125;
  m.created_ms = 1767225500000;
  return m;
}

Mapping round_trip(const Mapping& m) {
  auto decoded = decode_mapping(encode_mapping(m), m.uuid);
  EXPECT_TRUE(decoded.ok()) << decoded.status().to_string();
  return decoded.ok() ? *decoded : Mapping{};
}

TEST(MappingEnums, StartingPositionTextRoundTrips) {
  for (auto p : {StartingPosition::kTrimHorizon, StartingPosition::kLatest,
                 StartingPosition::kAtTimestamp}) {
    EXPECT_EQ(parse_starting_position(to_string(p)), p);
  }
  EXPECT_EQ(to_string(StartingPosition::kTrimHorizon), "TRIM_HORIZON");
  EXPECT_EQ(to_string(StartingPosition::kLatest), "LATEST");
  EXPECT_EQ(to_string(StartingPosition::kAtTimestamp), "AT_TIMESTAMP");
  EXPECT_EQ(parse_starting_position("latest"), std::nullopt);
  EXPECT_EQ(parse_starting_position(""), std::nullopt);
  EXPECT_EQ(parse_starting_position("TRIM_HORIZON "), std::nullopt);
}

TEST(MappingEnums, StateTextRoundTrips) {
  const std::pair<MappingState, std::string_view> all[] = {
      {MappingState::kCreating, "Creating"}, {MappingState::kEnabling, "Enabling"},
      {MappingState::kEnabled, "Enabled"},   {MappingState::kDisabling, "Disabling"},
      {MappingState::kDisabled, "Disabled"}, {MappingState::kUpdating, "Updating"},
      {MappingState::kDeleting, "Deleting"},
  };
  for (const auto& [state, text] : all) {
    EXPECT_EQ(to_string(state), text);
    EXPECT_EQ(parse_mapping_state(text), state);
  }
  EXPECT_EQ(parse_mapping_state("enabled"), std::nullopt);
  EXPECT_EQ(parse_mapping_state("USER_INITIATED"), std::nullopt);
}

TEST(MappingArn, UnqualifiedDropsTheQualifier) {
  const std::string base = "arn:aws:lambda:us-east-1:000000000000:function:fn";
  EXPECT_EQ(unqualified_function_arn(base), base);
  EXPECT_EQ(unqualified_function_arn(base + ":$LATEST"), base);
  EXPECT_EQ(unqualified_function_arn(base + ":1"), base);
  EXPECT_EQ(unqualified_function_arn(base + ":live"), base);
  EXPECT_EQ(unqualified_function_arn("not-an-arn"), "not-an-arn");
}

TEST(MappingArn, FunctionNameOf) {
  const std::string base = "arn:aws:lambda:us-east-1:000000000000:function:my-fn";
  EXPECT_EQ(function_name_of(base), "my-fn");
  EXPECT_EQ(function_name_of(base + ":$LATEST"), "my-fn");
  EXPECT_EQ(function_name_of(base + ":7"), "my-fn");
  EXPECT_EQ(function_name_of("arn:aws-cn:lambda:cn-north-1:000000000000:function:x:alias"), "x");
  EXPECT_EQ(function_name_of("plain"), "plain");
  EXPECT_EQ(function_name_of("plain:qualifier"), "plain");
}

TEST(MappingCodec, EveryMemberRoundTrips) {
  const Mapping m = full_mapping();
  EXPECT_EQ(round_trip(m), m);
}

TEST(MappingCodec, DefaultsRoundTrip) {
  Mapping m;
  m.uuid = std::string(kKey);
  const Mapping back = round_trip(m);
  EXPECT_EQ(back, m);
  EXPECT_FALSE(back.starting_position_timestamp.has_value());
  EXPECT_EQ(encode_mapping(m).find("starting_position_timestamp"), std::string::npos);
}

TEST(MappingCodec, TimestampsRoundTripBitForBit) {
  const double values[] = {
      1767225600.125,
      1767225600.0,
      0.1,
      1.0 / 3.0,
      1e-300,
      1.7976931348623157e308,
      std::nextafter(1767225600.125, 2e9),
      4.9406564584124654e-324,
      1e21,
      -12.5,
  };
  Mapping m = full_mapping();
  for (double v : values) {
    m.starting_position_timestamp = v;
    const Mapping back = round_trip(m);
    ASSERT_TRUE(back.starting_position_timestamp.has_value()) << v;
    EXPECT_EQ(std::memcmp(&*back.starting_position_timestamp, &v, sizeof v), 0) << v;
  }
}

TEST(MappingCodec, EncodedFormIsVersionedJson) {
  const std::string json = encode_mapping(full_mapping());
  EXPECT_EQ(json.rfind("{\"v\":1,", 0), 0u) << json;
  EXPECT_NE(json.find("\"starting_position\":\"AT_TIMESTAMP\""), std::string::npos);
  EXPECT_NE(json.find("\"starting_position_timestamp\":1767225600.125"), std::string::npos);
  EXPECT_NE(json.find("\"state\":\"Disabling\""), std::string::npos);
}

TEST(MappingCodec, UnknownMembersAreIgnored) {
  const Mapping m = full_mapping();
  std::string json = encode_mapping(m);
  json.insert(1, R"("from_the_future":{"nested":[1,2,{"x":null}]},"another":7,)");
  auto decoded = decode_mapping(json, m.uuid);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, m);
}

TEST(MappingCodec, NullTimestampReadsAsAbsent) {
  Mapping m = full_mapping();
  m.starting_position_timestamp.reset();
  std::string json = encode_mapping(m);
  json.insert(json.size() - 1, R"(,"starting_position_timestamp":null)");
  auto decoded = decode_mapping(json, m.uuid);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, m);
}

// Removes member `name` (and its comma) from a flat encoded mapping.
std::string without_member(std::string json, std::string_view name) {
  const std::string needle = "\"" + std::string(name) + "\":";
  const size_t at = json.find(needle);
  EXPECT_NE(at, std::string::npos) << name;
  if (at == std::string::npos) return json;
  size_t end = at + needle.size();
  int depth = 0;
  bool in_string = false;
  for (; end < json.size(); ++end) {
    const char c = json[end];
    if (in_string) {
      if (c == '\\') {
        ++end;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') {
      if (depth == 0) break;
      --depth;
    }
    if (c == ',' && depth == 0) break;
  }
  if (json[end] == ',') return json.erase(at, end + 1 - at);
  return json.erase(at - 1, end - at + 1);  // last member: drop the comma before it
}

TEST(MappingCodec, EveryRequiredMemberIsRequired) {
  const char* required[] = {
      "v",
      "uuid",
      "account",
      "region",
      "function_arn",
      "event_source_arn",
      "starting_position",
      "batch_size",
      "maximum_batching_window_s",
      "parallelization_factor",
      "bisect_batch_on_function_error",
      "maximum_retry_attempts",
      "maximum_record_age_s",
      "on_failure_destination",
      "report_batch_item_failures",
      "tumbling_window_s",
      "filter_patterns",
      "metrics",
      "kms_key_arn",
      "enabled",
      "state",
      "state_transition_reason",
      "last_processing_result",
      "last_modified_ms",
      "created_ms",
  };
  const std::string json = encode_mapping(full_mapping());
  for (const char* name : required) {
    const std::string cut = without_member(json, name);
    ASSERT_NE(cut, json) << name;
    auto decoded = decode_mapping(cut, "the-key");
    ASSERT_FALSE(decoded.ok()) << name;
    EXPECT_TRUE(decoded.status().is_corruption()) << name;
    EXPECT_NE(decoded.status().to_string().find("the-key"), std::string::npos)
        << decoded.status().to_string();
    if (std::string_view(name) != "v") {
      EXPECT_NE(decoded.status().to_string().find(name), std::string::npos)
          << decoded.status().to_string();
    }
  }
  // The timestamp is optional.
  EXPECT_TRUE(decode_mapping(without_member(json, "starting_position_timestamp"), "k").ok());
}

TEST(MappingCodec, MistypedOrImpossibleValuesAreCorruption) {
  const Mapping m = full_mapping();
  const std::string json = encode_mapping(m);
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string out = json;
    const size_t at = out.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) out.replace(at, from.size(), to);
    return out;
  };
  const std::string bad[] = {
      replace("\"v\":1", "\"v\":2"),
      replace("\"v\":1", "\"v\":\"1\""),
      replace("\"batch_size\":250", "\"batch_size\":\"250\""),
      replace("\"batch_size\":250", "\"batch_size\":2.5"),
      replace("\"batch_size\":250", "\"batch_size\":4294967296"),
      replace("\"maximum_retry_attempts\":3", "\"maximum_retry_attempts\":-2147483649"),
      replace("\"enabled\":false", "\"enabled\":0"),
      replace("\"state\":\"Disabling\"", "\"state\":\"Paused\""),
      replace("\"starting_position\":\"AT_TIMESTAMP\"", "\"starting_position\":\"NOW\""),
      replace("\"metrics\":[\"EventCount\"]", "\"metrics\":[1]"),
      replace("\"metrics\":[\"EventCount\"]", "\"metrics\":\"EventCount\""),
      replace("\"starting_position_timestamp\":1767225600.125",
              "\"starting_position_timestamp\":\"1767225600.125\""),
      replace("\"uuid\":\"" + std::string(kKey) + "\"", "\"uuid\":\"\""),
      "",
      "[]",
      "{",
      "null",
      json.substr(0, json.size() - 1),
  };
  for (const std::string& text : bad) {
    auto decoded = decode_mapping(text, kKey);
    ASSERT_FALSE(decoded.ok()) << text;
    EXPECT_TRUE(decoded.status().is_corruption()) << text;
    EXPECT_NE(decoded.status().to_string().find(kKey), std::string::npos);
  }
}

TEST(MappingCodec, Int32BoundsAreKept) {
  Mapping m = full_mapping();
  m.batch_size = std::numeric_limits<int32_t>::max();
  m.maximum_retry_attempts = std::numeric_limits<int32_t>::min();
  m.last_modified_ms = std::numeric_limits<int64_t>::max();
  m.created_ms = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(round_trip(m), m);
}

TEST(MappingCodec, OddStringsRoundTrip) {
  Mapping m = full_mapping();
  m.state_transition_reason = std::string("quote\" back\\slash \x01\x1f tab\t nl\n ", 28);
  m.last_processing_result = "PROBLEM: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  m.filter_patterns = {"", "{}", std::string(5000, 'x')};
  m.metrics.clear();
  EXPECT_EQ(round_trip(m), m);
}

// The example of docs/formats/esm-catalog.md, unwrapped: it must stay a readable record.
TEST(MappingCodec, DocumentedExampleDecodes) {
  const std::string example =
      R"json({"v":1,"uuid":"7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c","account":"111122223333",)json"
      R"json("region":"eu-west-1",)json"
      R"json("function_arn":"arn:aws:lambda:eu-west-1:111122223333:function:orders:1",)json"
      R"json("event_source_arn":"arn:aws:kinesis:eu-west-1:111122223333:stream/orders",)json"
      R"json("starting_position":"AT_TIMESTAMP","starting_position_timestamp":1767225600.125,)json"
      R"json("batch_size":100,"maximum_batching_window_s":0,"parallelization_factor":1,)json"
      R"json("bisect_batch_on_function_error":false,"maximum_retry_attempts":-1,)json"
      R"json("maximum_record_age_s":-1,"on_failure_destination":"",)json"
      R"json("report_batch_item_failures":true,"tumbling_window_s":0,)json"
      R"json("filter_patterns":["{\"data\":{\"event_type\":[\"order\"]}}"],"metrics":[],)json"
      R"json("kms_key_arn":"","enabled":true,"state":"Enabled",)json"
      R"json("state_transition_reason":"User action","last_processing_result":"OK",)json"
      R"json("last_modified_ms":1767225600125,"created_ms":1767225600000})json";
  auto decoded = decode_mapping(example, "7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c");
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->starting_position_timestamp, 1767225600.125);
  EXPECT_EQ(decoded->filter_patterns,
            std::vector<std::string>{R"({"data":{"event_type":["order"]}})"});
  EXPECT_EQ(decoded->state, MappingState::kEnabled);
  EXPECT_TRUE(decoded->report_batch_item_failures);
  EXPECT_EQ(encode_mapping(*decoded), example);
}

}  // namespace
}  // namespace sluice::esm
