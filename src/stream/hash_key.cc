#include "stream/hash_key.h"

#include "base/bytes.h"
#include "base/check.h"
#include "stream/internal/crypto.h"

#include <algorithm>

namespace sluice::stream {

std::string format_hash_key(HashKey k) {
  if (k == 0) return "0";
  std::string out;
  while (k != 0) {
    out += static_cast<char>('0' + static_cast<int>(k % 10));
    k /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<HashKey> parse_hash_key(std::string_view decimal) {
  if (decimal.empty()) return std::nullopt;
  HashKey v = 0;
  for (char c : decimal) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<HashKey>(c - '0');
    if (v > (kMaxHashKey - d) / 10) return std::nullopt;  // v * 10 + d would exceed 2^128 - 1
    v = v * 10 + d;
  }
  return v;
}

HashKey partition_key_hash(std::string_view partition_key) {
  const internal::Md5Digest d = internal::md5(as_bytes(partition_key));
  HashKey v = 0;
  for (uint8_t b : d) v = (v << 8) | b;
  return v;
}

std::vector<HashKeyRange> divide_hash_space(uint32_t n) {
  SLUICE_CHECK(n >= 1, "divide_hash_space({})", n);
  // floor(2^128 / n) without 2^128 itself: (2^128 - 1) / n is the same unless n divides 2^128,
  // that is unless n is a power of two, where the remainder of (2^128 - 1) / n is n - 1.
  HashKey step = kMaxHashKey / n;
  if (kMaxHashKey % n == n - 1) ++step;
  std::vector<HashKeyRange> out(n);
  for (uint32_t i = 0; i < n; ++i) {
    out[i].starting = step * i;
    out[i].ending = i + 1 == n ? kMaxHashKey : step * (i + 1) - 1;
  }
  return out;
}

}  // namespace sluice::stream
