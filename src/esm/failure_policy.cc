#include "esm/failure_policy.h"

#include "base/check.h"

#include <algorithm>

namespace sluice::esm {

namespace {

// One more failed attempt of the whole unit of `size` records: retry it, or discard it once
// the attempts exceed MaximumRetryAttempts (N retries = N + 1 invocations, spec 6.2). A
// kDiscard carries the unit's size and the number of invocations made, which is the failure
// notice's approximateInvokeCount.
Decision failed_attempt(size_t size, int32_t attempts, const FailurePolicy& policy) {
  const int32_t next = attempts + 1;
  if (policy.maximum_retry_attempts != -1 && next > policy.maximum_retry_attempts) {
    return Decision{Decision::Kind::kDiscard, size, next};
  }
  return Decision{Decision::Kind::kRetry, size, next};
}

}  // namespace

Decision decide(const BatchResult& result, size_t size, int32_t attempts,
                const FailurePolicy& policy) {
  SLUICE_CHECK(size > 0, "decide() on an empty unit");
  SLUICE_CHECK(attempts >= 0, "decide() with {} attempts", attempts);
  switch (result.kind) {  // no default: -Wswitch points here when a Kind is added
    case BatchResult::Kind::kSuccess:
      return Decision{Decision::Kind::kDone, size, 0};
    case BatchResult::Kind::kPartial:
      SLUICE_CHECK(result.first_failed < size, "partial at {} of a unit of {}", result.first_failed,
                   size);
      // Progress: the records before the reported one are done and the remainder starts a
      // fresh count (spec 6.2). No progress: a failed attempt of the whole unit, never halved
      // (a valid partial response splits at the reported record only, spec 6.3).
      if (result.first_failed > 0) {
        return Decision{Decision::Kind::kAdvance, result.first_failed, 0};
      }
      return failed_attempt(size, attempts, policy);
    case BatchResult::Kind::kFunctionError:
      // Halving consumes no attempt; each half starts at 0 and the first runs first.
      if (policy.bisect_on_function_error && size > 1) {
        return Decision{Decision::Kind::kSplit, (size + 1) / 2, 0};
      }
      return failed_attempt(size, attempts, policy);
    case BatchResult::Kind::kInvocationError:
      // Nothing ran: no attempt consumed; only the record age ends this (spec 6.1, 6.5).
      return Decision{Decision::Kind::kWait, size, attempts};
  }
  SLUICE_CHECK(false, "unknown BatchResult kind {}", static_cast<int>(result.kind));
  return Decision{};
}

size_t expired_prefix(std::span<const int64_t> arrival_ms, int64_t now_ms, int32_t max_age_s) {
  if (max_age_s < 0) return 0;  // -1: no limit
  const int64_t limit_ms = static_cast<int64_t>(max_age_s) * 1000;
  size_t n = 0;
  for (const int64_t arrival : arrival_ms) {
    int64_t age_ms = 0;
    // An age too large for int64 can only be a huge positive one (arrival far in the past)
    // or a huge negative one (arrival far in the future); the first is expired.
    if (__builtin_sub_overflow(now_ms, arrival, &age_ms)) {
      if (arrival > now_ms) break;
      ++n;
      continue;
    }
    if (age_ms <= limit_ms) break;
    ++n;
  }
  return n;
}

int64_t retry_backoff_ms(int32_t attempt, int64_t base_ms, int64_t max_ms) {
  max_ms = std::max<int64_t>(max_ms, 0);
  int64_t wait = std::clamp<int64_t>(base_ms, 0, max_ms);
  // Doubling stops at the cap, so the loop is short and never overflows (wait <= max / 2
  // before each doubling).
  for (int32_t i = 1; i < attempt && wait > 0 && wait < max_ms; ++i) {
    wait = wait > max_ms / 2 ? max_ms : wait * 2;
  }
  return wait;
}

}  // namespace sluice::esm
