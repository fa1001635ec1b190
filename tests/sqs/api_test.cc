#include "sqs/api.h"

#include "tests/sqs/sqs_test_env.h"

#include <gtest/gtest.h>

#include <simdjson.h>
#include <string>

namespace sluice::sqs {
namespace {

using testing::SqsTestEnv;

class SqsApiTest : public ::testing::Test {
 protected:
  // One request as boto3 sends it, signed for account 123456789012 in eu-west-1.
  net::Response call(std::string_view op, std::string body) {
    target_ = "AmazonSQS." + std::string(op);
    body_ = std::move(body);
    net::Request r;
    r.method = "POST";
    r.target = "/";
    r.path = "/";
    r.headers = {
        {"Host", "sqs.test:4566"},
        {"X-Amz-Target", target_},
        {"Content-Type", "application/x-amz-json-1.0"},
        {"Authorization",
         "AWS4-HMAC-SHA256 Credential=123456789012/20260101/eu-west-1/sqs/aws4_request, "
         "SignedHeaders=host, Signature=00"},
    };
    r.body = body_;
    return api_.handle(r);
  }

  static std::string header(const net::Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (net::iequals(k, name)) return v;
    }
    return "";
  }

  static std::string member(const net::Response& r, const char* name) {
    simdjson::dom::parser parser;
    std::string_view v;
    if (parser.parse(r.body)[name].get(v) != simdjson::SUCCESS) return "<absent>";
    return std::string(v);
  }

