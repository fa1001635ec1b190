#pragma once

#include "esm/batch_result.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice::esm {

// The failure settings of a mapping (spec 1.2).
struct FailurePolicy {
  bool bisect_on_function_error = false;
  int32_t maximum_retry_attempts = -1;  // -1: forever
};

// What the reader does next with the batch it just invoked (spec 6.2-6.4). No clock and no
// I/O: the reader applies it.
struct Decision {
  enum class Kind {
    kDone,     // every record is done: checkpoint past the batch
    kAdvance,  // the first `count` records are done; the rest is the new unit, `attempts`
    kSplit,    // function error, bisect: first `count` records, then the rest, each with 0
    kRetry,    // invoke the same records again after a back-off, with `attempts`
    kDiscard,  // retries exhausted: discard the batch (RetryAttemptsExhausted)
    kWait,     // invocation error: invoke again after a back-off, `attempts` unchanged
  };
  Kind kind = Kind::kDone;
  size_t count = 0;
  int32_t attempts = 0;
};

// `size` records were invoked after `attempts` failed attempts of this unit; `result` is the
// classification. Follows the pseudo-code of spec 6.3: a valid partial response that made
// progress gives the remainder a fresh count; one at the first record counts as a failed
// attempt of the whole unit (no halving).
Decision decide(const BatchResult& result, size_t size, int32_t attempts,
                const FailurePolicy& policy);

// How many leading records of a batch are older than `max_age_s` at `now_ms` (spec 6.5).
// `arrival_ms` is in batch order (non-decreasing). -1 disables the check (returns 0).
size_t expired_prefix(std::span<const int64_t> arrival_ms, int64_t now_ms, int32_t max_age_s);

// The wait before invoking a unit again after its `attempt`-th failure (1-based): `base_ms`
// doubled per further attempt, at most `max_ms` (spec 6.2, docs/esm.md).
int64_t retry_backoff_ms(int32_t attempt, int64_t base_ms, int64_t max_ms);

}  // namespace sluice::esm
