#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

struct evp_md_ctx_st;

namespace sluice::lambda::internal {

// SHA-256 for CodeSha256, through OpenSSL's EVP interface. Incremental: update() any number
// of times, then finish() once. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  std::array<uint8_t, 32> finish();

  static std::array<uint8_t, 32> of(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
  }

 private:
  evp_md_ctx_st* ctx_;
};

}  // namespace sluice::lambda::internal
