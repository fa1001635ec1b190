#include "stream/throttle.h"

#include <algorithm>

namespace sluice::stream {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

void TokenBucket::refill(int64_t now_ms) {
  if (last_ms_ < 0) last_ms_ = now_ms;
  if (now_ms <= last_ms_) return;  // a clock that steps back refills nothing
  tokens_ = std::min(capacity_, tokens_ + per_second_ * double(now_ms - last_ms_) / 1000.0);
  last_ms_ = now_ms;
}

bool TokenBucket::can_take(int64_t now_ms, double amount) {
  refill(now_ms);
  return tokens_ >= amount || tokens_ >= capacity_;
}

void TokenBucket::take(int64_t now_ms, double amount) {
  refill(now_ms);
  tokens_ = std::max(tokens_ - amount, -max_debt_);
}

bool TokenBucket::positive(int64_t now_ms) {
  refill(now_ms);
  return tokens_ > 0;
}

ShardThrottle::ShardThrottle()
    // A record above 1 MiB (streams may allow up to 10 MiB) passes a full bucket and leaves
    // a debt that later writes wait out.
    : write_bytes_(kMiB, kMiB, 9 * kMiB),
      write_records_(1000, 1000),
      read_calls_(5, 5),
      // A full bucket holds one second of reads; a 10 MiB read leaves 8 MiB of debt, which
      // takes the next 4-5 seconds to repay.
      read_bytes_(2 * kMiB, 2 * kMiB, 8 * kMiB),
      iterator_calls_(5, 5) {}

bool ShardThrottle::admit_write(int64_t now_ms, size_t bytes) {
  std::lock_guard lock(mu_);
  if (!write_bytes_.can_take(now_ms, double(bytes)) || !write_records_.can_take(now_ms, 1)) {
    return false;
  }
  write_bytes_.take(now_ms, double(bytes));
  write_records_.take(now_ms, 1);
  return true;
}

bool ShardThrottle::admit_read(int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!read_bytes_.positive(now_ms) || !read_calls_.can_take(now_ms, 1)) return false;
  read_calls_.take(now_ms, 1);
  return true;
}

void ShardThrottle::charge_read(int64_t now_ms, size_t bytes) {
  std::lock_guard lock(mu_);
  read_bytes_.take(now_ms, double(bytes));
}

bool ShardThrottle::admit_iterator(int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!iterator_calls_.can_take(now_ms, 1)) return false;
  iterator_calls_.take(now_ms, 1);
  return true;
}

}  // namespace sluice::stream
