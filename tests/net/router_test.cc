#include "net/router.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace sluice::net {
namespace {

Request make_request(std::string_view method, std::string_view path) {
  Request r;
  r.method = method;
  r.target = path;
  r.path = path;
  return r;
}

Handler answer(std::string body) {
  return [body = std::move(body)](const Request&) { return Response::text(200, body); };
}

TEST(RouterTest, RoutesByMethodAndExactPath) {
  Router router;
  router.add("GET", "/a", answer("get a"));
  router.add("POST", "/a", answer("post a"));
  router.add("GET", "/a/b", answer("get a/b"));
  EXPECT_EQ(router.route(make_request("GET", "/a")).body, "get a");
  EXPECT_EQ(router.route(make_request("POST", "/a")).body, "post a");
  EXPECT_EQ(router.route(make_request("GET", "/a/b")).body, "get a/b");
  EXPECT_EQ(router.route(make_request("GET", "/a/")).status, 404);
}

TEST(RouterTest, UnknownPathIs404Json) {
  Router router;
  const Response r = router.route(make_request("GET", "/nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"message":"no route for GET /nope"})");
}

TEST(RouterTest, KnownPathWithOtherMethodIs405ListingAllowedMethods) {
  Router router;
  router.add("GET", "/a", answer("x"));
  router.add("PUT", "/a", answer("y"));
  const Response r = router.route(make_request("DELETE", "/a"));
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET, PUT");
}

TEST(RouterTest, AmzTargetRoutesByLongestPrefix) {
  Router router;
  router.add_target_prefix("Kinesis_20131202.", answer("kinesis"));
  router.add_target_prefix("Kinesis_20131202.Put", answer("put"));
  Request r = make_request("POST", "/");
  r.headers.push_back({"x-amz-target", "Kinesis_20131202.PutRecords"});
  EXPECT_EQ(router.route(r).body, "put");
  r.headers[0].value = "Kinesis_20131202.ListStreams";
  EXPECT_EQ(router.route(r).body, "kinesis");
}

TEST(RouterTest, UnknownAmzTargetIsUnknownOperationException) {
  Router router;
  router.add_target_prefix("Kinesis_20131202.", answer("kinesis"));
  router.add("POST", "/", answer("path route must not win"));
  Request r = make_request("POST", "/");
  r.headers.push_back({"X-Amz-Target", "DynamoDB_20120810.\"Scan\"\x01"});
  const Response resp = router.route(r);
  EXPECT_EQ(resp.status, 400);  // as Kinesis answers an unknown X-Amz-Target
  EXPECT_EQ(
      resp.body,
      R"({"__type":"UnknownOperationException","message":"unknown operation DynamoDB_20120810.\"Scan\"?"})");
}

TEST(RouterTest, EmptyAmzTargetFallsBackToPathRouting) {
  Router router;
  router.add("POST", "/", answer("path"));
  Request r = make_request("POST", "/");
  r.headers.push_back({"X-Amz-Target", ""});
  EXPECT_EQ(router.route(r).body, "path");
}

TEST(RouterTest, HandlerExceptionsPropagateToTheCaller) {
  Router router;
  router.add("GET", "/boom", [](const Request&) -> Response { throw std::runtime_error("x"); });
  EXPECT_THROW(router.route(make_request("GET", "/boom")), std::runtime_error);
}

TEST(RouterDeathTest, DuplicateRouteIsABug) {
  Router router;
  router.add("GET", "/a", answer("x"));
  EXPECT_DEATH(router.add("GET", "/a", answer("y")), "registered twice");
}

TEST(RouterTest, PathPrefixRouteTakesEveryMethodUnderThePrefix) {
  Router router;
  router.add_path_prefix("/2015-03-31/", answer("lambda"));
  EXPECT_EQ(router.route(make_request("GET", "/2015-03-31/functions")).body, "lambda");
  EXPECT_EQ(router.route(make_request("DELETE", "/2015-03-31/functions/f")).body, "lambda");
  EXPECT_EQ(router.route(make_request("PUT", "/2015-03-31/")).body, "lambda");
  EXPECT_EQ(router.route(make_request("GET", "/2015-03-31")).status, 404);
  EXPECT_EQ(router.route(make_request("GET", "/2016-08-19/x")).status, 404);
}

TEST(RouterTest, LongestPathPrefixWins) {
  Router router;
  router.add_path_prefix("/a/", answer("short"));
  router.add_path_prefix("/a/b/", answer("long"));
  EXPECT_EQ(router.route(make_request("GET", "/a/b/c")).body, "long");
  EXPECT_EQ(router.route(make_request("GET", "/a/c")).body, "short");
}

TEST(RouterTest, ExactPathBeatsPathPrefixAndOtherMethodsFallToThePrefix) {
  Router router;
  router.add("GET", "/a/health", answer("exact"));
  router.add_path_prefix("/a/", answer("prefix"));
  EXPECT_EQ(router.route(make_request("GET", "/a/health")).body, "exact");
  EXPECT_EQ(router.route(make_request("POST", "/a/health")).body, "prefix");
}

TEST(RouterTest, TargetHeaderBeatsPathPrefix) {
  Router router;
  router.add_target_prefix("Kinesis_20131202.", answer("kinesis"));
  router.add_path_prefix("/2015-03-31/", answer("lambda"));
  Request r = make_request("POST", "/2015-03-31/functions");
  r.headers.push_back({"X-Amz-Target", "Kinesis_20131202.ListStreams"});
  EXPECT_EQ(router.route(r).body, "kinesis");
}

TEST(RouterTest, SigningServiceRoutesEveryPathOfThatServiceOnly) {
  Router router;
  router.add_signing_service("s3", answer("s3"));
  router.add_path_prefix("/2015-03-31/", answer("lambda"));
  router.add("GET", "/metrics", answer("metrics"));
  constexpr std::string_view kS3 =
      "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/s3/aws4_request, "
      "SignedHeaders=host, Signature=00";
  constexpr std::string_view kLambda =
      "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host, Signature=00";
  // A bucket may be called "metrics" or "2015-03-31": the signature says which API it is.
  Request bucket = make_request("GET", "/metrics");
  bucket.headers.push_back({"Authorization", kS3});
  EXPECT_EQ(router.route(bucket).body, "s3");
  Request object = make_request("PUT", "/2015-03-31/key");
  object.headers.push_back({"Authorization", kS3});
  EXPECT_EQ(router.route(object).body, "s3");
  Request lambda = make_request("GET", "/2015-03-31/functions");
  lambda.headers.push_back({"Authorization", kLambda});
  EXPECT_EQ(router.route(lambda).body, "lambda");
  // Presigned URLs carry the scope in the query.
  Request presigned = make_request("GET", "/bucket/key");
  presigned.query = "X-Amz-Credential=AKID%2F20261127%2Fus-east-1%2Fs3%2Faws4_request";
  EXPECT_EQ(router.route(presigned).body, "s3");
  // Signature Version 2 is S3's alone: header and presigned query forms.
  Request v2 = make_request("GET", "/bucket/key");
  v2.headers.push_back({"Authorization", "AWS AKID:c2lnbmF0dXJl"});
  EXPECT_EQ(router.route(v2).body, "s3");
  Request v2_query = make_request("GET", "/bucket/key");
  v2_query.query = "AWSAccessKeyId=AKID&Signature=abc%3D&Expires=1800000000";
  EXPECT_EQ(router.route(v2_query).body, "s3");
  // Unsigned requests keep path routing.
  EXPECT_EQ(router.route(make_request("GET", "/metrics")).body, "metrics");
  EXPECT_EQ(router.route(make_request("GET", "/bucket/key")).status, 404);
}

TEST(RouterDeathTest, DuplicateSigningServiceIsABug) {
  Router router;
  router.add_signing_service("s3", answer("x"));
  EXPECT_DEATH(router.add_signing_service("s3", answer("y")), "registered twice");
}

TEST(RouterDeathTest, DuplicatePathPrefixIsABug) {
  Router router;
  router.add_path_prefix("/p/", answer("x"));
  EXPECT_DEATH(router.add_path_prefix("/p/", answer("y")), "registered twice");
}

TEST(RequestTest, HeaderLookupIgnoresCaseAndReturnsFirst) {
  Request r;
  r.headers = {{"Content-Type", "a"}, {"content-type", "b"}};
  EXPECT_EQ(r.header("CONTENT-TYPE"), "a");
  EXPECT_TRUE(r.has_header("content-type"));
  EXPECT_EQ(r.header("X-Missing"), "");
  EXPECT_FALSE(r.has_header("X-Missing"));
}

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_quote("plain"), R"("plain")");
  EXPECT_EQ(json_quote("a\"b\\c\n\t\x01"), R"("a\"b\\c\n\t\u0001")");
  EXPECT_EQ(json_quote("h\xc3\xa9"), "\"h\xc3\xa9\"");
  // Not UTF-8 (a stray continuation byte, a truncated sequence): every byte >= 0x80 becomes
  // U+FFFD, so the JSON stays valid; the ASCII is kept.
  EXPECT_EQ(json_quote("a\x80"
                       "b\xc3"),
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\"");
  EXPECT_EQ(json_quote("\xc3\xa9\xff"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(ResponseTest, JsonErrorHasAwsShape) {
  const Response r = Response::json_error(400, "ValidationException", "bad \"name\"");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"__type":"ValidationException","message":"bad \"name\""})");
}

