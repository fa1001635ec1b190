// The control-plane operations through Api: enhanced fan-out consumers (spec 9.22), tags and
// policies by resource ARN (9.17, 9.24), encryption (9.18), enhanced monitoring (9.19) and
// account settings (9.21); shapes, validation clauses and error mapping.

#include "kinesis/api.h"
#include "tests/stream/stream_test_env.h"

#include <gtest/gtest.h>

#include <simdjson.h>
#include <string>

namespace sluice::kinesis {
namespace {

constexpr std::string_view kAuth =
    "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc";
constexpr std::string_view kStreamArn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
constexpr int64_t kConsumerDelayMs = 1000;

stream::StreamServiceOptions options() {
  stream::StreamServiceOptions o = stream::testing::instant_options();
  o.consumer_delay_ms = kConsumerDelayMs;
  return o;
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(call("CreateStream", R"({"StreamName":"s","ShardCount":1})").status, 200);
  }

  net::Response call(std::string_view op, std::string body) {
    target_ = "Kinesis_20131202." + std::string(op);
    body_ = std::move(body);
    net::Request r;
    r.method = "POST";
    r.target = "/";
    r.path = "/";
    r.headers = {{"X-Amz-Target", target_},
                 {"Content-Type", "application/x-amz-json-1.1"},
                 {"X-Amz-Date", "20240101T000000Z"},
                 {"Authorization", kAuth}};
    r.body = body_;
    return api_.handle(r);
  }

  static std::string error_type(const net::Response& r) {
    for (const auto& [k, v] : r.headers) {
      if (k == "x-amzn-ErrorType") return v;
    }
    return {};
  }

  // The consumer ARN RegisterStreamConsumer answered with.
  std::string register_consumer(std::string_view name) {
    net::Response r =
        call("RegisterStreamConsumer", R"({"StreamARN":")" + std::string(kStreamArn) +
                                           R"(","ConsumerName":")" + std::string(name) + R"("})");
    EXPECT_EQ(r.status, 200) << r.body;
    simdjson::dom::element doc;
    if (parser_.parse(r.body).get(doc) != simdjson::SUCCESS) return {};
    return std::string(std::string_view(doc["Consumer"]["ConsumerARN"]));
  }

  stream::testing::ServiceEnv env_{options()};
  Api api_{&env_.svc(), ApiOptions{}};
  simdjson::dom::parser parser_;
  std::string target_;
  std::string body_;
};

TEST_F(ControlPlaneTest, Spec9_22_RegisterAnswersCreatingConsumer) {
  net::Response r = call("RegisterStreamConsumer", R"({"StreamARN":")" + std::string(kStreamArn) +
                                                       R"(","ConsumerName":"app"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"Consumer":{"ConsumerName":"app","ConsumerARN":"arn:aws:kinesis:us-east-1:)"
                    R"(000000000000:stream/s/consumer/app:1700000000","ConsumerStatus":"CREATING",)"
                    R"("ConsumerCreationTimestamp":1700000000}})");
}

TEST_F(ControlPlaneTest, Spec9_22_DescribeByArnAndByNameAgree) {
  const std::string arn = register_consumer("app");
  env_.clock.advance_ms(kConsumerDelayMs);
  net::Response by_arn = call("DescribeStreamConsumer", R"({"ConsumerARN":")" + arn + R"("})");
  net::Response by_name =
      call("DescribeStreamConsumer",
           R"({"StreamARN":")" + std::string(kStreamArn) + R"(","ConsumerName":"app"})");
  ASSERT_EQ(by_arn.status, 200) << by_arn.body;
  EXPECT_EQ(by_arn.body, by_name.body);
  EXPECT_NE(by_arn.body.find(R"("ConsumerStatus":"ACTIVE")"), std::string::npos);
  EXPECT_NE(by_arn.body.find(R"("StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s")"),
            std::string::npos);
}

TEST_F(ControlPlaneTest, Spec9_22_DescribeNeedsArnOrStreamAndName) {
  net::Response r = call("DescribeStreamConsumer", R"({"ConsumerName":"app"})");
  EXPECT_EQ(error_type(r), "InvalidArgumentException");
  net::Response unknown =
      call("DescribeStreamConsumer",
           R"({"StreamARN":")" + std::string(kStreamArn) + R"(","ConsumerName":"zz"})");
  EXPECT_EQ(unknown.body, R"({"__type":"ResourceNotFoundException","message":"Consumer zz, )"
                          R"(account 000000000000 not found."})");
  net::Response bad_arn = call("DescribeStreamConsumer", R"({"ConsumerARN":"nope"})");
  EXPECT_EQ(bad_arn.body,
            R"({"__type":"ValidationException","message":"1 validation error detected: Value )"
            R"('nope' at 'consumerARN' failed to satisfy constraint: Member must satisfy regular )"
            R"(expression pattern: ^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+)"
            R"(\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+"})");
}

