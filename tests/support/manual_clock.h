#pragma once

#include "base/check.h"
#include "base/clock.h"

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

// A Clock that moves only when a test moves it, so time-dependent logic (retention, iterator
// expiry, batching windows, timeouts) is tested without sleeping. Created by the test and
// handed to the code under test, which borrows it.
//
// advance_ms() moves wall time and steady time together. set_ms() jumps wall time only,
// forwards or backwards, as a wall clock may; steady time never goes back.
// Thread-safe: any thread may read or move it. A reader racing with advance_ms() may see the
// new wall time with the old steady time for an instant.
class ManualClock final : public Clock {
 public:
  // 2023-11-14T22:13:20Z: far from 0, so that "unset" timestamps stand out.
  static constexpr int64_t kDefaultStartMs = 1'700'000'000'000;

  explicit ManualClock(int64_t start_ms = kDefaultStartMs) : now_ms_(start_ms) {}

  int64_t now_ms() const override { return now_ms_.load(std::memory_order_acquire); }
  // Starts at an arbitrary point (the steady epoch plus one hour), like a real steady clock.
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::milliseconds(steady_ms_.load(std::memory_order_acquire)));
  }

  void set_ms(int64_t now_ms) { now_ms_.store(now_ms, std::memory_order_release); }
  // REQUIRES: delta_ms >= 0.
  void advance_ms(int64_t delta_ms) {
    SLUICE_CHECK(delta_ms >= 0, "ManualClock::advance_ms({}): time does not go back", delta_ms);
    now_ms_.fetch_add(delta_ms, std::memory_order_acq_rel);
    steady_ms_.fetch_add(delta_ms, std::memory_order_acq_rel);
  }

 private:
  std::atomic<int64_t> now_ms_;
  std::atomic<int64_t> steady_ms_{3'600'000};
};

}  // namespace sluice
