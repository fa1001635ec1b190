#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace sluice::stream {

// A token bucket over a millisecond clock: holds at most `capacity` tokens and gains
// `per_second` tokens a second. It may be charged into debt (down to -`max_debt`), which
// later requests then wait out: that is how one large read holds off the next calls.
// Not thread-safe; ShardThrottle guards its buckets.
class TokenBucket {
 public:
  TokenBucket(double capacity, double per_second, double max_debt = 0)
      : capacity_(capacity), per_second_(per_second), max_debt_(max_debt), tokens_(capacity) {}

  // Whether `amount` tokens are there at `now_ms` (or the bucket is full, so that a request
  // larger than the capacity is not refused forever). Takes nothing.
  bool can_take(int64_t now_ms, double amount);
  // Takes `amount`, into debt if need be.
  void take(int64_t now_ms, double amount);
  // Whether the bucket holds a positive amount (it is not in debt and not empty).
  bool positive(int64_t now_ms);

 private:
  void refill(int64_t now_ms);

  double capacity_;
  double per_second_;
  double max_debt_;
  double tokens_;
  int64_t last_ms_ = -1;
};

// The per-shard limits of a provisioned Kinesis shard (spec 8.2), enforced when the server
// runs with --enforce-limits (spec 8.3):
//   writes: 1 MiB/s of data + partition key bytes and 1000 records/s (a larger record passes a
//   full bucket and leaves a debt);
//   GetRecords: 5 calls/s and 2 MiB/s, where one call may return up to 10 MiB and the debt
//   it leaves holds off later calls until it is repaid (about 5 s after a 10 MiB read);
//   GetShardIterator: 5 calls/s.
// Thread-safe: every method locks the throttle's own mutex briefly.
class ShardThrottle {
 public:
  ShardThrottle();

  // One record of `bytes` (data + partition key): admitted (and charged) or not.
  bool admit_write(int64_t now_ms, size_t bytes);
  // One GetRecords call: admitted (and its call charged) or not.
  bool admit_read(int64_t now_ms);
  // What an admitted GetRecords call returned (data + partition key bytes).
  void charge_read(int64_t now_ms, size_t bytes);
  bool admit_iterator(int64_t now_ms);

 private:
  std::mutex mu_;
  TokenBucket write_bytes_;
  TokenBucket write_records_;
  TokenBucket read_calls_;
  TokenBucket read_bytes_;
  TokenBucket iterator_calls_;
};

}  // namespace sluice::stream
