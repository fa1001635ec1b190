#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

// Where logic reads the time. Only server/ wires in SystemClock; tests use ManualClock
// (tests/support/manual_clock.h). Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (record arrival times, retention).
  virtual int64_t now_ms() const = 0;
  // Monotonic time for timeouts and durations.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
  static SystemClock* instance();
};

}  // namespace sluice
