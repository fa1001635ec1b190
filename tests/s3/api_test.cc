#include "s3/api.h"

#include "s3/internal/checksums.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::s3 {
namespace {

constexpr std::string_view kAuth =
    "AWS4-HMAC-SHA256 Credential=123456789012/20240101/eu-west-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=00";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ObjectStore::open("/s3", &clock_, &fs_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(s).value();
    api_ = std::make_unique<Api>(store_.get());
  }

  net::Response call(std::string_view method, std::string_view target, std::string body = "",
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Authorization", std::string(kAuth));
    net::Request r;
    r.method = method;
    r.target = target;
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string_view::npos ? "" : target.substr(q + 1);
    for (const auto& [n, v] : headers) r.headers.push_back({n, v});
    r.body = body;
    return api_->handle(r);
  }

  static std::string header(const net::Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
      if (net::iequals(n, name)) return v;
    }
    return "";
  }

  ManualClock clock_;
  MemFileSystem fs_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, ErrorsAreS3XmlWithRequestId) {
  const net::Response r = call("GET", "/missing/key");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/xml");
  EXPECT_NE(r.body.find("<Code>NoSuchBucket</Code>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<BucketName>missing</BucketName>"), std::string::npos);
  const std::string id = header(r, "x-amz-request-id");
  ASSERT_FALSE(id.empty());
  EXPECT_NE(r.body.find("<RequestId>" + id + "</RequestId>"), std::string::npos);
}

TEST_F(ApiTest, HeadErrorsHaveNoBody) {
  const net::Response r = call("HEAD", "/missing");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(ApiTest, CreateBucketUsesLocationConstraintOrCallerRegion) {
  EXPECT_EQ(call("PUT", "/plain").status, 200);
  EXPECT_EQ(store_->bucket("plain")->region, "eu-west-1");
  const std::string cfg =
      "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<LocationConstraint>ap-south-1</LocationConstraint></CreateBucketConfiguration>";
  EXPECT_EQ(call("PUT", "/configured", cfg).status, 200);
  EXPECT_EQ(store_->bucket("configured")->region, "ap-south-1");
  EXPECT_EQ(call("PUT", "/broken", "<CreateBucketConfiguration><LocationConstraint>").status, 400);
  const net::Response again = call("PUT", "/plain");
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find("BucketAlreadyOwnedByYou"), std::string::npos);
  const net::Response bad = call("PUT", "/No_Good");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("InvalidBucketName"), std::string::npos);
}

TEST_F(ApiTest, PutObjectDecodesAwsChunkedAndVerifiesTrailerChecksum) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  const std::string good = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:" +
                           internal::checksum_value(internal::ChecksumAlgorithm::kCrc32, "hello") +
                           "\r\n\r\n";
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Encoding", "aws-chunked"},
      {"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
      {"x-amz-decoded-content-length", "5"},
      {"x-amz-trailer", "x-amz-checksum-crc32"},
      {"Content-Type", "text/plain"}};
  const net::Response put = call("PUT", "/bkt/dir/k", good, headers);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(header(put, "ETag"), internal::etag_of("hello"));
  EXPECT_EQ(header(put, "x-amz-checksum-crc32"), "NhCmhg==");

  const net::Response get = call("GET", "/bkt/dir/k", "", {{"x-amz-checksum-mode", "ENABLED"}});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "hello");
  EXPECT_EQ(get.content_type, "text/plain");
  EXPECT_EQ(header(get, "x-amz-checksum-crc32"), "NhCmhg==");
  EXPECT_TRUE(header(get, "Content-Encoding").empty());  // aws-chunked is not stored

  std::string bad = good;
  bad[3] = 'j';  // "jello": the trailer no longer matches
  const net::Response rejected = call("PUT", "/bkt/dir/k", bad, headers);
  EXPECT_EQ(rejected.status, 400);
  EXPECT_NE(rejected.body.find("<Code>BadDigest</Code>"), std::string::npos);
  EXPECT_EQ(call("GET", "/bkt/dir/k").body, "hello");  // the old object stays

  auto wrong_length = headers;
  wrong_length[2].second = "6";  // x-amz-decoded-content-length
  EXPECT_EQ(call("PUT", "/bkt/dir/k", good, wrong_length).status, 400);

  const net::Response torn = call("PUT", "/bkt/dir/k", "5\r\nhel", headers);
  EXPECT_EQ(torn.status, 400);
  EXPECT_NE(torn.body.find("IncompleteBody"), std::string::npos);
}

