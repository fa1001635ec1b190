#include "lambda/mapping_api.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <simdjson.h>
#include <string>
#include <vector>

namespace sluice::lambda {
namespace {

const Identity kId{"111122223333", "eu-west-1"};
constexpr std::string_view kStream = "arn:aws:kinesis:eu-west-1:111122223333:stream/orders";
constexpr std::string_view kFnArn = "arn:aws:lambda:eu-west-1:111122223333:function:fn";
constexpr int64_t kNowMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

// Knows one function, "fn", in kId's account and region.
std::optional<std::string> lookup_fn(const FunctionKey& key) {
  if (key.account == kId.account && key.region == kId.region && key.name == "fn") {
    return std::string(kFnArn);
  }
  return std::nullopt;
}

std::string create_body(std::string_view extra = "") {
  std::string body = R"({"FunctionName":"fn","EventSourceArn":")" + std::string(kStream) +
                     R"(","StartingPosition":"LATEST")";
  if (!extra.empty()) body += "," + std::string(extra);
  return body + "}";
}

// Parses and builds a Create draft; the error, if any.
std::optional<ApiError> create(std::string_view body, esm::Mapping& draft) {
  MappingFields fields;
  if (auto e = parse_mapping_fields(body, MappingRequestKind::kCreate, fields)) return e;
  return build_create_draft(fields, kId, kNowMs, lookup_fn, draft);
}

ApiError create_error(std::string_view body) {
  esm::Mapping draft;
  auto e = create(body, draft);
  EXPECT_TRUE(e.has_value()) << body;
  return e.value_or(ApiError{ErrorType::kService, "no error"});
}

esm::Mapping create_ok(std::string_view body) {
  esm::Mapping draft;
  auto e = create(body, draft);
  EXPECT_FALSE(e.has_value()) << body << ": " << (e ? e->message : "");
  return draft;
}

std::set<std::string> keys_of(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  EXPECT_EQ(parser.parse(json).get_object().get(obj), simdjson::SUCCESS) << json;
  std::set<std::string> keys;
  for (auto field : obj) keys.emplace(field.key);
  return keys;
}

esm::Mapping stored(std::string uuid, int64_t created_ms) {
  esm::Mapping m;
  m.uuid = std::move(uuid);
  m.account = kId.account;
  m.region = kId.region;
  m.function_arn = std::string(kFnArn);
  m.event_source_arn = std::string(kStream);
  m.created_ms = created_ms;
  m.last_modified_ms = created_ms;
  return m;
}

TEST(MappingApiTest, MinimalCreateTakesTheDefaultsOfSpec12) {
  const esm::Mapping m = create_ok(create_body());
  EXPECT_EQ(m.account, kId.account);
  EXPECT_EQ(m.region, kId.region);
  EXPECT_EQ(m.function_arn, kFnArn);
  EXPECT_EQ(m.event_source_arn, kStream);
  EXPECT_EQ(m.starting_position, esm::StartingPosition::kLatest);
  EXPECT_EQ(m.batch_size, 100);
  EXPECT_EQ(m.maximum_batching_window_s, 0);
  EXPECT_EQ(m.parallelization_factor, 1);
  EXPECT_FALSE(m.bisect_batch_on_function_error);
  EXPECT_EQ(m.maximum_retry_attempts, -1);
  EXPECT_EQ(m.maximum_record_age_s, -1);
  EXPECT_EQ(m.tumbling_window_s, 0);
  EXPECT_TRUE(m.enabled);
  EXPECT_TRUE(m.filter_patterns.empty());
  EXPECT_TRUE(m.on_failure_destination.empty());
}

