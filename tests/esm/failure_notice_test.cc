#include "esm/failure_notice.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::esm {
namespace {

FailureNotice sample() {
  FailureNotice n;
  n.request_id = "0f6f8a7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
  n.function_arn = "arn:aws:lambda:eu-west-1:111122223333:function:order-processor";
  n.condition = FailureNotice::Condition::kRetryAttemptsExhausted;
  n.approximate_invoke_count = 3;
  n.response = FailureNotice::Response{200, "$LATEST", "Unhandled"};
  n.timestamp_ms = 1767226517482;  // 2026-01-01T00:15:17.482Z
  n.shard_id = "shardId-000000000002";
  n.start_sequence_number = "4965";
  n.end_sequence_number = "4970";
  n.first_arrival_ms = 1767225600125;  // 2026-01-01T00:00:00.125Z
  n.last_arrival_ms = 1767225603004;
  n.batch_size = 3;
  n.stream_arn = "arn:aws:kinesis:eu-west-1:111122223333:stream/orders";
  return n;
}

TEST(FailureNoticeTest, NoticeHasTheMembersInAwsOrderWithMillisecondTimes) {
  EXPECT_EQ(notice_json(sample()),
            R"({"requestContext":{"requestId":"0f6f8a7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",)"
            R"("functionArn":"arn:aws:lambda:eu-west-1:111122223333:function:order-processor",)"
            R"("condition":"RetryAttemptsExhausted","approximateInvokeCount":3},)"
            R"("responseContext":{"statusCode":200,"executedVersion":"$LATEST",)"
            R"("functionError":"Unhandled"},"version":"1.0",)"
            R"("timestamp":"2026-01-01T00:15:17.482Z",)"
            R"("KinesisBatchInfo":{"shardId":"shardId-000000000002",)"
            R"("startSequenceNumber":"4965","endSequenceNumber":"4970",)"
            R"("approximateArrivalOfFirstRecord":"2026-01-01T00:00:00.125Z",)"
            R"("approximateArrivalOfLastRecord":"2026-01-01T00:00:03.004Z","batchSize":3,)"
            R"("streamArn":"arn:aws:kinesis:eu-west-1:111122223333:stream/orders"}})");
}

TEST(FailureNoticeTest, PartialResponseFailuresHaveANullFunctionError) {
  FailureNotice n = sample();
  n.response->function_error.reset();
  EXPECT_NE(notice_json(n).find(R"("functionError":null})"), std::string::npos);
}

TEST(FailureNoticeTest, RecordAgeNoticesHaveNoResponseContext) {
  FailureNotice n = sample();
  n.condition = FailureNotice::Condition::kRecordAgeExceeded;
  n.response.reset();
  const std::string json = notice_json(n);
  EXPECT_NE(json.find(R"("condition":"RecordAgeExceeded")"), std::string::npos);
  EXPECT_EQ(json.find("responseContext"), std::string::npos);
  EXPECT_NE(json.find(R"("approximateInvokeCount":3},"version":"1.0")"), std::string::npos);
}

TEST(FailureNoticeTest, ObjectAddsThePayloadAfterTheNotice) {
  const FailureNotice n = sample();
  const std::string notice = notice_json(n);
  const std::string object = notice_object_json(n, R"({"Records":[{"a":1}]})");
  ASSERT_EQ(object.substr(0, notice.size() - 1), notice.substr(0, notice.size() - 1));
  EXPECT_EQ(object.substr(notice.size() - 1), R"(,"payload":{"Records":[{"a":1}]}})");
}

TEST(FailureNoticeTest, ObjectKeyFollowsTheSpecLayoutInUtc) {
  EXPECT_EQ(notice_object_key("7d2c4a8e-0000-4000-8000-000000000001", sample(), "u-1"),
            "aws/lambda/7d2c4a8e-0000-4000-8000-000000000001/shardId-000000000002/2026/01/01/"
            "2026-01-01T00.15.17-u-1");
}

TEST(FailureNoticeTest, MillisecondTimesPadAndHandleTheEpoch) {
  EXPECT_EQ(iso8601_millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_millis(5), "1970-01-01T00:00:00.005Z");
  EXPECT_EQ(iso8601_millis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(iso8601_millis(1767225599999), "2025-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace sluice::esm
