#include "lambda/internal/sha256.h"

#include "base/check.h"

#include <openssl/evp.h>

namespace sluice::lambda::internal {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  SLUICE_CHECK(ctx_ != nullptr, "EVP_MD_CTX_new failed");
  SLUICE_CHECK(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1, "SHA-256 init failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(std::string_view data) {
  SLUICE_CHECK(EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1, "SHA-256 update failed");
}

std::array<uint8_t, 32> Sha256::finish() {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  SLUICE_CHECK(EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1 && len == out.size(),
               "SHA-256 final failed");
  return out;
}

}  // namespace sluice::lambda::internal