TEST(MappingApiTest, CreateReadsEveryKinesisMember) {
  const esm::Mapping m = create_ok(create_body(
      R"("BatchSize":10000,"MaximumBatchingWindowInSeconds":300,"ParallelizationFactor":10,)"
      R"("BisectBatchOnFunctionError":true,"MaximumRetryAttempts":10000,)"
      R"("MaximumRecordAgeInSeconds":604800,"TumblingWindowInSeconds":900,"Enabled":false,)"
      R"("FunctionResponseTypes":["ReportBatchItemFailures"],)"
      R"("DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:eu-west-1:111122223333:dlq"}},)"
      R"("FilterCriteria":{"Filters":[{"Pattern":"{\"data\":{\"a\":[1]}}"}]},)"
      R"("MetricsConfig":{"Metrics":["EventCount"]},"KMSKeyArn":"arn:aws:kms:eu-west-1:111122223333:key/k")"));
  EXPECT_EQ(m.batch_size, 10000);
  EXPECT_EQ(m.maximum_batching_window_s, 300);
  EXPECT_EQ(m.parallelization_factor, 10);
  EXPECT_TRUE(m.bisect_batch_on_function_error);
  EXPECT_EQ(m.maximum_retry_attempts, 10000);
  EXPECT_EQ(m.maximum_record_age_s, 604800);
  EXPECT_EQ(m.tumbling_window_s, 900);
  EXPECT_FALSE(m.enabled);
  EXPECT_TRUE(m.report_batch_item_failures);
  EXPECT_EQ(m.on_failure_destination, "arn:aws:sqs:eu-west-1:111122223333:dlq");
  ASSERT_EQ(m.filter_patterns.size(), 1u);
  EXPECT_EQ(m.filter_patterns[0], R"({"data":{"a":[1]}})");
  EXPECT_EQ(m.metrics, std::vector<std::string>{"EventCount"});
  EXPECT_EQ(m.kms_key_arn, "arn:aws:kms:eu-west-1:111122223333:key/k");
}

TEST(MappingApiTest, MissingStartingPositionIsInvalidParameterValueWithTheModelText) {
  const ApiError e =
      create_error(R"({"FunctionName":"fn","EventSourceArn":")" + std::string(kStream) + R"("})");
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
  EXPECT_EQ(e.message,
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
            "constraint: Member must not be null.");
}

TEST(MappingApiTest, UnknownStartingPositionIsValidationException) {
  const ApiError e = create_error(R"({"FunctionName":"fn","EventSourceArn":")" +
                                  std::string(kStream) + R"(","StartingPosition":"invalid"})");
  EXPECT_EQ(e.type, ErrorType::kValidation);
  EXPECT_EQ(e.message,
            "1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy "
            "constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]");
}

TEST(MappingApiTest, RangeViolationsAreCountedTogether) {
  const ApiError e = create_error(create_body(R"("BatchSize":0,"ParallelizationFactor":11)"));
  EXPECT_EQ(e.type, ErrorType::kValidation);
  EXPECT_EQ(e.message,
            "2 validation errors detected: Value '0' at 'batchSize' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1; Value '11' at "
            "'parallelizationFactor' failed to satisfy constraint: Member must have value less "
            "than or equal to 10");
}

TEST(MappingApiTest, EachRangeNamesItsCamelCaseMember) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("BatchSize":10001)", "'batchSize'"},
      {R"("MaximumBatchingWindowInSeconds":301)", "'maximumBatchingWindowInSeconds'"},
      {R"("TumblingWindowInSeconds":901)", "'tumblingWindowInSeconds'"},
      {R"("MaximumRetryAttempts":-2)", "'maximumRetryAttempts'"},
      {R"("MaximumRetryAttempts":10001)", "'maximumRetryAttempts'"},
      {R"("MaximumRecordAgeInSeconds":604801)", "'maximumRecordAgeInSeconds'"},
  };
  for (const auto& [member, field] : cases) {
    SCOPED_TRACE(member);
    const ApiError e = create_error(create_body(member));
    EXPECT_EQ(e.type, ErrorType::kValidation);
    EXPECT_NE(e.message.find(field), std::string::npos) << e.message;
  }
}

TEST(MappingApiTest, MissingEventSourceArnIsUnrecognizedEventSource) {
  const ApiError e = create_error(R"({"FunctionName":"fn","StartingPosition":"LATEST"})");
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
  EXPECT_EQ(e.message, "Unrecognized event source.");
}

TEST(MappingApiTest, OnSuccessIsRefusedBeforeTheFunctionIsLookedUp) {
  const ApiError e = create_error(
      R"({"FunctionName":"missing","StartingPosition":"LATEST","EventSourceArn":")" +
      std::string(kStream) +
      R"(","DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:sqs:eu-west-1:111122223333:q"}}})");
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
  EXPECT_EQ(e.message,
            "Unsupported DestinationConfig parameter for given event source mapping type.");
}

TEST(MappingApiTest, UnknownFunctionDoesNotExist) {
  for (const char* name : {"missing", "arn:aws:lambda:eu-west-1:999999999999:function:fn",
                           "arn:aws:lambda:us-east-1:111122223333:function:fn"}) {
    SCOPED_TRACE(name);
    const ApiError e = create_error(R"({"FunctionName":")" + std::string(name) +
                                    R"(","StartingPosition":"LATEST","EventSourceArn":")" +
                                    std::string(kStream) + R"("})");
    EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
    EXPECT_EQ(e.message, "Function does not exist");
  }
}

