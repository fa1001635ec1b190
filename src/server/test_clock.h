#pragma once

#include "base/clock.h"

#include <atomic>
#include <cstdint>

namespace sluice::server {

// A wall clock that tests can move forward: `base`'s time plus an offset. Only the wall
// clock moves (record arrival times, ages, retention); steady time, and with it every timer,
// stays `base`'s. Installed by `sluice serve --test-clock`, which also opens
// POST /_sluice/test/clock?advance_ms=N (docs/esm.md, "Testing record ages"). Thread-safe.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(const Clock* base) : base_(base) {}

  int64_t now_ms() const override {
    return base_->now_ms() + offset_ms_.load(std::memory_order_relaxed);
  }
  std::chrono::steady_clock::time_point steady_now() const override { return base_->steady_now(); }
  // Moves the wall clock forward by `ms` (>= 0); returns the total offset.
  int64_t advance(int64_t ms) { return offset_ms_.fetch_add(ms) + ms; }

 private:
  const Clock* const base_;
  std::atomic<int64_t> offset_ms_{0};
};

}  // namespace sluice::server
