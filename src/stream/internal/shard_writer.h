#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "stream/backend.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace sluice::stream::internal {

// The per-stream record counter of the sequence numbers (spec 6.2): values 1, 2, 3, ...
// never handed out twice, also across restarts. It persists a reservation
// (`kReservationBlock` values ahead) in the MetadataStore and starts after the persisted
// reservation when reopened, so a restart leaves a gap but never reuses a value.
// Created by the StreamService per stream; `store` is borrowed and must outlive it.
// Thread-safe.
class SequenceCounter {
 public:
  static constexpr uint64_t kReservationBlock = uint64_t{1} << 20;

  // `reserved` is the persisted reservation (0 for a new stream): the next value handed out
  // is max(reserved, 1).
  SequenceCounter(MetadataStore* store, std::string key, uint64_t reserved);

  // The first of `n` consecutive fresh values. Fails (and hands out nothing) when a new
  // reservation cannot be persisted, or the 63-bit space is exhausted.
  Result<uint64_t> allocate(uint64_t n);

 private:
  MetadataStore* const store_;
  const std::string key_;
  std::mutex mu_;
  uint64_t next_;      // GUARDED_BY(mu_)
  uint64_t reserved_;  // GUARDED_BY(mu_): every value below is covered by the store
};

// Where a group of records landed.
struct AppendOutcome {
  LogOffset base_offset;
  uint64_t first_counter = 0;  // record i has counter first_counter + i
  int64_t arrival_ms = 0;      // shared by every record of one append
};

// The only writer of one open shard's log: it gives records their counters and arrival
// times and appends them, so that offset order, counter order and (non-decreasing) arrival
// order agree. Group commit as in LevelDB's DBImpl::Write, without a thread parked per
// request: blocks queue; one lead at a time, run by `schedule` (the service's writer
// threads), takes the blocks at the head of the queue (up to `max_group_bytes`, at least
// one), allocates their counters in queue order, appends them to the log as one batch, and
// calls their callbacks; it goes on while blocks are queued. So a shard's writes are one
// after another, and different shards' writes (and syncs) overlap on different threads.
//
// Created (with make_shared: a scheduled lead holds a reference) by the StreamService when
// a shard opens; close() when the shard closes (reshard) or its stream goes. The log and
// counter are shared/borrowed and must outlive the writer. Thread-safe; submit() from any
// thread.
class ShardWriter : public std::enable_shared_from_this<ShardWriter> {
 public:
  using Done = std::function<void(Result<AppendOutcome>)>;
  // Runs a task on a thread where blocking (pwritev, fdatasync) is allowed.
  using Scheduler = std::function<void(std::function<void()>)>;

  ShardWriter(std::shared_ptr<ShardLog> log, SequenceCounter* counter, const Clock* clock,
              int64_t last_arrival_ms, size_t max_group_bytes, Scheduler schedule);
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Queues `records` (borrowed until `done` has run) as one contiguous block. `done` runs
  // exactly once: with where the block landed, or why it did not. kUnavailable "shard
  // closed" when the writer was closed before the block was written: nothing of it was
  // appended. On a writer already closed, that happens before submit() returns, on the
  // calling thread; otherwise on a thread of `schedule`.
  void submit(std::span<const LogRecordIn> records, Done done);
  // submit() and wait for its `done`.
  Result<AppendOutcome> append(std::span<const LogRecordIn> records);

  // Waits for the write in flight, fails everything still queued with "shard closed", and
  // refuses later submissions the same way; the callbacks of those run through `schedule`.
  // After close() returns, the log's end offset is final. Idempotent. May be called while
  // holding locks that the callbacks take.
  void close();

  int64_t last_arrival_ms() const;

 private:
  struct Ticket {
    std::span<const LogRecordIn> records;
    size_t bytes = 0;
    Done done;
  };
  using Tickets = std::vector<std::unique_ptr<Ticket>>;

  // Writes groups until the queue is empty or the writer is closed. Runs through schedule_,
  // one at a time (leading_).
  void lead();
  // Fails `tickets` with "shard closed" through schedule_ (close() may be called under
  // locks that the callbacks take).
  void refuse(Tickets tickets);

  const std::shared_ptr<ShardLog> log_;
  SequenceCounter* const counter_;
  const Clock* const clock_;
  const size_t max_group_bytes_;
  const Scheduler schedule_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Ticket>> queue_;  // GUARDED_BY(mu_)
  bool leading_ = false;                       // GUARDED_BY(mu_): a lead is scheduled or runs
  bool writing_ = false;                       // GUARDED_BY(mu_): a group is being appended
  bool closed_ = false;                        // GUARDED_BY(mu_)
  int64_t last_arrival_ms_;                    // GUARDED_BY(mu_)
  std::vector<LogRecordIn> batch_;             // used by the lead only
};

// The Status a block refused because its shard closed ends with.
bool is_shard_closed(const Status& s);

}  // namespace sluice::stream::internal