TEST(MappingApiTest, FunctionArnKeepsTheQualifierGiven) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"fn", std::string(kFnArn)},
      {"fn:$LATEST", std::string(kFnArn) + ":$LATEST"},
      {"fn:1", std::string(kFnArn) + ":1"},
      {"fn:live", std::string(kFnArn) + ":live"},
      {std::string(kFnArn), std::string(kFnArn)},
      {"111122223333:function:fn:2", std::string(kFnArn) + ":2"},
  };
  for (const auto& [name, arn] : cases) {
    SCOPED_TRACE(name);
    std::string got;
    EXPECT_FALSE(resolve_mapping_function(name, kId, lookup_fn, got).has_value());
    EXPECT_EQ(got, arn);
  }
}

TEST(MappingApiTest, AtTimestampNeedsATimestampInThePast) {
  EXPECT_EQ(
      create_error(create_body().replace(create_body().find("LATEST"), 6, "AT_TIMESTAMP")).message,
      "Need to specify a timestamp");
  const std::string at = R"({"FunctionName":"fn","EventSourceArn":")" + std::string(kStream) +
                         R"(","StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":)";
  const esm::Mapping m = create_ok(at + "1767225500.125}");
  EXPECT_EQ(m.starting_position, esm::StartingPosition::kAtTimestamp);
  EXPECT_EQ(m.starting_position_timestamp, 1767225500.125);
  EXPECT_EQ(create_error(at + "1767225700}").type, ErrorType::kInvalidParameterValue);
  EXPECT_EQ(create_error(create_body(R"("StartingPositionTimestamp":1767225500)")).type,
            ErrorType::kInvalidParameterValue);
}

TEST(MappingApiTest, AtTimestampAcceptsAnIso8601String) {
  const esm::Mapping m =
      create_ok(R"({"FunctionName":"fn","EventSourceArn":")" + std::string(kStream) +
                R"(","StartingPosition":"AT_TIMESTAMP",)"
                R"("StartingPositionTimestamp":"2025-12-31T23:00:00.5Z"})");
  EXPECT_EQ(m.starting_position_timestamp, 1767222000.5);
}

TEST(MappingApiTest, RecordAgeBelowSixtyIsRefusedWithTheBusinessRuleText) {
  const ApiError e = create_error(create_body(R"("MaximumRecordAgeInSeconds":30)"));
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
  EXPECT_EQ(e.message,
            "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 "
            "(inclusive)");
  for (const char* ok : {"-1", "60", "604800"}) {
    EXPECT_EQ(create_ok(create_body(std::string(R"("MaximumRecordAgeInSeconds":)") + ok))
                  .maximum_record_age_s,
              std::stoi(ok));
  }
}

TEST(MappingApiTest, FilterPatternMustBeAnObjectOfArraysAndObjects) {
  EXPECT_TRUE(valid_filter_pattern(R"({"data":{"kind":["refund"]}})"));
  EXPECT_TRUE(valid_filter_pattern(R"({"partitionKey":[{"prefix":"a"}]})"));
  EXPECT_FALSE(valid_filter_pattern("single-string"));
  EXPECT_FALSE(valid_filter_pattern(R"([{"a": ["x"=1}])"));
  EXPECT_FALSE(valid_filter_pattern(R"(["a"])"));
  EXPECT_FALSE(valid_filter_pattern(R"({"data":"x"})"));
  EXPECT_FALSE(valid_filter_pattern(R"({"data":{"n":1}})"));
  EXPECT_FALSE(valid_filter_pattern(""));
  const ApiError e =
      create_error(create_body(R"("FilterCriteria":{"Filters":[{"Pattern":"single-string"}]})"));
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
  EXPECT_EQ(e.message, "Invalid filter pattern definition.");
}

TEST(MappingApiTest, EmptyFiltersMeanNoFilterCriteria) {
  const esm::Mapping m = create_ok(create_body(R"("FilterCriteria":{"Filters":[]})"));
  EXPECT_TRUE(m.filter_patterns.empty());
  EXPECT_EQ(keys_of(render_mapping(m)).count("FilterCriteria"), 0u);
}

