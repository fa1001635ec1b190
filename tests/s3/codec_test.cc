#include "s3/internal/aws_chunked.h"
#include "s3/internal/checksums.h"
#include "s3/internal/object_format.h"
#include "s3/internal/xml.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::s3::internal {
namespace {

using namespace std::string_literals;

// ---- aws-chunked ----

TEST(AwsChunkedTest, DecodesUnsignedBodyWithChecksumTrailer) {
  // What botocore sends for PutObject with STREAMING-UNSIGNED-PAYLOAD-TRAILER.
  const std::string in = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  auto out = decode_aws_chunked(in);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->body, "hello world");
  ASSERT_EQ(out->trailers.size(), 1u);
  EXPECT_EQ(out->trailers[0].first, "x-amz-checksum-crc32");
  EXPECT_EQ(out->trailers[0].second, "DUoRhQ==");
  EXPECT_EQ(checksum_value(ChecksumAlgorithm::kCrc32, out->body), "DUoRhQ==");
}

TEST(AwsChunkedTest, DecodesSignedChunkFramingAndIgnoresSignatures) {
  const std::string sig = ";chunk-signature=" + std::string(64, 'a');
  const std::string in =
      "a" + sig + "\r\n0123456789\r\n3" + sig + "\r\nabc\r\n0" + sig + "\r\n\r\n";
  auto out = decode_aws_chunked(in);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->body, "0123456789abc");
  EXPECT_TRUE(out->trailers.empty());
}

TEST(AwsChunkedTest, AcceptsSignedTrailerAndBodyEndingAfterLastTrailer) {
  const std::string in =
      "3\r\nabc\r\n0\r\nX-Amz-Checksum-Crc32 : NSRBwg==\r\nx-amz-trailer-signature:ff\r\n";
  auto out = decode_aws_chunked(in);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->body, "abc");
  ASSERT_EQ(out->trailers.size(), 2u);
  EXPECT_EQ(out->trailers[0].first, "x-amz-checksum-crc32");
  EXPECT_EQ(out->trailers[0].second, "NSRBwg==");
  EXPECT_EQ(out->trailers[1].first, "x-amz-trailer-signature");
}

TEST(AwsChunkedTest, DecodesEmptyBody) {
  auto out = decode_aws_chunked("0\r\n\r\n");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->body, "");
}

TEST(AwsChunkedTest, DataIsBinarySafe) {
  const std::string data = "\r\n\0\xff"s;
  auto out = decode_aws_chunked("4\r\n" + data + "\r\n0\r\n\r\n");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->body, data);
}

TEST(AwsChunkedTest, RefusesBrokenFraming) {
  for (const std::string& in : {
           "5\r\nhell"s,              // data shorter than announced
           "5\r\nhelloXX0\r\n\r\n"s,  // no CRLF after data
           "zz\r\nab\r\n0\r\n\r\n"s,  // not hex
           "\r\n0\r\n\r\n"s,          // empty size
           "5\r\nhello\r\n"s,         // no last chunk
           "0\r\nnocolon\r\n\r\n"s,   // malformed trailer
           "0\r\n\r\njunk"s,          // bytes after the end
           "10000000000000000\r\n"s,  // absurd size
       }) {
    auto out = decode_aws_chunked(in);
    EXPECT_FALSE(out.ok()) << "accepted: " << in;
    if (!out.ok()) {
      EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
      EXPECT_NE(out.status().message().find("at byte"), std::string_view::npos);
    }
  }
}

// Issue 6 (found by tests/fuzz/s3_chunked_fuzz.cc): a trailer whose name was only blanks
// passed as a trailer with an empty name.
TEST(AwsChunkedTest, RefusesTrailerWithBlankName) {
  for (const std::string& in : {"0\r\n :v\r\n\r\n"s, "0\r\n\t:v\r\n"s}) {
    auto out = decode_aws_chunked(in);
    EXPECT_FALSE(out.ok()) << "accepted: " << in;
    if (!out.ok()) {
      EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
    }
  }
}

// ---- checksums ----

