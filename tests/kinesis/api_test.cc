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

class ApiTest : public ::testing::Test {
 protected:
  // Sends one request; the views in `request_` point at members of this fixture.
  net::Response call(std::string_view op, std::string body,
                     std::string_view content_type = "application/x-amz-json-1.1",
                     std::string_view auth = kAuth) {
    target_ = "Kinesis_20131202." + std::string(op);
    body_ = std::move(body);
    net::Request r;
    r.method = "POST";
    r.target = "/";
    r.path = "/";
    r.headers = {{"X-Amz-Target", target_},
                 {"Content-Type", content_type},
                 {"X-Amz-Date", "20240101T000000Z"}};
    if (!auth.empty()) r.headers.push_back({"Authorization", auth});
    r.body = body_;
    return api_.handle(r);
  }

  static std::string header(const net::Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return {};
  }

  stream::testing::ServiceEnv env_;
  Api api_{&env_.svc(), ApiOptions{}};
  std::string target_;
  std::string body_;
};

TEST_F(ApiTest, CreateStreamAnswersEmptyBodyWithRequestId) {
  net::Response r = call("CreateStream", R"({"StreamName":"s","ShardCount":2})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.content_type, "application/x-amz-json-1.1");
  EXPECT_EQ(header(r, "x-amzn-RequestId").size(), 36u);
  EXPECT_FALSE(header(r, "x-amz-id-2").empty());
}

TEST_F(ApiTest, EmptyObjectOnCreateStreamIsOneNullClause) {
  net::Response r = call("CreateStream", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(header(r, "x-amzn-ErrorType"), "ValidationException");
  EXPECT_EQ(r.body,
            R"({"__type":"ValidationException","message":"1 validation error detected: Value null )"
            R"(at 'streamName' failed to satisfy constraint: Member must not be null"})");
}

TEST_F(ApiTest, LongNameAndHugeShardCountGiveTwoClauses) {
  net::Response r = call("CreateStream",
                         R"({"StreamName":")" + std::string(129, 'a') + R"(","ShardCount":1e11})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("2 validation errors detected: Value '2147483647' at 'shardCount'"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("Member must have length less than or equal to 128"), std::string::npos);
}

TEST_F(ApiTest, SerializationExceptionUsesCapitalMessage) {
  net::Response r = call("PutRecord", R"({"StreamName":"s","PartitionKey":"a","Data":"abc"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"__type":"SerializationException","Message":"'abc' can not be converted to a )"
            R"(Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"})");
}

TEST_F(ApiTest, PutRecordEmptyObjectListsThreeClauses) {
  net::Response r = call("PutRecord", "{}");
  EXPECT_NE(r.body.find("3 validation errors detected: Value null at 'partitionKey'"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("Value null at 'data'"), std::string::npos);
  EXPECT_NE(r.body.find("Value null at 'streamName'"), std::string::npos);
}

TEST_F(ApiTest, MissingStreamIsResourceNotFound) {
  net::Response r = call("DescribeStream", R"({"StreamName":"nope"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"__type":"ResourceNotFoundException","message":"Stream nope under )"
                    R"(account 000000000000 not found."})");
}

TEST_F(ApiTest, PutThenGetReturnsTheBytes) {
  ASSERT_EQ(call("CreateStream", R"({"StreamName":"s","ShardCount":1})").status, 200);
  net::Response put =
      call("PutRecord", R"({"StreamName":"s","PartitionKey":"a","Data":"AAEC/w=="})");
  ASSERT_EQ(put.status, 200) << put.body;
  net::Response it =
      call("GetShardIterator", R"({"StreamName":"s","ShardId":"shardId-000000000000",)"
                               R"("ShardIteratorType":"TRIM_HORIZON"})");
  ASSERT_EQ(it.status, 200) << it.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(it.body).get(doc), simdjson::SUCCESS);
  const std::string iterator{std::string_view(doc["ShardIterator"])};
  net::Response get = call("GetRecords", R"({"ShardIterator":")" + iterator + R"("})");
  ASSERT_EQ(get.status, 200) << get.body;
  simdjson::dom::parser parser2;
  ASSERT_EQ(parser2.parse(get.body).get(doc), simdjson::SUCCESS);
  simdjson::dom::array records = doc["Records"];
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(std::string_view(records.at(0)["Data"]), "AAEC/w==");
  EXPECT_EQ(std::string_view(records.at(0)["PartitionKey"]), "a");
  simdjson::dom::element arrival = records.at(0)["ApproximateArrivalTimestamp"];
  EXPECT_EQ(arrival.type(), simdjson::dom::element_type::DOUBLE);
  EXPECT_EQ(int64_t(doc["MillisBehindLatest"]), 0);
}