TEST(MappingApiTest, OtherSourceTypesMembersAreInvalidParameterValue) {
  for (const char* member : {R"("Queues":["q"])", R"("ScalingConfig":{"MaximumConcurrency":2})",
                             R"("SourceAccessConfigurations":[])",
                             R"("ProvisionedPollerConfig":{"MinimumPollers":1})"}) {
    SCOPED_TRACE(member);
    EXPECT_EQ(create_error(create_body(member)).type, ErrorType::kInvalidParameterValue);
  }
}

TEST(MappingApiTest, OnlyKinesisSourcesAreMapped) {
  const ApiError e = create_error(
      R"({"FunctionName":"fn","StartingPosition":"LATEST","EventSourceArn":"arn:aws:sqs:eu-west-1:111122223333:q"})");
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
}

TEST(MappingApiTest, OnFailureDestinationMustBeSqsSnsOrS3) {
  EXPECT_TRUE(valid_on_failure_destination("arn:aws:sqs:eu-west-1:111122223333:dlq"));
  EXPECT_TRUE(valid_on_failure_destination("arn:aws:sns:eu-west-1:111122223333:topic"));
  EXPECT_TRUE(valid_on_failure_destination("arn:aws:s3:::my-bucket"));
  EXPECT_FALSE(valid_on_failure_destination("arn:aws:sqs:eu-west-1:111122223333:q.fifo"));
  EXPECT_FALSE(valid_on_failure_destination("arn:aws:lambda:eu-west-1:111122223333:function:f"));
  EXPECT_FALSE(valid_on_failure_destination("arn:aws:kinesis:eu-west-1:111122223333:stream/s"));
  EXPECT_EQ(create_error(create_body(R"("DestinationConfig":{"OnFailure":{"Destination":)"
                                     R"("arn:aws:lambda:eu-west-1:111122223333:function:f"}})"))
                .type,
            ErrorType::kInvalidParameterValue);
}

TEST(MappingApiTest, SnsTopicsAreRefusedAsNotProvided) {
  const ApiError e = create_error(create_body(R"("DestinationConfig":{"OnFailure":{"Destination":)"
                                              R"("arn:aws:sns:eu-west-1:111122223333:topic"}})"));
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
  EXPECT_NE(e.message.find("does not provide SNS"), std::string::npos) << e.message;
  // A queue passes these checks (its existence is the engine's to check).
  create_ok(create_body(R"("DestinationConfig":{"OnFailure":{"Destination":)"
                        R"("arn:aws:sqs:eu-west-1:111122223333:dlq"}})"));
}

TEST(MappingApiTest, WrongJsonTypeIsInvalidRequestContent) {
  EXPECT_EQ(create_error(create_body(R"("BatchSize":"ten")")).type,
            ErrorType::kInvalidRequestContent);
  EXPECT_EQ(create_error("[1]").type, ErrorType::kInvalidRequestContent);
  EXPECT_EQ(create_error("{").type, ErrorType::kInvalidRequestContent);
}

TEST(MappingApiTest, RenderedMappingHasExactlyTheAlwaysPresentKeys) {
  esm::Mapping m = create_ok(create_body());
  m.uuid = "7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c";
  m.last_modified_ms = 1'767'225'600'125;
  const std::string json = render_mapping(m);
  const std::set<std::string> expected = {"BatchSize",
                                          "BisectBatchOnFunctionError",
                                          "DestinationConfig",
                                          "EventSourceArn",
                                          "EventSourceMappingArn",
                                          "FunctionArn",
                                          "FunctionResponseTypes",
                                          "LastModified",
                                          "LastProcessingResult",
                                          "MaximumBatchingWindowInSeconds",
                                          "MaximumRecordAgeInSeconds",
                                          "MaximumRetryAttempts",
                                          "ParallelizationFactor",
                                          "StartingPosition",
                                          "State",
                                          "StateTransitionReason",
                                          "TumblingWindowInSeconds",
                                          "UUID"};
  EXPECT_EQ(keys_of(json), expected);
  EXPECT_NE(json.find(R"("DestinationConfig":{"OnFailure":{}})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("FunctionResponseTypes":[])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("LastModified":1767225600.125)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("State":"Creating")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("StateTransitionReason":"User action")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("LastProcessingResult":"No records processed")"), std::string::npos);
  EXPECT_NE(json.find("\"EventSourceMappingArn\":\"arn:aws:lambda:eu-west-1:111122223333:"
                      "event-source-mapping:7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c\""),
            std::string::npos)
      << json;
}