TEST_F(ControlPlaneTest, Spec9_22_RegisterValidation) {
  net::Response r = call("RegisterStreamConsumer", "{}");
  EXPECT_EQ(r.body,
            R"({"__type":"ValidationException","message":"2 validation errors detected: Value )"
            R"(null at 'streamARN' failed to satisfy constraint: Member must not be null; Value )"
            R"(null at 'consumerName' failed to satisfy constraint: Member must not be null"})");
  net::Response missing =
      call("RegisterStreamConsumer",
           R"({"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/t","ConsumerName":"a"})");
  EXPECT_EQ(missing.body, R"({"__type":"ResourceNotFoundException","message":"Stream t under )"
                          R"(account 000000000000 not found."})");
  register_consumer("a");
  net::Response dup = call("RegisterStreamConsumer", R"({"StreamARN":")" + std::string(kStreamArn) +
                                                         R"(","ConsumerName":"a"})");
  EXPECT_EQ(error_type(dup), "ResourceInUseException");
}

TEST_F(ControlPlaneTest, Spec9_22_ListThenDeregisterThenSummaryCount) {
  register_consumer("b");
  register_consumer("a");
  net::Response list =
      call("ListStreamConsumers", R"({"StreamARN":")" + std::string(kStreamArn) + R"("})");
  ASSERT_EQ(list.status, 200) << list.body;
  simdjson::dom::element doc;
  ASSERT_EQ(parser_.parse(list.body).get(doc), simdjson::SUCCESS);
  simdjson::dom::array consumers = doc["Consumers"];
  ASSERT_EQ(consumers.size(), 2u);
  EXPECT_EQ(std::string_view(consumers.at(0)["ConsumerName"]), "a");
  EXPECT_EQ(doc["NextToken"].error(), simdjson::NO_SUCH_FIELD);
  net::Response summary = call("DescribeStreamSummary", R"({"StreamName":"s"})");
  EXPECT_NE(summary.body.find(R"("ConsumerCount":2)"), std::string::npos) << summary.body;
  EXPECT_EQ(call("DeregisterStreamConsumer",
                 R"({"StreamARN":")" + std::string(kStreamArn) + R"(","ConsumerName":"a"})")
                .status,
            200);
  env_.clock.advance_ms(kConsumerDelayMs);
  summary = call("DescribeStreamSummary", R"({"StreamName":"s"})");
  EXPECT_NE(summary.body.find(R"("ConsumerCount":1)"), std::string::npos) << summary.body;
}

TEST_F(ControlPlaneTest, Spec9_2_Test6_EnforceConsumerDeletion) {
  register_consumer("a");
  net::Response refused = call("DeleteStream", R"({"StreamName":"s"})");
  EXPECT_EQ(error_type(refused), "ResourceInUseException");
  EXPECT_EQ(call("DeleteStream", R"({"StreamName":"s","EnforceConsumerDeletion":true})").status,
            200);
}

TEST_F(ControlPlaneTest, Spec9_17_TagResourceOnStreamAndConsumer) {
  const std::string consumer = register_consumer("a");
  ASSERT_EQ(call("TagResource",
                 R"({"ResourceARN":")" + std::string(kStreamArn) + R"(","Tags":{"k":"v"}})")
                .status,
            200);
  EXPECT_EQ(call("ListTagsForStream", R"({"StreamName":"s"})").body,
            R"({"Tags":[{"Key":"k","Value":"v"}],"HasMoreTags":false})");
  ASSERT_EQ(call("TagResource", R"({"ResourceARN":")" + consumer + R"(","Tags":{"c":"1"}})").status,
            200);
  EXPECT_EQ(call("ListTagsForResource", R"({"ResourceARN":")" + consumer + R"("})").body,
            R"({"Tags":[{"Key":"c","Value":"1"}]})");
  ASSERT_EQ(
      call("UntagResource", R"({"ResourceARN":")" + consumer + R"(","TagKeys":["c"]})").status,
      200);
  EXPECT_EQ(call("ListTagsForResource", R"({"ResourceARN":")" + consumer + R"("})").body,
            R"({"Tags":[]})");
  net::Response bad = call(
      "TagResource", R"({"ResourceARN":")" + std::string(kStreamArn) + R"(","Tags":{"a;":"v"}})");
  EXPECT_EQ(error_type(bad), "InvalidArgumentException");
  net::Response missing =
      call("ListTagsForResource",
           R"({"ResourceARN":"arn:aws:kinesis:us-east-1:000000000000:stream/zz"})");
  EXPECT_EQ(error_type(missing), "ResourceNotFoundException");
  net::Response invalid = call("ListTagsForResource", R"({"ResourceARN":"x"})");
  EXPECT_EQ(invalid.body,
            R"({"__type":"ValidationException","message":"1 validation error detected: Value )"
            R"('x' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular )"
            R"(expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+"})");
}