  SqsTestEnv env_;
  Api api_{&env_.service()};
  std::string target_;
  std::string body_;
};

TEST_F(SqsApiTest, CreateQueueAnswersUrlFromHostAndCredential) {
  auto r = call("CreateQueue", R"({"QueueName":"jobs"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(member(r, "QueueUrl"), "http://sqs.test:4566/123456789012/jobs");
  auto attrs =
      call("GetQueueAttributes",
           R"({"QueueUrl":"http://elsewhere/123456789012/jobs","AttributeNames":["QueueArn"]})");
  ASSERT_EQ(attrs.status, 200) << attrs.body;
  EXPECT_NE(attrs.body.find("arn:aws:sqs:eu-west-1:123456789012:jobs"), std::string::npos);
}

TEST_F(SqsApiTest, MissingQueueIsQueueDoesNotExistWithLegacyCode) {
  auto r = call("GetQueueUrl", R"({"QueueName":"nope"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(member(r, "__type"), "com.amazonaws.sqs#QueueDoesNotExist");
  EXPECT_EQ(header(r, "x-amzn-query-error"), "AWS.SimpleQueueService.NonExistentQueue;Sender");
}

TEST_F(SqsApiTest, UnknownOperationIsRefused) {
  auto r = call("Frobnicate", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(member(r, "__type"), "com.amazon.coral.service#UnknownOperationException");
}

// Issue 6 (found by tests/fuzz/sqs_request_fuzz.cc): an unknown operation name that is not
// UTF-8 was echoed into the error message, and the body was then not valid JSON.
TEST_F(SqsApiTest, UnknownOperationNamedInBytesThatAreNotUtf8AnswersValidJson) {
  auto r = call("Frob\xff\xfenicate", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(member(r, "__type"), "com.amazon.coral.service#UnknownOperationException");
  // The name is still recognisable: its ASCII kept, the other bytes replaced by U+FFFD.
  EXPECT_NE(member(r, "message")
                .find("Frob\xEF\xBF\xBD\xEF\xBF\xBD"
                      "nicate"),
            std::string::npos)
      << member(r, "message");
}

TEST_F(SqsApiTest, OutOfRangeAndMissingParametersAreSenderErrors) {
  ASSERT_EQ(call("CreateQueue", R"({"QueueName":"q"})").status, 200);
  auto r = call("ReceiveMessage", R"({"QueueUrl":"/123456789012/q","MaxNumberOfMessages":11})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(header(r, "x-amzn-query-error"), "InvalidParameterValue;Sender");
  auto m = call("SendMessage", R"({"QueueUrl":"/123456789012/q"})");
  EXPECT_EQ(header(m, "x-amzn-query-error"), "MissingParameter;Sender");
  auto a = call("CreateQueue", R"({"QueueName":"q2","Attributes":{"DelaySeconds":"901"}})");
  EXPECT_EQ(member(a, "__type"), "com.amazonaws.sqs#InvalidAttributeValue");
  auto f = call("CreateQueue", R"({"QueueName":"q.fifo"})");
  EXPECT_EQ(member(f, "__type"), "com.amazonaws.sqs#InvalidParameterValue");
}

TEST_F(SqsApiTest, ChangedAttributesMakeCreateQueueFail) {
  ASSERT_EQ(
      call("CreateQueue", R"({"QueueName":"q","Attributes":{"VisibilityTimeout":"60"}})").status,
      200);
  EXPECT_EQ(
      call("CreateQueue", R"({"QueueName":"q","Attributes":{"VisibilityTimeout":"060"}})").status,
      200);
  auto r = call("CreateQueue", R"({"QueueName":"q","Attributes":{"VisibilityTimeout":"61"}})");
  EXPECT_EQ(header(r, "x-amzn-query-error"), "QueueAlreadyExists;Sender");
}

TEST_F(SqsApiTest, SendAnswersBothDigests) {
  ASSERT_EQ(call("CreateQueue", R"({"QueueName":"q"})").status, 200);
  auto r = call("SendMessage",
                R"({"QueueUrl":"/123456789012/q","MessageBody":"hello","MessageAttributes":)"
                R"({"SellerName":{"DataType":"String","StringValue":"Example Store"}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(member(r, "MD5OfMessageBody"), "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(member(r, "MD5OfMessageAttributes"), "cd28f3b68aeee4b2eac9c66f2f694b58");
}

TEST_F(SqsApiTest, BatchReportsPerEntryFailures) {
  ASSERT_EQ(call("CreateQueue", R"({"QueueName":"q"})").status, 200);
  auto r = call("SendMessageBatch",
                R"({"QueueUrl":"/123456789012/q","Entries":[{"Id":"a","MessageBody":"x"},)"
                R"({"Id":"b","MessageBody":"y","DelaySeconds":1000}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("Successful":[{"Id":"a")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("Failed":[{"Id":"b","SenderFault":true,"Code":"InvalidParameterValue")"),
            std::string::npos)
      << r.body;
  auto dup = call("SendMessageBatch",
                  R"({"QueueUrl":"/123456789012/q","Entries":[{"Id":"a","MessageBody":"x"},)"
                  R"({"Id":"a","MessageBody":"y"}]})");
  EXPECT_EQ(member(dup, "__type"), "com.amazonaws.sqs#BatchEntryIdsNotDistinct");
  auto empty = call("DeleteMessageBatch", R"({"QueueUrl":"/123456789012/q","Entries":[]})");
  EXPECT_EQ(member(empty, "__type"), "com.amazonaws.sqs#EmptyBatchRequest");
}

TEST_F(SqsApiTest, MalformedReceiptHandleIsInvalid) {
  ASSERT_EQ(call("CreateQueue", R"({"QueueName":"q"})").status, 200);
  auto r = call("DeleteMessage", R"({"QueueUrl":"/123456789012/q","ReceiptHandle":"garbage"})");
  EXPECT_EQ(member(r, "__type"), "com.amazonaws.sqs#ReceiptHandleIsInvalid");
}

TEST_F(SqsApiTest, InvalidCharactersInBodyAreRefused) {
  ASSERT_EQ(call("CreateQueue", R"({"QueueName":"q"})").status, 200);
  auto r = call("SendMessage", R"({"QueueUrl":"/123456789012/q","MessageBody":"a\u0001b"})");
  EXPECT_EQ(member(r, "__type"), "com.amazonaws.sqs#InvalidMessageContents");
}

}  // namespace
}  // namespace sluice::sqs