TEST(MappingApiTest, RenderedMappingEchoesConditionalKeysWhenSet) {
  esm::Mapping m = stored("u1", 1);
  m.starting_position = esm::StartingPosition::kAtTimestamp;
  m.starting_position_timestamp = 1767225600.125;
  m.filter_patterns = {R"({"data":{"a":["b"]}})"};
  m.on_failure_destination = "arn:aws:s3:::bucket-1";
  m.report_batch_item_failures = true;
  m.metrics = {"EventCount"};
  m.kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/k";
  const std::string json = render_mapping(m);
  EXPECT_NE(json.find(R"("StartingPositionTimestamp":1767225600.125)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("FilterCriteria":{"Filters":[{"Pattern":"{\"data\":{\"a\":[\"b\"]}}"}]})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("OnFailure":{"Destination":"arn:aws:s3:::bucket-1"})"), std::string::npos);
  EXPECT_NE(json.find(R"("FunctionResponseTypes":["ReportBatchItemFailures"])"), std::string::npos);
  EXPECT_NE(json.find(R"("MetricsConfig":{"Metrics":["EventCount"]})"), std::string::npos);
  EXPECT_NE(json.find(R"("KMSKeyArn")"), std::string::npos);
  m.starting_position_timestamp = 1767225600;
  EXPECT_NE(render_mapping(m).find(R"("StartingPositionTimestamp":1767225600,)"), std::string::npos)
      << render_mapping(m);
}

TEST(MappingApiTest, UpdateAppliesOnlyWhatWasSentAndClearsWithEmptyValues) {
  esm::Mapping m = stored("u1", 1);
  m.filter_patterns = {R"({"a":["b"]})"};
  m.on_failure_destination = "arn:aws:sqs:eu-west-1:111122223333:dlq";
  m.report_batch_item_failures = true;
  m.batch_size = 7;
  MappingFields f;
  ASSERT_FALSE(parse_mapping_fields(
                   R"({"FilterCriteria":{},"DestinationConfig":{"OnFailure":{"Destination":""}},)"
                   R"("FunctionResponseTypes":[],"Enabled":false})",
                   MappingRequestKind::kUpdate, f)
                   .has_value());
  std::optional<std::string> arn;
  ASSERT_FALSE(check_update(f, kId, lookup_fn, arn).has_value());
  EXPECT_FALSE(arn.has_value());
  apply_update(f, arn, m);
  EXPECT_TRUE(m.filter_patterns.empty());
  EXPECT_TRUE(m.on_failure_destination.empty());
  EXPECT_FALSE(m.report_batch_item_failures);
  EXPECT_FALSE(m.enabled);
  EXPECT_EQ(m.batch_size, 7);
}

TEST(MappingApiTest, UpdateIgnoresMembersTheOperationDoesNotHave) {
  MappingFields f;
  ASSERT_FALSE(
      parse_mapping_fields(
          R"({"StartingPosition":"bogus","EventSourceArn":"x","Queues":["q"],"BatchSize":5})",
          MappingRequestKind::kUpdate, f)
          .has_value());
  EXPECT_FALSE(f.starting_position.has_value());
  EXPECT_FALSE(f.event_source_arn.has_value());
  EXPECT_TRUE(f.foreign_members.empty());
  EXPECT_EQ(f.batch_size, 5);
}

TEST(MappingApiTest, UpdateRefusesABadFunctionAndTheRecordAgeRule) {
  MappingFields f;
  std::optional<std::string> arn;
  ASSERT_FALSE(parse_mapping_fields(R"({"FunctionName":"nope"})", MappingRequestKind::kUpdate, f)
                   .has_value());
  EXPECT_EQ(check_update(f, kId, lookup_fn, arn)->message, "Function does not exist");
  ASSERT_FALSE(
      parse_mapping_fields(R"({"MaximumRecordAgeInSeconds":59})", MappingRequestKind::kUpdate, f)
          .has_value());
  EXPECT_EQ(check_update(f, kId, lookup_fn, arn)->type, ErrorType::kInvalidParameterValue);
  ASSERT_FALSE(
      parse_mapping_fields(R"({"ScalingConfig":{}})", MappingRequestKind::kUpdate, f).has_value());
  EXPECT_EQ(check_update(f, kId, lookup_fn, arn)->type, ErrorType::kInvalidParameterValue);
}