TEST_F(ControlPlaneTest, Spec9_24_ResourcePolicyRoundTrip) {
  const std::string arn(kStreamArn);
  EXPECT_EQ(call("GetResourcePolicy", R"({"ResourceARN":")" + arn + R"("})").body,
            R"({"Policy":"{}"})");
  net::Response not_object =
      call("PutResourcePolicy", R"({"ResourceARN":")" + arn + R"(","Policy":"[1]"})");
  EXPECT_EQ(error_type(not_object), "InvalidArgumentException");
  ASSERT_EQ(
      call("PutResourcePolicy", R"({"ResourceARN":")" + arn + R"(","Policy":"{\"Version\":1}"})")
          .status,
      200);
  EXPECT_EQ(call("GetResourcePolicy", R"({"ResourceARN":")" + arn + R"("})").body,
            R"({"Policy":"{\"Version\":1}"})");
  EXPECT_EQ(call("DeleteResourcePolicy", R"({"ResourceARN":")" + arn + R"("})").status, 200);
  EXPECT_EQ(call("DeleteResourcePolicy", R"({"ResourceARN":")" + arn + R"("})").status, 200);
  EXPECT_EQ(call("GetResourcePolicy", R"({"ResourceARN":")" + arn + R"("})").body,
            R"({"Policy":"{}"})");
}

TEST_F(ControlPlaneTest, Spec9_18_StartAndStopEncryption) {
  net::Response none =
      call("StartStreamEncryption", R"({"StreamName":"s","EncryptionType":"NONE","KeyId":"k"})");
  EXPECT_EQ(error_type(none), "InvalidArgumentException");
  net::Response invalid = call("StartStreamEncryption", R"({"StreamName":"s"})");
  EXPECT_EQ(invalid.body,
            R"({"__type":"ValidationException","message":"2 validation errors detected: Value )"
            R"(null at 'encryptionType' failed to satisfy constraint: Member must not be null; )"
            R"(Value null at 'keyId' failed to satisfy constraint: Member must not be null"})");
  ASSERT_EQ(call("StartStreamEncryption",
                 R"({"StreamName":"s","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"})")
                .status,
            200);
  net::Response d = call("DescribeStreamSummary", R"({"StreamName":"s"})");
  EXPECT_NE(d.body.find(R"("EncryptionType":"KMS","KeyId":"alias/aws/kinesis")"), std::string::npos)
      << d.body;
  ASSERT_EQ(call("StopStreamEncryption",
                 R"({"StreamName":"s","EncryptionType":"KMS","KeyId":"alias/aws/kinesis"})")
                .status,
            200);
  d = call("DescribeStreamSummary", R"({"StreamName":"s"})");
  EXPECT_NE(d.body.find(R"("EncryptionType":"NONE")"), std::string::npos) << d.body;
}

TEST_F(ControlPlaneTest, Spec9_19_EnableAndDisableEnhancedMonitoring) {
  net::Response on =
      call("EnableEnhancedMonitoring", R"({"StreamName":"s","ShardLevelMetrics":["ALL"]})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(on.body,
            R"({"StreamName":"s","CurrentShardLevelMetrics":[],"DesiredShardLevelMetrics":[)"
            R"("IncomingBytes","IncomingRecords","OutgoingBytes","OutgoingRecords",)"
            R"("WriteProvisionedThroughputExceeded","ReadProvisionedThroughputExceeded",)"
            R"("IteratorAgeMilliseconds"],"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:)"
            R"(stream/s"})");
  net::Response off = call("DisableEnhancedMonitoring",
                           R"({"StreamName":"s","ShardLevelMetrics":["IncomingBytes"]})");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_NE(off.body.find(R"("DesiredShardLevelMetrics":["IncomingRecords",)"), std::string::npos);
  net::Response bad =
      call("EnableEnhancedMonitoring", R"({"StreamName":"s","ShardLevelMetrics":["Nope"]})");
  EXPECT_EQ(bad.body,
            R"({"__type":"ValidationException","message":"1 validation error detected: Value )"
            R"('[Nope]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy )"
            R"(constraint: [Member must satisfy enum value set: [IncomingBytes, IncomingRecords, )"
            R"(OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, )"
            R"(ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]]"})");
}

TEST_F(ControlPlaneTest, Spec9_21_AccountSettingsAreStoredAndEchoed) {
  EXPECT_EQ(call("DescribeAccountSettings", "{}").body,
            R"({"MinimumThroughputBillingCommitment":{"Status":"DISABLED"}})");
  net::Response up = call("UpdateAccountSettings",
                          R"({"MinimumThroughputBillingCommitment":{"Status":"ENABLED"}})");
  EXPECT_EQ(up.body, R"({"MinimumThroughputBillingCommitment":{"Status":"ENABLED",)"
                     R"("StartedAt":1700000000.000}})");
  EXPECT_EQ(call("DescribeAccountSettings", "{}").body, up.body);
  net::Response bad =
      call("UpdateAccountSettings", R"({"MinimumThroughputBillingCommitment":{"Status":"MAYBE"}})");
  EXPECT_EQ(bad.body,
            R"({"__type":"ValidationException","message":"1 validation error detected: Value )"
            R"('MAYBE' at 'minimumThroughputBillingCommitment.status' failed to satisfy )"
            R"(constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"})");
}

}  // namespace
}  // namespace sluice::kinesis
