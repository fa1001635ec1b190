#pragma once

#include "base/result.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The aws-chunked content encoding (docs/wire/s3.md, "Streaming uploads"): how AWS SDKs
// stream a PutObject body with `Content-Encoding: aws-chunked`. Grammar:
//
//   body    = *chunk last-chunk *trailer CRLF
//   chunk   = hex-size [ ";" extension ] CRLF data CRLF      ; data: hex-size bytes
//   last    = "0" [ ";" extension ] CRLF
//   trailer = name ":" value CRLF
//
// The extension is `chunk-signature=<hex>` in the signed variants
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]); signatures are not verified, as Sluice
// verifies no SigV4 signature. Trailers carry checksums (x-amz-checksum-crc32:<base64>) and,
// in signed variants, x-amz-trailer-signature. The final CRLF after the trailers may be
// missing (some clients end the body after the last trailer's CRLF).
namespace sluice::s3::internal {

struct DecodedChunks {
  std::string body;
  // Trailer fields in order, names lowercased, values trimmed of blanks.
  std::vector<std::pair<std::string, std::string>> trailers;
};

// Decodes a whole aws-chunked body. kInvalidArgument, naming the byte offset, when the
// framing is broken: a bad size line, data shorter than announced, a chunk not followed by
// CRLF, a malformed trailer, bytes after the end.
Result<DecodedChunks> decode_aws_chunked(std::string_view in);

}  // namespace sluice::s3::internal