TEST_F(ApiTest, GarbageIteratorIsInvalidArgument) {
  net::Response r = call("GetRecords", R"({"ShardIterator":"garbage"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(header(r, "x-amzn-ErrorType"), "InvalidArgumentException");
}

TEST_F(ApiTest, UnknownAndUnimplementedOperations) {
  net::Response unknown = call("Frobnicate", "{}");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body, R"({"__type":"UnknownOperationException"})");
  net::Response subscribe = call("SubscribeToShard", "{}");
  EXPECT_EQ(subscribe.status, 400);
  EXPECT_NE(subscribe.body.find("not supported"), std::string::npos);
  // Every operation of the model is served now: an empty UpdateStreamMode is a validation
  // error, not an unknown operation.
  net::Response mode = call("UpdateStreamMode", "{}");
  EXPECT_EQ(mode.status, 400);
  EXPECT_NE(mode.body.find("ValidationException"), std::string::npos);
  EXPECT_NE(mode.body.find("2 validation errors detected: Value null at 'streamARN' failed to "
                           "satisfy constraint: Member must not be null; Value null at "
                           "'streamModeDetails' failed to satisfy constraint: Member must not "
                           "be null"),
            std::string::npos)
      << mode.body;
}

TEST_F(ApiTest, DispatchPrecedenceOfSection2_1) {
  EXPECT_EQ(call("ListStreams", "").body, R"({"__type":"SerializationException"})");
  EXPECT_EQ(call("ListStreams", "[1]").body, R"({"__type":"SerializationException"})");
  net::Response other = call("ListStreams", "{}", "text/plain");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.body, "<UnknownOperationException/>\n");
  net::Response legacy = call("ListStreams", "{}", "application/json");
  EXPECT_EQ(legacy.status, 404);
  net::Response no_auth = call("ListStreams", "{}", "application/x-amz-json-1.1", "");
  EXPECT_EQ(no_auth.body, R"({"__type":"MissingAuthenticationTokenException","message":"Missing )"
                          R"(Authentication Token"})");
  net::Response partial =
      call("ListStreams", "{}", "application/x-amz-json-1.1", "AWS4-HMAC-SHA256 Signature=x");
  EXPECT_NE(partial.body.find("IncompleteSignatureException"), std::string::npos);
  EXPECT_NE(partial.body.find("Authorization header requires 'Credential' parameter. "),
            std::string::npos);
}

TEST_F(ApiTest, StreamArnAndNameMustAgree) {
  ASSERT_EQ(call("CreateStream", R"({"StreamName":"s","ShardCount":1})").status, 200);
  EXPECT_EQ(
      call("DescribeStreamSummary",
           R"({"StreamName":"s","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"})")
          .status,
      200);
  net::Response r =
      call("DescribeStreamSummary",
           R"({"StreamName":"t","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"})");
  EXPECT_EQ(r.body, R"({"__type":"InvalidArgumentException","message":"StreamARN and StreamName )"
                    R"(refer to different streams."})");
}

TEST(IdentityTest, AccountAndRegionComeFromTheCredentialScope) {
  net::Request r;
  r.headers = {{"Authorization",
                "AWS4-HMAC-SHA256 Credential=123456789012/20240101/eu-west-2/kinesis/aws4_request, "
                "SignedHeaders=host, Signature=x"}};
  Identity id = identity_of(r, ApiOptions{});
  EXPECT_EQ(id.account, "123456789012");
  EXPECT_EQ(id.region, "eu-west-2");
  r.headers = {
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/ap-south-1/kinesis/aws4_request"}};
  id = identity_of(r, ApiOptions{});
  EXPECT_EQ(id.account, "000000000000");
  EXPECT_EQ(id.region, "ap-south-1");
  r.headers.clear();
  r.query = "X-Amz-Credential=AKID%2F20240101%2Fus-west-2%2Fkinesis%2Faws4_request";
  EXPECT_EQ(identity_of(r, ApiOptions{}).region, "us-west-2");
}

}  // namespace
}  // namespace sluice::kinesis
