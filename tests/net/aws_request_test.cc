// The AWS request conventions shared by the Kinesis and Lambda APIs.

#include "net/aws_request.h"

#include <gtest/gtest.h>

namespace sluice::net {
namespace {

Request with_auth(std::string_view auth, std::string_view query = "") {
  Request r;
  r.method = "POST";
  r.path = "/";
  r.query = query;
  if (!auth.empty()) r.headers.push_back({"Authorization", auth});
  return r;
}

TEST(PercentDecodeTest, DecodesPairsAndLeavesBrokenEscapesAlone) {
  EXPECT_EQ(percent_decode("arn%3Aaws%3alambda"), "arn:aws:lambda");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(percent_decode("a+b%20c"), "a+b c");
}

TEST(QueryTest, RawParamAndDecodedList) {
  EXPECT_EQ(query_param("a=1&X-Amz-Credential=k%2Fd&b", "X-Amz-Credential"), "k%2Fd");
  EXPECT_EQ(query_param("a=1&b", "b"), "");
  EXPECT_FALSE(query_param("a=1&bb=2", "b").has_value());
  const auto all = parse_query("tagKeys=a&tagKeys=b%2Fc&&flag");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1], (std::pair<std::string, std::string>{"tagKeys", "b/c"}));
  EXPECT_EQ(all[2], (std::pair<std::string, std::string>{"flag", ""}));
}

TEST(CallerTest, AccountFromATwelveDigitKeyAndRegionFromTheScope) {
  const Caller c =
      caller_of(with_auth("AWS4-HMAC-SHA256 Credential=123456789012/20240101/eu-west-3/kinesis/"
                          "aws4_request, SignedHeaders=host, Signature=x"),
                "000000000000", "us-east-1");
  EXPECT_EQ(c.account, "123456789012");
  EXPECT_EQ(c.region, "eu-west-3");
}

TEST(CallerTest, DefaultsForWhatTheCredentialDoesNotSay) {
  EXPECT_EQ(caller_of(with_auth(""), "111111111111", "ap-south-1").account, "111111111111");
  const Caller named =
      caller_of(with_auth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101//lambda/aws4_request"),
                "111111111111", "ap-south-1");
  EXPECT_EQ(named.account, "111111111111");
  EXPECT_EQ(named.region, "ap-south-1");
  const Caller odd = caller_of(
      with_auth("AWS4-HMAC-SHA256 Credential=12345678901x/20240101/Not_A_Region/s/aws4_request"),
      "111111111111", "ap-south-1");
  EXPECT_EQ(odd.account, "111111111111");
  EXPECT_EQ(odd.region, "ap-south-1");
}

TEST(CallerTest, PresignedQueryCredential) {
  const Caller c = caller_of(
      with_auth("",
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=222222222222%2F20240101"
                "%2Fus-west-2%2Fkinesis%2Faws4_request"),
      "000000000000", "us-east-1");
  EXPECT_EQ(c.account, "222222222222");
  EXPECT_EQ(c.region, "us-west-2");
}

}  // namespace
}  // namespace sluice::net