TEST(ChecksumsTest, MatchCatalogueCheckValues) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc64nvme("123456789"), 0xAE8B14860A799888ull);
  EXPECT_EQ(checksum_value(ChecksumAlgorithm::kCrc32, ""), "AAAAAA==");
  EXPECT_EQ(checksum_value(ChecksumAlgorithm::kSha256, "abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  EXPECT_EQ(etag_of(""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ChecksumsTest, AlgorithmsByHeaderSuffix) {
  EXPECT_EQ(checksum_algorithm("crc32c"), ChecksumAlgorithm::kCrc32c);
  EXPECT_EQ(checksum_algorithm("md5"), std::nullopt);
  EXPECT_EQ(checksum_header(ChecksumAlgorithm::kCrc64Nvme), "x-amz-checksum-crc64nvme");
}

// ---- object files ----

ObjectHeader sample_header() {
  ObjectHeader h;
  h.key = "dir/ключ/../x";
  h.etag = etag_of("body");
  h.last_modified_ms = 1'700'000'000'123;
  h.content_type = "text/plain";
  h.headers = {{"x-amz-meta-a", "1"}, {"content-encoding", "gzip"}};
  h.body_bytes = 4;
  h.body_checksum = 42;
  return h;
}

TEST(ObjectFormatTest, HeaderRoundTrips) {
  const ObjectHeader h = sample_header();
  const std::string bytes = encode_object_header(h);
  auto n = field_block_bytes(bytes, "f");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(kFixedBytes + *n, bytes.size());
  auto back = decode_object_header(bytes, "f");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, h);
}

TEST(ObjectFormatTest, MatchesWorkedExampleOfTheFormatDoc) {
  ObjectHeader h;
  h.key = "a/b";
  h.etag = etag_of("hi");
  h.last_modified_ms = 1'700'000'000'000;
  h.content_type = "text/plain";
  h.body_bytes = 2;
  const std::string bytes = encode_object_header(h);
  EXPECT_EQ(bytes.substr(0, 12), "SLS3OBJ1\x7b\0\0\0"s);
  EXPECT_EQ(bytes.size(), kFixedBytes + 123);
  EXPECT_EQ(bytes.substr(12, 8), "\x02\0\0\0\0\0\0\0"s);
  EXPECT_EQ(bytes.substr(kFixedBytes, 13), "\x04\0:key\x03\0\0\0a/b"s);
  EXPECT_EQ(h.etag, "\"49f68a5c8493ec2c0bf489821c21fc3b\"");
}

TEST(ObjectFormatTest, EveryFlippedByteIsCorruption) {
  const std::string good = encode_object_header(sample_header());
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto n = field_block_bytes(bad, "f");
    if (!n.ok()) {
      EXPECT_TRUE(n.status().is_corruption());
      continue;
    }
    auto h = decode_object_header(bad, "f");
    EXPECT_FALSE(h.ok()) << "flip at " << i << " went unnoticed";
    if (!h.ok()) {
      EXPECT_TRUE(h.status().is_corruption()) << h.status();
    }
  }
}

TEST(ObjectFormatTest, ShortOrImpossibleHeadersAreCorruption) {
  const std::string good = encode_object_header(sample_header());
  EXPECT_TRUE(field_block_bytes(good.substr(0, 10), "f").status().is_corruption());
  EXPECT_TRUE(decode_object_header(good.substr(0, good.size() - 1), "f").status().is_corruption());
  std::string huge = good;
  huge[11] = '\x7f';  // field block of ~2 GiB
  EXPECT_TRUE(field_block_bytes(huge, "f").status().is_corruption());
}

// ---- XML ----

TEST(XmlTest, EscapesMarkupAndControlCharacters) {
  EXPECT_EQ(xml_escape("a<b>&\"'\x01\tz"), "a&lt;b&gt;&amp;&quot;&apos;&#x1;\tz");
  EXPECT_EQ(xml_escape("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
  // Not UTF-8 (an echoed header): every high byte is replaced, the document stays UTF-8.
  EXPECT_EQ(xml_escape("bytes=\xff-\xc3\xa9"), "bytes=\xEF\xBF\xBD-\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(XmlTest, FindsElementTextsAndDecodesEntities) {
  const std::string doc =
      R"(<?xml version="1.0"?><Delete xmlns="x"><Object><Key>a&amp;b</Key></Object>)"
      R"(<Object><Key>&#x263A;/&lt;c&gt;</Key><KeyMarker>no</KeyMarker></Object>)"
      R"(<Quiet>true</Quiet><Key/></Delete>)";
  auto keys = xml_texts(doc, "Key");
  ASSERT_TRUE(keys.has_value());
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0], "a&b");
  EXPECT_EQ((*keys)[1], "\xE2\x98\xBA/<c>");
  EXPECT_EQ((*keys)[2], "");
  EXPECT_EQ(xml_texts(doc, "Quiet")->front(), "true");
  EXPECT_FALSE(xml_texts("<Key>open", "Key").has_value());
  EXPECT_FALSE(xml_texts("<Key>&bogus;</Key>", "Key").has_value());
}

TEST(XmlTest, WriterClosesRoot) {
  XmlWriter w("R", "xmlns=\"n\"");
  w.open("A");
  w.element("B", "<x>");
  w.close("A");
  EXPECT_EQ(
      std::move(w).finish(),
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R xmlns=\"n\"><A><B>&lt;x&gt;</B></A></R>");
}

}  // namespace
}  // namespace sluice::s3::internal