TEST_F(ApiTest, ContentMd5AndPayloadHashAreChecked) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  EXPECT_EQ(call("PUT", "/bkt/k", "abc", {{"Content-MD5", "kAFQmDzST7DWlj99KOF/cg=="}}).status,
            200);
  const net::Response bad_md5 =
      call("PUT", "/bkt/k", "abd", {{"Content-MD5", "kAFQmDzST7DWlj99KOF/cg=="}});
  EXPECT_EQ(bad_md5.status, 400);
  EXPECT_NE(bad_md5.body.find("BadDigest"), std::string::npos);
  const net::Response bad_sha =
      call("PUT", "/bkt/k", "abd", {{"x-amz-content-sha256", internal::sha256_hex("abc")}});
  EXPECT_EQ(bad_sha.status, 400);
  EXPECT_NE(bad_sha.body.find("XAmzContentSHA256Mismatch"), std::string::npos);
}

TEST_F(ApiTest, RangeRequests) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  ASSERT_EQ(call("PUT", "/bkt/k", "0123456789").status, 200);
  net::Response r = call("GET", "/bkt/k", "", {{"Range", "bytes=2-4"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "234");
  EXPECT_EQ(header(r, "Content-Range"), "bytes 2-4/10");
  EXPECT_EQ(call("GET", "/bkt/k", "", {{"Range", "bytes=7-"}}).body, "789");
  EXPECT_EQ(call("GET", "/bkt/k", "", {{"Range", "bytes=-2"}}).body, "89");
  EXPECT_EQ(call("GET", "/bkt/k", "", {{"Range", "bytes=8-100"}}).body, "89");
  EXPECT_EQ(call("GET", "/bkt/k", "", {{"Range", "bytes=10-"}}).status, 416);
  EXPECT_EQ(call("GET", "/bkt/k", "", {{"Range", "nonsense"}}).status, 200);
  r = call("HEAD", "/bkt/k");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());  // the object is not read for HEAD
  EXPECT_EQ(r.head_content_length, 10u);
}

TEST_F(ApiTest, ListObjectsV2EncodesKeysWhenAsked) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  ASSERT_EQ(call("PUT", "/bkt/a%20b%2Bc/d%26").status, 200);
  const net::Response r = call("GET", "/bkt?list-type=2&delimiter=%2F&encoding-type=url");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<Prefix>a%20b%2Bc/</Prefix>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<Delimiter>/</Delimiter>"), std::string::npos) << r.body;
  const net::Response plain = call("GET", "/bkt?list-type=2");
  EXPECT_NE(plain.body.find("<Key>a b+c/d&amp;</Key>"), std::string::npos) << plain.body;
  EXPECT_NE(plain.body.find("<KeyCount>1</KeyCount>"), std::string::npos);
  EXPECT_EQ(call("GET", "/bkt?list-type=2&continuation-token=%21%21").status, 400);
  EXPECT_EQ(call("GET", "/bkt?list-type=2&max-keys=x").status, 400);
}

TEST_F(ApiTest, MultipartAndUnknownSubresourcesAreNotImplemented) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  const net::Response r = call("POST", "/bkt/k?uploads");
  EXPECT_EQ(r.status, 501);
  EXPECT_NE(r.body.find("<Code>NotImplemented</Code>"), std::string::npos);
  EXPECT_NE(r.body.find("multipart"), std::string::npos);
  EXPECT_EQ(call("GET", "/bkt?acl").status, 501);
  EXPECT_EQ(call("POST", "/bkt/k").status, 405);
}

TEST_F(ApiTest, DeleteBucketNeedsItEmpty) {
  ASSERT_EQ(call("PUT", "/bkt").status, 200);
  ASSERT_EQ(call("PUT", "/bkt/k", "x").status, 200);
  const net::Response busy = call("DELETE", "/bkt");
  EXPECT_EQ(busy.status, 409);
  EXPECT_NE(busy.body.find("BucketNotEmpty"), std::string::npos);
  EXPECT_EQ(call("DELETE", "/bkt/k").status, 204);
  EXPECT_EQ(call("DELETE", "/bkt/k").status, 204);  // missing key: 204 as well
  EXPECT_EQ(call("DELETE", "/bkt").status, 204);
  EXPECT_EQ(call("DELETE", "/bkt").status, 404);
}

}  // namespace
}  // namespace sluice::s3
