#include "s3/internal/checksums.h"

#include "base/base64.h"
#include "base/bytes.h"
#include "base/check.h"

#include <cstddef>
#include <openssl/evp.h>

namespace sluice::s3::internal {

namespace {

template <typename T>
struct CrcTable {
  std::array<T, 256> entries{};
  explicit constexpr CrcTable(T reflected_poly) {
    for (uint32_t i = 0; i < 256; ++i) {
      T c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ reflected_poly : c >> 1;
      entries[i] = c;
    }
  }
};

// All three are reflected CRCs with all-ones initial value and final XOR; only the
// polynomial differs. Tables are built once, at compile time.
template <typename T>
T reflected_crc(const CrcTable<T>& table, std::string_view data) {
  T c = ~T{0};
  for (const char ch : data) c = table.entries[(c ^ static_cast<uint8_t>(ch)) & 0xff] ^ (c >> 8);
  return ~c;
}

constexpr CrcTable<uint32_t> kCrc32Table(0xEDB88320u);
constexpr CrcTable<uint32_t> kCrc32cTable(0x82F63B78u);
constexpr CrcTable<uint64_t> kCrc64NvmeTable(0x9A6C9329AC4BC9B5ull);

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  SLUICE_CHECK(EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) == 1,
               "EVP_Digest failed");
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string big_endian(uint64_t v, int bytes) {
  std::string out(static_cast<size_t>(bytes), '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

}  // namespace

Md5Digest md5(std::string_view data) {
  const std::string d = digest(EVP_md5(), data);
  Md5Digest out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(d[i]);
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string etag_of(std::string_view body) {
  const Md5Digest d = md5(body);
  return "\"" + hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size())) + "\"";
}

std::string sha256_hex(std::string_view data) { return hex(digest(EVP_sha256(), data)); }

uint32_t crc32(std::string_view data) { return reflected_crc(kCrc32Table, data); }
uint32_t crc32c(std::string_view data) { return reflected_crc(kCrc32cTable, data); }
uint64_t crc64nvme(std::string_view data) { return reflected_crc(kCrc64NvmeTable, data); }

std::optional<ChecksumAlgorithm> checksum_algorithm(std::string_view s) {
  if (s == "crc32") return ChecksumAlgorithm::kCrc32;
  if (s == "crc32c") return ChecksumAlgorithm::kCrc32c;
  if (s == "crc64nvme") return ChecksumAlgorithm::kCrc64Nvme;
  if (s == "sha1") return ChecksumAlgorithm::kSha1;
  if (s == "sha256") return ChecksumAlgorithm::kSha256;
  return std::nullopt;
}

std::string_view checksum_header(ChecksumAlgorithm a) {
  switch (a) {
    case ChecksumAlgorithm::kCrc32:
      return "x-amz-checksum-crc32";
    case ChecksumAlgorithm::kCrc32c:
      return "x-amz-checksum-crc32c";
    case ChecksumAlgorithm::kCrc64Nvme:
      return "x-amz-checksum-crc64nvme";
    case ChecksumAlgorithm::kSha1:
      return "x-amz-checksum-sha1";
    case ChecksumAlgorithm::kSha256:
      return "x-amz-checksum-sha256";
  }
  return "";
}

std::string_view checksum_name(ChecksumAlgorithm a) {
  switch (a) {
    case ChecksumAlgorithm::kCrc32:
      return "CRC32";
    case ChecksumAlgorithm::kCrc32c:
      return "CRC32C";
    case ChecksumAlgorithm::kCrc64Nvme:
      return "CRC64NVME";
    case ChecksumAlgorithm::kSha1:
      return "SHA1";
    case ChecksumAlgorithm::kSha256:
      return "SHA256";
  }
  return "";
}

std::string checksum_value(ChecksumAlgorithm a, std::string_view data) {
  std::string raw;
  switch (a) {
    case ChecksumAlgorithm::kCrc32:
      raw = big_endian(crc32(data), 4);
      break;
    case ChecksumAlgorithm::kCrc32c:
      raw = big_endian(crc32c(data), 4);
      break;
    case ChecksumAlgorithm::kCrc64Nvme:
      raw = big_endian(crc64nvme(data), 8);
      break;
    case ChecksumAlgorithm::kSha1:
      raw = digest(EVP_sha1(), data);
      break;
    case ChecksumAlgorithm::kSha256:
      raw = digest(EVP_sha256(), data);
      break;
  }
  return base64_encode(as_bytes(raw));
}

}  // namespace sluice::s3::internal
