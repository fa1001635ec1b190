#pragma once

#include "base/result.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// One stored object file: a fixed prefix, a block of named fields, then the body bytes.
// Layout, byte order and checksum coverage: docs/formats/s3-store.md. Stateless.
namespace sluice::s3::internal {

inline constexpr std::string_view kObjectMagic = "SLS3OBJ1";
inline constexpr size_t kFixedBytes = 36;
// Larger field blocks are refused as corrupt: S3 caps user metadata at 2 KB, keys at 1 KB.
inline constexpr uint32_t kMaxFieldBytes = 64 * 1024;

struct ObjectHeader {
  std::string key;
  std::string etag;  // quoted hex MD5 of the body
  int64_t last_modified_ms = 0;
  std::string content_type;
  // Stored response headers (lowercase names): x-amz-meta-*, content-encoding,
  // cache-control, content-disposition, content-language, expires, x-amz-checksum-*.
  std::vector<std::pair<std::string, std::string>> headers;
  uint64_t body_bytes = 0;
  uint64_t body_checksum = 0;  // XXH3-64 of the body

  bool operator==(const ObjectHeader&) const = default;
};

// Prefix and field block for `h`; the body follows it in the file.
std::string encode_object_header(const ObjectHeader& h);

// The size of the field block announced by the first kFixedBytes of a file. kCorruption
// (naming `where`) for a short prefix, wrong magic or an impossible size.
Result<uint32_t> field_block_bytes(std::string_view fixed, std::string_view where);

// Decodes prefix and field block. `bytes` holds at least kFixedBytes + field_block_bytes().
// kCorruption naming `where` when the checksum, a length or a required field is wrong.
Result<ObjectHeader> decode_object_header(std::string_view bytes, std::string_view where);

}  // namespace sluice::s3::internal