TEST(MappingApiTest, ListPagesByHundredWithAnOpaqueMarker) {
  std::vector<esm::Mapping> all;
  for (int i = 0; i < 150; ++i) all.push_back(stored(fmt::format("u{:03}", i), 1000 + i));
  MappingListQuery q;
  q.max_items = "1000";
  MappingPage first;
  ASSERT_FALSE(list_mappings(all, kId, q, first).has_value());
  ASSERT_EQ(first.mappings.size(), 100u);
  ASSERT_TRUE(first.next_marker.has_value());
  EXPECT_EQ(first.mappings.front().uuid, "u000");
  q.marker = first.next_marker;
  MappingPage second;
  ASSERT_FALSE(list_mappings(all, kId, q, second).has_value());
  ASSERT_EQ(second.mappings.size(), 50u);
  EXPECT_EQ(second.mappings.front().uuid, "u100");
  EXPECT_FALSE(second.next_marker.has_value());
  EXPECT_EQ(keys_of(render_page(second)), std::set<std::string>{"EventSourceMappings"});
}

TEST(MappingApiTest, ListHonoursMaxItemsAndRefusesOutOfRange) {
  std::vector<esm::Mapping> all = {stored("a", 1), stored("b", 2), stored("c", 3)};
  MappingListQuery q;
  q.max_items = "2";
  MappingPage page;
  ASSERT_FALSE(list_mappings(all, kId, q, page).has_value());
  EXPECT_EQ(page.mappings.size(), 2u);
  EXPECT_TRUE(page.next_marker.has_value());
  q.max_items = "0";
  EXPECT_EQ(list_mappings(all, kId, q, page)->type, ErrorType::kValidation);
  q.max_items.reset();
  q.marker = "not-a-marker";
  EXPECT_EQ(list_mappings(all, kId, q, page)->type, ErrorType::kInvalidParameterValue);
}

TEST(MappingApiTest, ListFiltersByStreamFunctionAndOwner) {
  esm::Mapping other_fn = stored("b", 2);
  other_fn.function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:g";
  esm::Mapping qualified = stored("c", 3);
  qualified.function_arn = std::string(kFnArn) + ":1";
  esm::Mapping other_stream = stored("d", 4);
  other_stream.event_source_arn = "arn:aws:kinesis:eu-west-1:111122223333:stream/other";
  esm::Mapping other_account = stored("e", 5);
  other_account.account = "999999999999";
  const std::vector<esm::Mapping> all = {stored("a", 1), other_fn, qualified, other_stream,
                                         other_account};
  auto uuids = [&](const MappingListQuery& q) {
    MappingPage page;
    EXPECT_FALSE(list_mappings(all, kId, q, page).has_value());
    std::vector<std::string> out;
    for (const esm::Mapping& m : page.mappings) out.push_back(m.uuid);
    return out;
  };
  EXPECT_EQ(uuids({}), (std::vector<std::string>{"a", "b", "c", "d"}));
  MappingListQuery by_fn;
  by_fn.function_name = "fn";
  EXPECT_EQ(uuids(by_fn), (std::vector<std::string>{"a", "c", "d"}));
  by_fn.function_name = "fn:1";
  EXPECT_EQ(uuids(by_fn), (std::vector<std::string>{"c"}));
  by_fn.function_name = "no such function!";
  EXPECT_TRUE(uuids(by_fn).empty());
  MappingListQuery by_stream;
  by_stream.event_source_arn = "arn:aws:kinesis:eu-west-1:111122223333:stream/other";
  EXPECT_EQ(uuids(by_stream), (std::vector<std::string>{"d"}));
}

TEST(MappingApiTest, EngineStatusesMapToTheirErrorTypes) {
  EXPECT_EQ(to_mapping_error(Status::invalid_argument("Stream not found: x")).type,
            ErrorType::kInvalidParameterValue);
  EXPECT_EQ(to_mapping_error(Status::invalid_argument("Stream not found: x")).message,
            "Stream not found: x");
  EXPECT_EQ(to_mapping_error(Status::already_exists("dup")).type, ErrorType::kResourceConflict);
  const ApiError nf = to_mapping_error(Status::not_found("uuid u"));
  EXPECT_EQ(nf.type, ErrorType::kResourceNotFound);
  EXPECT_EQ(nf.message, "The resource you requested does not exist.");
  EXPECT_EQ(to_mapping_error(Status::in_use("busy")).type, ErrorType::kResourceInUse);
  EXPECT_EQ(to_mapping_error(Status::io_error("disk")).type, ErrorType::kService);
}

}  // namespace
}  // namespace sluice::lambda
