#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// The digests S3 speaks: MD5 for ETags and Content-MD5, and the flexible checksums a client
// may send with PutObject (x-amz-checksum-<algorithm>). Stateless and thread-safe.
namespace sluice::s3::internal {

using Md5Digest = std::array<uint8_t, 16>;
Md5Digest md5(std::string_view data);
// Lowercase hex of `bytes`.
std::string hex(std::string_view bytes);
// The quoted lowercase hex MD5 of `body`, as an ETag: "\"d41d8cd98f00b204e9800998ecf8427e\"".
std::string etag_of(std::string_view body);

// Lowercase hex SHA-256 of `data`, as x-amz-content-sha256 carries it.
std::string sha256_hex(std::string_view data);

// CRC-32 (IEEE 802.3, zlib's), CRC-32C (Castagnoli) and CRC-64/NVME, each of all of `data`.
uint32_t crc32(std::string_view data);
uint32_t crc32c(std::string_view data);
uint64_t crc64nvme(std::string_view data);

// The flexible checksum algorithms, by the suffix of their header name
// (x-amz-checksum-crc32 -> "crc32").
enum class ChecksumAlgorithm : uint8_t { kCrc32, kCrc32c, kCrc64Nvme, kSha1, kSha256 };
std::optional<ChecksumAlgorithm> checksum_algorithm(std::string_view lowercase_suffix);
std::string_view checksum_header(ChecksumAlgorithm a);  // "x-amz-checksum-crc32"
std::string_view checksum_name(ChecksumAlgorithm a);    // "CRC32", as S3 spells it in errors

// The value S3 would put in the checksum header for `data`: the base64 of the big-endian
// digest.
std::string checksum_value(ChecksumAlgorithm a, std::string_view data);

}  // namespace sluice::s3::internal
