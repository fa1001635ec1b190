#include "stream/internal/shard_writer.h"

#include "stream/internal/metadata_codec.h"
#include "stream/sequence_number.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::stream::internal {
namespace {

constexpr std::string_view kShardClosed = "shard closed";

}  // namespace

bool is_shard_closed(const Status& s) {
  return s.code() == Code::kUnavailable && s.message() == kShardClosed;
}

SequenceCounter::SequenceCounter(MetadataStore* store, std::string key, uint64_t reserved)
    : store_(store),
      key_(std::move(key)),
      next_(std::max<uint64_t>(reserved, 1)),
      reserved_(reserved) {}

Result<uint64_t> SequenceCounter::allocate(uint64_t n) {
  std::lock_guard lock(mu_);
  if (n > kMaxSequenceCounter - next_) {
    return Status::internal("the stream's 63-bit sequence counter is exhausted");
  }
  if (next_ + n > reserved_) {
    const uint64_t reserve = std::min(next_ + n + kReservationBlock, kMaxSequenceCounter);
    const MetadataStore::Write w{std::string(kCounterNs), key_, fmt::format("{}", reserve)};
    SLUICE_RETURN_IF_ERROR(store_->apply(std::span(&w, 1)));
    reserved_ = reserve;
  }
  const uint64_t first = next_;
  next_ += n;
  return first;
}

ShardWriter::ShardWriter(std::shared_ptr<ShardLog> log, SequenceCounter* counter,
                         const Clock* clock, int64_t last_arrival_ms, size_t max_group_bytes)
    : log_(std::move(log)),
      counter_(counter),
      clock_(clock),
      max_group_bytes_(max_group_bytes),
      last_arrival_ms_(last_arrival_ms) {}

std::unique_ptr<ShardWriter::Ticket> ShardWriter::submit(std::span<const LogRecordIn> records) {
  auto t = std::make_unique<Ticket>();
  t->records = records;
  for (const LogRecordIn& r : records) t->bytes += r.payload.size() + r.partition_key.size();
  std::lock_guard lock(mu_);
  if (closed_) {
    t->done = true;
    t->status = Status::unavailable(kShardClosed);
  } else {
    queue_.push_back(t.get());
  }
  return t;
}

Result<AppendOutcome> ShardWriter::wait(Ticket& t) {
  std::unique_lock lock(mu_);
  while (!t.done) {
    // Any waiter may lead: the head of the queue is written in FIFO order whoever owns it,
    // so no thread waits for another that is busy on a different shard.
    if (!writing_ && !closed_ && !queue_.empty()) {
      lead(lock);
    } else {
      cv_.wait(lock);
    }
  }
  if (!t.status.ok()) return t.status;
  return t.outcome;
}

Result<AppendOutcome> ShardWriter::append(std::span<const LogRecordIn> records) {
  auto t = submit(records);
  return wait(*t);
}

void ShardWriter::lead(std::unique_lock<std::mutex>& lock) {
  writing_ = true;
  size_t n = 1;
  size_t bytes = queue_[0]->bytes;
  while (n < queue_.size() && bytes + queue_[n]->bytes <= max_group_bytes_) {
    bytes += queue_[n++]->bytes;
  }
  std::vector<Ticket*> group(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
  // Arrival times never go back within a shard, even when the wall clock does: readers and
  // offset_at_time() rely on it.
  const int64_t arrival = std::max(clock_->now_ms(), last_arrival_ms_);
  last_arrival_ms_ = arrival;
  lock.unlock();

  size_t count = 0;
  for (Ticket* t : group) count += t->records.size();
  Status s;
  uint64_t first_counter = 0;
  LogOffset base;
  if (count > 0) {
    auto counter = counter_->allocate(count);
    if (counter.ok()) {
      first_counter = *counter;
      batch_.clear();
      uint64_t c = first_counter;
      for (Ticket* t : group) {
        for (LogRecordIn r : t->records) {
          r.counter = c++;
          r.arrival_ms = arrival;
          batch_.push_back(r);
        }
      }
      auto appended = log_->append(batch_);
      if (appended.ok()) {
        base = *appended;
      } else {
        s = appended.status();
      }
    } else {
      s = counter.status();
    }
  }

  lock.lock();
  uint64_t offset = base.value();
  uint64_t c = first_counter;
  for (Ticket* t : group) {
    t->status = s;
    t->outcome = AppendOutcome{LogOffset(offset), c, arrival};
    offset += t->records.size();
    c += t->records.size();
    t->done = true;
    queue_.pop_front();
  }
  writing_ = false;
  cv_.notify_all();
}

void ShardWriter::close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  cv_.wait(lock, [&] { return !writing_; });
  for (Ticket* t : queue_) {
    t->done = true;
    t->status = Status::unavailable(kShardClosed);
  }
  queue_.clear();
  cv_.notify_all();
}

int64_t ShardWriter::last_arrival_ms() const {
  std::lock_guard lock(mu_);
  return last_arrival_ms_;
}

}  // namespace sluice::stream::internal