TEST(RouterTest, FindTellsBlockingFromAsyncHandlersAndRouteWaitsForEither) {
  Router router;
  router.add("GET", "/sync", answer("sync"));
  router.add("GET", "/async", AsyncHandler([](const Request&, Responder responder) {
               responder.answer_blocking([] { return Response::text(200, "async"); });
             }));
  router.add("GET", "/dropped", AsyncHandler([](const Request&, Responder) {}));
  const auto sync = router.find(make_request("GET", "/sync"));
  ASSERT_TRUE(std::holds_alternative<const Endpoint*>(sync));
  EXPECT_TRUE(std::get<const Endpoint*>(sync)->blocking);
  EXPECT_FALSE(std::get<const Endpoint*>(sync)->async);
  const auto async = router.find(make_request("GET", "/async"));
  ASSERT_TRUE(std::holds_alternative<const Endpoint*>(async));
  EXPECT_TRUE(std::get<const Endpoint*>(async)->async);
  const auto missing = router.find(make_request("GET", "/missing"));
  ASSERT_TRUE(std::holds_alternative<Response>(missing));
  EXPECT_EQ(std::get<Response>(missing).status, 404);

  EXPECT_EQ(router.route(make_request("GET", "/async")).body, "async");
  // A Responder dropped unanswered answers 500 by itself.
  const Response dropped = router.route(make_request("GET", "/dropped"));
  EXPECT_EQ(dropped.status, 500);
  EXPECT_EQ(dropped.body, R"({"__type":"InternalFailure","message":"internal error"})");
}

}  // namespace
}  // namespace sluice::net
