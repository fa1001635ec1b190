#include "stream/internal/shard_writer.h"

#include "base/await.h"
#include "stream/internal/metadata_codec.h"
#include "stream/sequence_number.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

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
                         const Clock* clock, int64_t last_arrival_ms, size_t max_group_bytes,
                         Scheduler schedule)
    : log_(std::move(log)),
      counter_(counter),
      clock_(clock),
      max_group_bytes_(max_group_bytes),
      schedule_(std::move(schedule)),
      last_arrival_ms_(last_arrival_ms) {}

void ShardWriter::submit(std::span<const LogRecordIn> records, Done done) {
  auto t = std::make_unique<Ticket>();
  t->records = records;
  for (const LogRecordIn& r : records) t->bytes += r.payload.size() + r.partition_key.size();
  t->done = std::move(done);
  bool start = false;
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      queue_.push_back(std::move(t));
      start = !leading_;
      leading_ = true;
    }
  }
  if (t) {  // closed: refused at once
    t->done(Status::unavailable(kShardClosed));
  } else if (start) {
    schedule_([self = shared_from_this()] { self->lead(); });
  }
}

Result<AppendOutcome> ShardWriter::append(std::span<const LogRecordIn> records) {
  return await_callback<Result<AppendOutcome>>(
      [&](Done done) { submit(records, std::move(done)); });
}

void ShardWriter::lead() {
  std::unique_lock lock(mu_);
  while (!queue_.empty() && !closed_) {
    size_t n = 1;
    size_t bytes = queue_[0]->bytes;
    while (n < queue_.size() && bytes + queue_[n]->bytes <= max_group_bytes_) {
      bytes += queue_[n++]->bytes;
    }
    Tickets group;
    group.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    // Arrival times never go back within a shard, even when the wall clock does: readers
    // and offset_at_time() rely on it.
    const int64_t arrival = std::max(clock_->now_ms(), last_arrival_ms_);
    last_arrival_ms_ = arrival;
    writing_ = true;
    lock.unlock();

    size_t count = 0;
    for (const auto& t : group) count += t->records.size();
    Status s;
    uint64_t first_counter = 0;
    LogOffset base;
    if (count > 0) {
      auto counter = counter_->allocate(count);
      if (counter.ok()) {
        first_counter = *counter;
        batch_.clear();
        uint64_t c = first_counter;
        for (const auto& t : group) {
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
    writing_ = false;
    cv_.notify_all();  // close() waits for the write in flight
    lock.unlock();
    // The callbacks run between groups, on this thread: what they do (answering a request)
    // is small next to the sync the next group waits for anyway.
    uint64_t offset = base.value();
    uint64_t c = first_counter;
    for (const auto& t : group) {
      if (s.ok()) {
        t->done(AppendOutcome{LogOffset(offset), c, arrival});
      } else {
        t->done(s);
      }
      offset += t->records.size();
      c += t->records.size();
    }
    group.clear();
    lock.lock();
  }
  leading_ = false;
}

void ShardWriter::refuse(Tickets tickets) {
  auto shared = std::make_shared<Tickets>(std::move(tickets));
  schedule_([shared] {
    for (const auto& t : *shared) t->done(Status::unavailable(kShardClosed));
  });
}

void ShardWriter::close() {
  Tickets refused;
  {
    std::unique_lock lock(mu_);
    closed_ = true;
    cv_.wait(lock, [&] { return !writing_; });
    for (auto& t : queue_) refused.push_back(std::move(t));
    queue_.clear();
  }
  if (!refused.empty()) refuse(std::move(refused));
}

int64_t ShardWriter::last_arrival_ms() const {
  std::lock_guard lock(mu_);
  return last_arrival_ms_;
}

}  // namespace sluice::stream::internal
