#include "stream/internal/crypto.h"

#include "base/base64.h"
#include "base/check.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace sluice::stream::internal {

namespace {

// OpenSSL 3 looks an algorithm up (locks, property matching) on every EVP_Digest() with
// EVP_md5(); a partition key costs one MD5, so the method is fetched once per process and
// each thread keeps its own context.
const EVP_MD* md5_method() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "MD5", nullptr);
    SLUICE_CHECK(m != nullptr, "EVP_MD_fetch(MD5) failed");
    return m;
  }();
  return md;
}

struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  DigestContext() { SLUICE_CHECK(ctx != nullptr, "EVP_MD_CTX_new failed"); }
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
  DigestContext(const DigestContext&) = delete;
  DigestContext& operator=(const DigestContext&) = delete;
};

}  // namespace

Md5Digest md5(ByteView data) {
  thread_local DigestContext context;
  Md5Digest out{};
  unsigned int len = 0;
  const int ok = EVP_DigestInit_ex2(context.ctx, md5_method(), nullptr) == 1 &&
                 EVP_DigestUpdate(context.ctx, data.data(), data.size()) == 1 &&
                 EVP_DigestFinal_ex(context.ctx, out.data(), &len) == 1;
  SLUICE_CHECK(ok && len == out.size(), "MD5 digest failed");
  return out;
}

Sha256Mac hmac_sha256(ByteView key, ByteView data) {
  Sha256Mac out{};
  unsigned int len = 0;
  const unsigned char* r =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  SLUICE_CHECK(r != nullptr && len == out.size(), "HMAC(SHA-256) failed");
  return out;
}

bool constant_time_equal(ByteView a, ByteView b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Status::internal("the OpenSSL random generator failed");
  }
  return out;
}

std::string base64_encode(ByteView data) { return sluice::base64_encode(data); }

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  if (sluice::base64_decode(text, out)) return std::nullopt;
  return out;
}

std::string hex_encode(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::byte b : data) {
    out += kDigits[uint8_t(b) >> 4];
    out += kDigits[uint8_t(b) & 15];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace sluice::stream::internal
