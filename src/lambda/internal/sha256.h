#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::lambda::internal {

// SHA-256 (FIPS 180-4), for CodeSha256. Incremental: update() any number of times, then
// finish() once. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::array<uint8_t, 32> finish();

  static std::array<uint8_t, 32> of(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
  }

 private:
  void block(const uint8_t* p);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace sluice::lambda::internal
