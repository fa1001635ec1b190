#include "esm/engine.h"

#include "base/log.h"
#include "base/uuid.h"
#include "esm/batch_result.h"
#include "esm/event_builder.h"
#include "esm/failure_notice.h"
#include "esm/failure_policy.h"
#include "esm/filter.h"
#include "stream/identifiers.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <simdjson.h>
#include <thread>

namespace sluice::esm {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kMappingNs = "esm.mapping";
constexpr std::string_view kCheckpointNs = "esm.checkpoint";
constexpr std::string_view kResultThrottled = "PROBLEM: Function call throttled";
constexpr std::string_view kResultFunctionMissing = "PROBLEM: Function not found";
constexpr std::string_view kResultStreamMissing = "PROBLEM: Stream not found";
// StateTransitionReason of a change the engine made itself (AWS documents "User initiated"
// and "Lambda initiated" as the two kinds; Kinesis mappings answer "User action" for the first).
constexpr std::string_view kLambdaInitiated = "Lambda initiated";

std::shared_ptr<spdlog::logger> logger() { return logging::get("esm"); }

// Where a shard's reading resumes (docs/formats/esm-catalog.md, "esm.checkpoint").
struct ShardPosition {
  enum class Kind { kTrimHorizon, kAtTimestamp, kAfter };
  Kind kind = Kind::kTrimHorizon;
  int64_t timestamp_ms = 0;     // kAtTimestamp
  std::string sequence_number;  // kAfter: the last record that is done
  bool ended = false;           // a closed shard read and done to its end
  // Tumbling windows (spec 10): the open window's start and the state the function returned
  // last in it (a JSON object), so that a restart continues the window where it was.
  std::optional<int64_t> window_start_ms;
  std::string window_state;

  bool operator==(const ShardPosition&) const = default;
};

std::string encode_position(const ShardPosition& p) {
  std::string window;
  if (p.window_start_ms) {
    window = fmt::format(R"(,"window_start_ms":{},"window_state":{})", *p.window_start_ms,
                         p.window_state.empty() ? "{}" : p.window_state);
  }
  switch (p.kind) {
    case ShardPosition::Kind::kTrimHorizon:
      return fmt::format(R"({{"v":1,"start":"TRIM_HORIZON","ended":{}{}}})", p.ended, window);
    case ShardPosition::Kind::kAtTimestamp:
      return fmt::format(R"({{"v":1,"start":"AT_TIMESTAMP","timestamp_ms":{},"ended":{}{}}})",
                         p.timestamp_ms, p.ended, window);
    case ShardPosition::Kind::kAfter:
      break;
  }
  return fmt::format(R"({{"v":1,"start":"AFTER","sequence_number":"{}","ended":{}{}}})",
                     p.sequence_number, p.ended, window);
}

Result<ShardPosition> decode_position(std::string_view json, std::string_view key) {
  const auto bad = [&] { return Status::corruption(fmt::format("bad checkpoint {}", key)); };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return bad();
  int64_t version = 0;
  std::string_view start;
  bool ended = false;
  if (doc["v"].get(version) != simdjson::SUCCESS || version != 1 ||
      doc["start"].get(start) != simdjson::SUCCESS ||
      doc["ended"].get(ended) != simdjson::SUCCESS) {
    return bad();
  }
  ShardPosition p;
  p.ended = ended;
  if (start == "TRIM_HORIZON") {
    p.kind = ShardPosition::Kind::kTrimHorizon;
  } else if (start == "AT_TIMESTAMP") {
    p.kind = ShardPosition::Kind::kAtTimestamp;
    if (doc["timestamp_ms"].get(p.timestamp_ms) != simdjson::SUCCESS) return bad();
  } else if (start == "AFTER") {
    p.kind = ShardPosition::Kind::kAfter;
    std::string_view seq;
    if (doc["sequence_number"].get(seq) != simdjson::SUCCESS || seq.empty()) return bad();
    p.sequence_number = std::string(seq);
  } else {
    return bad();
  }
  int64_t window_start = 0;
  if (doc["window_start_ms"].get(window_start) == simdjson::SUCCESS) {
    simdjson::dom::object state;
    if (doc["window_state"].get(state) != simdjson::SUCCESS) return bad();
    p.window_start_ms = window_start;
    p.window_state = simdjson::minify(state);
  }
  return p;
}

// "2026-01-01T00:00:00Z": a tumbling window's edge (spec 2.2).
std::string iso8601_seconds(int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// The epoch-aligned window of `arrival_ms` (spec 10).
int64_t window_of(int64_t arrival_ms, int32_t window_s) {
  const int64_t w = int64_t{window_s} * 1000;
  return arrival_ms >= 0 ? arrival_ms / w * w : -((-arrival_ms + w - 1) / w) * w;
}

// How long after its end a window with nothing left to deliver waits for its final
// invocation: shards stamp a record's arrival before it is durable and readable, so a record
// of the window may show up a little after the edge. Without the grace it would open the
// window a second time (docs/esm.md, "Tumbling windows").
constexpr int64_t kWindowCloseGraceMs = 1'000;

// The largest state a function may carry through a window (spec 10: 1 MB per shard).
constexpr size_t kMaxWindowStateBytes = 1024 * 1024;

// FNV-1a: a hash that is the same in every build and run.
uint64_t fnv1a(std::string_view bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (const char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string checkpoint_key(std::string_view uuid, std::string_view shard_id) {
  return fmt::format("{}/{}", uuid, shard_id);
}

// The stream a mapping reads: a stream ARN, or the stream of an enhanced fan-out consumer ARN.
std::optional<stream::StreamKey> stream_of(std::string_view event_source_arn) {
  if (auto key = stream::parse_stream_arn(event_source_arn)) return key;
  if (auto consumer = stream::parse_consumer_arn(event_source_arn)) return consumer->stream;
  return std::nullopt;
}

}  // namespace

// Writes checkpoints for every reader of the engine on one thread of its own, in groups: a
// put() while a write is in flight joins the next write, so a fast mapping costs one catalog
// transaction per group instead of one per batch, and readers never wait for an fsync. A
// checkpoint therefore lags its batch by at most one write (docs/esm.md). sync() waits for
// everything put before it.
class CheckpointWriter {
 public:
  explicit CheckpointWriter(stream::MetadataStore* store)
      : store_(store), thread_([this] { loop(); }) {}
  ~CheckpointWriter() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  void put(std::string key, std::string value) {
    {
      std::lock_guard lock(mu_);
      pending_[std::move(key)] = std::move(value);
      ++put_seq_;
    }
    cv_.notify_all();
  }
  // Drops what is pending for keys starting with `prefix` (a deleted mapping).
  void forget(std::string_view prefix) {
    std::lock_guard lock(mu_);
    for (auto it = pending_.lower_bound(std::string(prefix));
         it != pending_.end() && it->first.starts_with(prefix);) {
      it = pending_.erase(it);
    }
  }
  // True once everything put before the call is durable; false after `deadline` (the store
  // keeps failing).
  bool sync(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    const uint64_t target = put_seq_;
    return cv_.wait_for(lock, deadline, [&] { return done_seq_ >= target; });
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) {
        done_seq_ = put_seq_;
        cv_.notify_all();
        if (stop_) return;
        continue;
      }
      std::map<std::string, std::string> batch;
      batch.swap(pending_);
      const uint64_t target = put_seq_;
      lock.unlock();
      std::vector<stream::MetadataStore::Write> writes;
      writes.reserve(batch.size());
      for (auto& [key, value] : batch) {
        writes.push_back({std::string(kCheckpointNs), key, std::move(value)});
      }
      const Status s = store_->apply(writes);
      lock.lock();
      if (s.ok()) {
        done_seq_ = target;
        cv_.notify_all();
        continue;
      }
      // Kept for the next attempt unless a newer value came meanwhile. Readers go on: the
      // records are processed, and a crash before the retry succeeds repeats them.
      logger()->error("writing {} checkpoint(s) failed: {}", writes.size(), s.to_string());
      for (auto& w : writes) pending_.emplace(std::move(w.key), std::move(*w.value));
      if (stop_) return;
      cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; });
    }
  }

  stream::MetadataStore* const store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> pending_;  // GUARDED_BY(mu_); key -> value
  uint64_t put_seq_ = 0;                        // GUARDED_BY(mu_)
  uint64_t done_seq_ = 0;                       // GUARDED_BY(mu_)
  bool stop_ = false;                           // GUARDED_BY(mu_)
  std::thread thread_;
};

// Counters of one mapping (spec 12), kept across disable/enable.
struct Counters {
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> invocations{0};
  std::atomic<uint64_t> function_errors{0};
  std::atomic<uint64_t> invocation_errors{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> bisects{0};
  std::atomic<uint64_t> discarded_records{0};
  std::atomic<uint64_t> expired_records{0};
  std::atomic<uint64_t> filtered_records{0};
  std::atomic<uint64_t> notices_delivered{0};
  std::atomic<uint64_t> notice_failures{0};
  struct ShardGauges {
    std::optional<int64_t> iterator_age_ms;  // after the shard's last finished batch
    int64_t millis_behind_latest = 0;        // from the shard's last read
    uint64_t unfinished_records = 0;         // read, not yet done: what a crash would repeat
  };
  std::mutex mu;
  std::map<std::string, ShardGauges> shards;  // GUARDED_BY(mu); by shard id
};

class Run;

// Reads one shard for one mapping, one batch in flight at a time (spec 4, 5, 6). Everything
// runs on the reader's strand; invocations complete on any thread and are posted back.
class Reader : public std::enable_shared_from_this<Reader> {
 public:
  Reader(Engine::Impl* impl, std::shared_ptr<Run> run, std::string shard_id, ShardPosition start);
  void start();
  void wake();  // records were appended to the stream: read now if idle
  void stop();  // finish the batches in flight (their results still checkpoint), then end

 private:
  // One record read from the shard. The key and data are views into the read that brought
  // the record (its keepalive sits in reads_ until the record leaves read_); the sequence
  // number is held inline. Nothing is copied per record.
  struct Record {
    stream::SequenceNumberText sequence_number;
    int64_t arrival_ms = 0;
    std::string_view partition_key;
    ByteView data;
    // Bytes in an event: EventBuilder::own_bytes() + shared_bytes_without_role_.
    size_t event_bytes = 0;
    bool done = false;

    EventRecord event_view() const {
      return EventRecord{sequence_number.view(), arrival_ms, partition_key, data};
    }
  };
  // What keeps the bytes of a read alive: a GetRecords result's keepalive, and the read
  // index one past its last record. Dropped once every record of it has left read_.
  struct ReadChunk {
    uint64_t end_index = 0;
    std::shared_ptr<const void> keepalive;
  };
  // A run of records at the front of a lane being worked on: the batch in flight or waiting
  // for its retry, or the halves of a bisected batch (spec 6.3), in order.
  struct Unit {
    size_t count = 0;
    int32_t attempts = 0;
    bool final_invoke = false;    // a tumbling window's last invocation (may have no records)
    std::string last_request_id;  // of the last invocation of these records; "" before one
  };
  // Discarded records at the front of a lane whose failure notice is not stored yet: the
  // lane waits (and the checkpoint stays before them) until it is (spec 9, docs/esm.md).
  struct PendingNotice {
    size_t count = 0;
    FailureNotice notice;
    int32_t attempts = 0;  // failed deliveries so far
  };
  // The open tumbling window of the shard (spec 10), when the mapping has them.
  struct TumblingWindow {
    int64_t start_ms = 0;
    std::string state = "{}";       // what the function returned last in this window
    bool terminated_early = false;  // the state outgrew its limit: say so in the next event
  };
  enum class Wait { kNone, kWindow, kBackoff };
  // One of ParallelizationFactor sub-streams of the shard (spec 7): the records whose
  // partition key hashes to it, in shard order, one batch in flight. With the factor 1 the
  // only lane is the shard.
  struct Lane {
    explicit Lane(const asio::strand<asio::io_context::executor_type>& strand) : timer(strand) {}
    std::deque<uint64_t> records;  // read indexes (see Reader::read_), in order
    size_t bytes = 0;              // event bytes of `records`
    std::deque<Unit> units;
    bool in_flight = false;
    Wait wait = Wait::kNone;
    asio::steady_timer timer;
    uint64_t timer_gen = 0;
    int64_t window_start_ms = 0;
    std::optional<PendingNotice> notice;
  };

  void pump();
  Result<size_t> read_more(size_t want);
  void pump_lane(Lane& lane, const Mapping& cfg);
  void form_unit(Lane& lane, const Mapping& cfg);
  void invoke_front(Lane& lane, const Mapping& cfg);
  void on_outcome(Lane& lane, function::InvokeOutcome outcome, int32_t attempts_before);
  Record& at(uint64_t index) { return read_[index - first_index_]; }
  // The builder of events for this shard with the function's current role (spec 2.1); a
  // role of "" when the function is gone (the invocation fails without an event then).
  EventBuilder event_builder(const Mapping& cfg) const;
  // The first `n` records of the lane are done: drop them and checkpoint what is done in
  // every lane.
  void complete_prefix(Lane& lane, size_t n);
  // Gives up the first `n` records of the lane: their notice goes to the destination (if
  // any) and they are done once it is stored. `response` is the last invocation's answer
  // (RetryAttemptsExhausted after an invocation); `request_id` its id, "" when none ran.
  void discard_prefix(Lane& lane, size_t n, FailureNotice::Condition condition, int32_t invocations,
                      std::optional<FailureNotice::Response> response, std::string request_id);
  // Tries to store the lane's pending notice; on success its records are done. False (and
  // the lane armed for a retry) when the destination failed.
  bool deliver_notice(Lane& lane);
  void store_position();      // puts position_ (with the open window) to the checkpoint writer
  void advance_checkpoint();  // past the done prefix of read_, if it grew
  void arm_lane(Lane& lane, Wait kind, int64_t ms);
  void arm_idle(int64_t ms);
  bool any_in_flight() const;
  void maybe_finish();  // reports to the run once stopping and idle; nothing runs after it
  void shard_done();

  Engine::Impl* const impl_;
  const std::shared_ptr<Run> run_;
  const std::string shard_id_;
  // EventBuilder::shared_bytes() of this shard's events with an empty role: counted into
  // Record::event_bytes at read time, when the role is not looked up.
  const size_t shared_bytes_without_role_;
  ShardPosition position_;  // the persisted checkpoint
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer idle_timer_;
  uint64_t idle_gen_ = 0;
  bool idle_ = false;  // waiting for records (a put wakes it)
  std::atomic<bool> wake_pending_{false};
  bool stopping_ = false;
  bool finished_ = false;
  bool drained_ = false;  // a closed shard whose last record has been read
  std::string iterator_;
  std::string last_read_;  // sequence number of the last record read, "" before the first
  // Records read and not yet checkpointed, in shard order; read index first_index_ + i.
  std::deque<Record> read_;
  std::deque<ReadChunk> reads_;  // the reads read_'s views point into, in order
  uint64_t first_index_ = 0;
  size_t undone_ = 0;  // records of read_ not done
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::optional<TumblingWindow> window_;
};

// The readers of one enabled mapping and the discovery of its shards (spec 3.1, 3.3).
class Run : public std::enable_shared_from_this<Run> {
 public:
  Run(Engine::Impl* impl, const Mapping& m, stream::StreamKey stream,
      std::shared_ptr<Counters> counters);
  void start();
  void stop(std::function<void()> on_stopped);
  void wake();
  void set_config(const Mapping& m);
  std::shared_ptr<const Mapping> config() const;
  // The mapping's FilterCriteria, compiled; empty passes every record.
  std::shared_ptr<const FilterSet> filters() const;
  void reader_finished(const std::string& shard_id, bool shard_ended);
  // After a shutdown that did not wait for every reader to finish: lets go of the readers
  // still listed and of the stop callback, which both hold this run, so that it does not
  // outlive its last user.
  void release();

  const std::string uuid;
  const stream::StreamKey stream;
  const std::string stream_arn;
  const std::shared_ptr<Counters> counters;

 private:
  void discover();
  Status initialize(const std::vector<stream::ShardDescription>& shards);

  Engine::Impl* const impl_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  mutable std::mutex mu_;
  std::shared_ptr<const Mapping> config_;                   // GUARDED_BY(mu_)
  std::shared_ptr<const FilterSet> filters_;                // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<Reader>> readers_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                                   // GUARDED_BY(mu_)
  std::function<void()> on_stopped_;                        // GUARDED_BY(mu_)
  // Strand-only:
  bool loaded_ = false;
  bool announced_ = false;                          // run_started() was called
  int64_t stream_missing_since_ms_ = -1;            // when listing its shards first found no stream
  std::map<std::string, ShardPosition> positions_;  // persisted, by shard id
};

struct Engine::Impl : std::enable_shared_from_this<Engine::Impl> {
  struct Entry {
    Mapping mapping;
    std::shared_ptr<Run> run;
    bool run_stopping = false;
    std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  };

  stream::StreamService* streams;
  stream::MetadataStore* store;
  function::Invoker* invoker;
  FunctionResolver functions;
  const Clock* clock;
  EngineOptions options;
  FailureDestinations* destinations = nullptr;    // may be null: discards are only logged
  std::unique_ptr<CheckpointWriter> checkpoints;  // created by open()

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::vector<std::thread> threads;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Entry> entries;                                   // GUARDED_BY(mu); by uuid
  std::multimap<stream::StreamKey, std::shared_ptr<Run>> runs_by_stream;  // GUARDED_BY(mu)
  bool started = false;                                                   // GUARDED_BY(mu)
  bool shut_down = false;                                                 // GUARDED_BY(mu)
  int running_runs = 0;                                                   // GUARDED_BY(mu)

  Status persist(const Mapping& m) {
    const stream::MetadataStore::Write w{std::string(kMappingNs), m.uuid, encode_mapping(m)};
    return store->apply(std::span(&w, 1));
  }

  void schedule_transition(const std::string& uuid, int64_t delay_ms) {
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(delay_ms));
    timer->async_wait(
        [this, timer, uuid](const boost::system::error_code&) { complete_transition(uuid); });
  }

  // REQUIRES: mu held. Starts the run of an entry that should be reading.
  void start_run(Entry& e) {
    const auto key = stream_of(e.mapping.event_source_arn);
    if (!key) return;
    e.run = std::make_shared<Run>(this, e.mapping, *key, e.counters);
    runs_by_stream.emplace(*key, e.run);
    ++running_runs;
    e.run->start();
  }

  // REQUIRES: mu held. Stops the entry's run; `then` runs (without mu) once it has stopped.
  void stop_run(Entry& e, std::function<void()> then) {
    std::shared_ptr<Run> run = e.run;
    if (!run) {
      if (then) asio::post(io, std::move(then));
      return;
    }
    e.run_stopping = true;
    for (auto it = runs_by_stream.begin(); it != runs_by_stream.end();) {
      it = it->second == run ? runs_by_stream.erase(it) : std::next(it);
    }
    run->stop([this, uuid = e.mapping.uuid, run, then = std::move(then)] {
      // A later run of the mapping loads its checkpoints from the store: they must be there.
      if (!checkpoints->sync()) {
        logger()->error("mapping {}: checkpoints not stored before stopping", uuid);
      }
      {
        std::lock_guard lock(mu);
        auto it = entries.find(uuid);
        if (it != entries.end() && it->second.run == run) {
          it->second.run = nullptr;
          it->second.run_stopping = false;
        }
        --running_runs;
      }
      cv.notify_all();
      if (then) then();
    });
  }

  void complete_transition(const std::string& uuid) {
    std::unique_lock lock(mu);
    if (shut_down) return;
    auto it = entries.find(uuid);
    if (it == entries.end()) return;
    Entry& e = it->second;
    Mapping& m = e.mapping;
    switch (m.state) {
      case MappingState::kCreating:
      case MappingState::kEnabling:
      case MappingState::kUpdating:
        if (m.enabled) {
          if (e.run_stopping) {  // an earlier disable is still finishing its batch
            lock.unlock();
            schedule_transition(uuid, 20);
            return;
          }
          if (!e.run) {
            // Enabled once the run has listed the shards and stored where each starts
            // (run_started()): a record put after Get says Enabled is never before LATEST.
            if (started) start_run(e);
            return;
          }
          set_state(m, MappingState::kEnabled);
        } else if (e.run) {
          stop_run(e, [this, uuid] { finish_disable(uuid); });
        } else {
          set_state(m, MappingState::kDisabled);
        }
        return;
      case MappingState::kDisabling:
        if (e.run) {
          stop_run(e, [this, uuid] { finish_disable(uuid); });
        } else if (!e.run_stopping) {
          set_state(m, MappingState::kDisabled);
        }
        return;
      case MappingState::kDeleting:
        stop_run(e, [this, uuid] { finish_delete(uuid); });
        return;
      case MappingState::kEnabled:
      case MappingState::kDisabled:
        return;
    }
  }

  void finish_disable(const std::string& uuid) {
    std::lock_guard lock(mu);
    auto it = entries.find(uuid);
    if (it == entries.end()) return;
    Mapping& m = it->second.mapping;
    if (m.state == MappingState::kDisabling ||
        (!m.enabled &&
         (m.state == MappingState::kUpdating || m.state == MappingState::kCreating))) {
      set_state(m, MappingState::kDisabled);
    } else if (m.enabled && m.state != MappingState::kDeleting) {
      // Re-enabled while the disable was finishing: settle again.
      lock_free_reschedule(uuid);
    }
  }

  void lock_free_reschedule(const std::string& uuid) { schedule_transition(uuid, 0); }

  void finish_delete(const std::string& uuid) {
    checkpoints->forget(uuid + "/");
    checkpoints->sync();  // a write in flight may hold the mapping's keys: let it land first
    std::vector<stream::MetadataStore::Write> writes;
    writes.push_back({std::string(kMappingNs), uuid, std::nullopt});
    auto stored = store->list(kCheckpointNs);
    if (stored.ok()) {
      for (const auto& [key, value] : *stored) {
        if (key == uuid || key.starts_with(uuid + "/")) {
          writes.push_back({std::string(kCheckpointNs), key, std::nullopt});
        }
      }
    }
    Status s = store->apply(writes);
    if (!s.ok()) logger()->error("mapping {}: deleting failed: {}", uuid, s.to_string());
    std::lock_guard lock(mu);
    entries.erase(uuid);
  }

  // REQUIRES: mu held.
  void set_state(Mapping& m, MappingState state) {
    m.state = state;
    m.last_modified_ms = clock->now_ms();
    Status s = persist(m);
    if (!s.ok()) logger()->error("mapping {}: storing its state failed: {}", m.uuid, s.to_string());
  }

  // Disables a mapping on the engine's own account (its stream is gone): Disabling now,
  // Disabled once its readers have stopped; StateTransitionReason says Lambda did it.
  void disable_by_engine(const std::string& uuid) {
    std::lock_guard lock(mu);
    auto it = entries.find(uuid);
    if (it == entries.end() || shut_down) return;
    Entry& e = it->second;
    if (e.mapping.state != MappingState::kEnabled) return;  // a user change is under way
    e.mapping.enabled = false;
    e.mapping.state_transition_reason = std::string(kLambdaInitiated);
    set_state(e.mapping, MappingState::kDisabling);
    stop_run(e, [this, uuid] { finish_disable(uuid); });
  }

  // The run of `uuid` made its first pass over the shards (successful or not).
  void run_started(const std::string& uuid, const std::shared_ptr<Run>& run) {
    std::lock_guard lock(mu);
    auto it = entries.find(uuid);
    if (it == entries.end() || it->second.run != run || !it->second.mapping.enabled) return;
    Mapping& m = it->second.mapping;
    if (m.state == MappingState::kCreating || m.state == MappingState::kEnabling ||
        m.state == MappingState::kUpdating) {
      set_state(m, MappingState::kEnabled);
    }
  }

  void set_result(const std::string& uuid, std::string_view result) {
    std::lock_guard lock(mu);
    auto it = entries.find(uuid);
    if (it == entries.end() || it->second.mapping.last_processing_result == result) return;
    it->second.mapping.last_processing_result = std::string(result);
    Status s = persist(it->second.mapping);
    if (!s.ok()) logger()->warn("mapping {}: storing its result failed: {}", uuid, s.to_string());
  }

  void on_append(const stream::StreamKey& key) {
    std::vector<std::shared_ptr<Run>> runs;
    {
      std::lock_guard lock(mu);
      auto [lo, hi] = runs_by_stream.equal_range(key);
      for (auto it = lo; it != hi; ++it) runs.push_back(it->second);
    }
    for (const auto& r : runs) r->wake();
  }
};

// ---------------------------------------------------------------------------------------
// Run

Run::Run(Engine::Impl* impl, const Mapping& m, stream::StreamKey key,
         std::shared_ptr<Counters> counters_in)
    : uuid(m.uuid),
      stream(std::move(key)),
      stream_arn(stream::stream_arn(stream)),
      counters(std::move(counters_in)),
      impl_(impl),
      strand_(asio::make_strand(impl->io)),
      timer_(strand_),
      config_(std::make_shared<const Mapping>(m)) {
  set_config(m);
}

void Run::start() {
  asio::post(strand_, [self = shared_from_this()] { self->discover(); });
}

std::shared_ptr<const Mapping> Run::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

std::shared_ptr<const FilterSet> Run::filters() const {
  std::lock_guard lock(mu_);
  return filters_;
}

void Run::set_config(const Mapping& m) {
  // The control plane validated every pattern; one that fails here (a store written by
  // another version) filters nothing rather than dropping records.
  auto compiled = FilterSet::compile(m.filter_patterns);
  if (!compiled.ok()) {
    logger()->error("mapping {}: its filter criteria do not compile ({}); not filtering", m.uuid,
                    compiled.status().to_string());
  }
  std::lock_guard lock(mu_);
  config_ = std::make_shared<const Mapping>(m);
  filters_ = std::make_shared<const FilterSet>(compiled.ok() ? std::move(*compiled) : FilterSet());
}

void Run::wake() {
  std::vector<std::shared_ptr<Reader>> readers;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, r] : readers_) readers.push_back(r);
  }
  for (const auto& r : readers) r->wake();
}

void Run::stop(std::function<void()> on_stopped) {
  std::vector<std::shared_ptr<Reader>> readers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    on_stopped_ = std::move(on_stopped);
    for (const auto& [id, r] : readers_) readers.push_back(r);
  }
  asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  if (readers.empty()) {
    std::function<void()> done;
    {
      std::lock_guard lock(mu_);
      done = std::exchange(on_stopped_, nullptr);
    }
    if (done) asio::post(impl_->io, std::move(done));
    return;
  }
  for (const auto& r : readers) r->stop();
}

void Run::release() {
  std::map<std::string, std::shared_ptr<Reader>> readers;
  std::function<void()> on_stopped;
  {
    std::lock_guard lock(mu_);
    readers.swap(readers_);
    on_stopped.swap(on_stopped_);
  }
}

void Run::reader_finished(const std::string& shard_id, bool shard_ended) {
  std::function<void()> done;
  {
    std::lock_guard lock(mu_);
    readers_.erase(shard_id);
    if (stopping_ && readers_.empty()) done = std::exchange(on_stopped_, nullptr);
  }
  if (done) {
    asio::post(impl_->io, std::move(done));
    return;
  }
  if (shard_ended) {
    asio::post(strand_, [self = shared_from_this(), shard_id] {
      self->positions_[shard_id].ended = true;
      self->discover();
    });
  }
}

Status Run::initialize(const std::vector<stream::ShardDescription>& shards) {
  // First enablement: resolve StartingPosition once for every shard there is now, durably,
  // so that a restart never re-resolves LATEST (which could skip records put meanwhile).
  // Shards found later (children of a reshard) start at their first record (spec 3.3).
  const auto cfg = config();
  const int64_t now = impl_->clock->now_ms();
  std::vector<stream::MetadataStore::Write> writes;
  for (const auto& s : shards) {
    ShardPosition p;
    switch (cfg->starting_position) {
      case StartingPosition::kTrimHorizon:
        p.kind = ShardPosition::Kind::kTrimHorizon;
        break;
      case StartingPosition::kLatest: {
        // After the newest record there is now; a closed shard gets no more.
        if (s.ending_sequence_number) {
          p.ended = true;
          break;
        }
        SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> newest,
                                impl_->streams->latest_sequence_number(stream, s.shard_id));
        if (newest) {
          p.kind = ShardPosition::Kind::kAfter;
          p.sequence_number = std::move(*newest);
        }
        break;
      }
      case StartingPosition::kAtTimestamp:
        p.kind = ShardPosition::Kind::kAtTimestamp;
        p.timestamp_ms =
            static_cast<int64_t>(cfg->starting_position_timestamp.value_or(0.0) * 1000.0);
        break;
    }
    positions_[s.shard_id] = p;
    writes.push_back(
        {std::string(kCheckpointNs), checkpoint_key(uuid, s.shard_id), encode_position(p)});
  }
  writes.push_back(
      {std::string(kCheckpointNs), uuid, fmt::format(R"({{"v":1,"initialized_ms":{}}})", now)});
  return impl_->store->apply(writes);
}

void Run::discover() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  // Whatever this pass ends in, the first one lets the mapping report Enabled.
  struct Announce {
    Run* run;
    ~Announce() {
      if (run->announced_) return;
      run->announced_ = true;
      run->impl_->run_started(run->uuid, run->shared_from_this());
    }
  } announce{this};
  std::vector<stream::ShardDescription> shards;
  stream::ListShardsRequest req;
  req.stream = stream;
  Status failure;
  for (;;) {
    auto page = impl_->streams->list_shards(req);
    if (!page.ok()) {
      failure = page.status();
      break;
    }
    for (auto& s : page->shards) shards.push_back(std::move(s));
    if (!page->next_token) break;
    req = stream::ListShardsRequest{};
    req.next_token = page->next_token;
  }
  const auto again = [this](int64_t ms) {
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->discover();
    });
  };
  if (!failure.ok()) {
    if (failure.is_not_found()) {
      // Right after a deletion the mapping stays Enabled (as AWS answers); once the stream
      // has stayed gone for a while, Sluice disables the mapping itself (docs/esm.md).
      const int64_t now = impl_->clock->now_ms();
      if (stream_missing_since_ms_ < 0) stream_missing_since_ms_ = now;
      impl_->set_result(uuid, kResultStreamMissing);
      if (now - stream_missing_since_ms_ >= impl_->options.stream_gone_disable_ms) {
        logger()->warn("mapping {}: stream {} is gone; disabling the mapping", uuid, stream_arn);
        impl_->disable_by_engine(uuid);
        return;
      }
    }
    logger()->debug("mapping {}: listing shards failed: {}", uuid, failure.to_string());
    again(impl_->options.idle_poll_ms);
    return;
  }
  stream_missing_since_ms_ = -1;
  if (!loaded_) {
    auto stored = impl_->store->list(kCheckpointNs);
    if (!stored.ok()) {
      logger()->warn("mapping {}: reading checkpoints failed: {}", uuid,
                     stored.status().to_string());
      again(impl_->options.idle_poll_ms);
      return;
    }
    bool initialized = false;
    const std::string prefix = uuid + "/";
    for (const auto& [key, value] : *stored) {
      if (key == uuid) initialized = true;
      if (!key.starts_with(prefix)) continue;
      auto p = decode_position(value, key);
      if (!p.ok()) {
        logger()->error("mapping {}: {}", uuid, p.status().to_string());
        continue;
      }
      positions_[key.substr(prefix.size())] = *p;
    }
    if (!initialized) {
      Status s = initialize(shards);
      if (!s.ok()) {
        logger()->warn("mapping {}: storing start positions failed: {}", uuid, s.to_string());
        positions_.clear();
        again(impl_->options.idle_poll_ms);
        return;
      }
    }
    loaded_ = true;
  }
  std::set<std::string> present;
  for (const auto& s : shards) present.insert(s.shard_id);
  const auto parent_done = [&](const std::optional<std::string>& parent) {
    if (!parent || !present.contains(*parent)) return true;  // none, or trimmed away
    auto it = positions_.find(*parent);
    return it != positions_.end() && it->second.ended;
  };
  std::vector<std::shared_ptr<Reader>> started;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (const auto& s : shards) {
      auto pos = positions_.find(s.shard_id);
      if (pos != positions_.end() && pos->second.ended) continue;
      if (readers_.contains(s.shard_id)) continue;
      if (!parent_done(s.parent_shard_id) || !parent_done(s.adjacent_parent_shard_id)) continue;
      ShardPosition start = pos != positions_.end() ? pos->second : ShardPosition{};
      auto reader = std::make_shared<Reader>(impl_, shared_from_this(), s.shard_id, start);
      readers_.emplace(s.shard_id, reader);
      started.push_back(reader);
    }
  }
  for (const auto& r : started) r->start();
  // A safety net: children of a reshard are found when their parent ends, but a stream
  // recreated under the same name, or a reader that could not start, is found here.
  again(std::max<int64_t>(impl_->options.idle_poll_ms * 5, 1000));
}

// ---------------------------------------------------------------------------------------
// Reader

Reader::Reader(Engine::Impl* impl, std::shared_ptr<Run> run, std::string shard_id,
               ShardPosition start)
    : impl_(impl),
      run_(std::move(run)),
      shard_id_(std::move(shard_id)),
      shared_bytes_without_role_(
          EventBuilder(EventSource{shard_id_, run_->stream_arn, run_->stream.region, ""})
              .shared_bytes()),
      position_(std::move(start)),
      strand_(asio::make_strand(impl->io)),
      idle_timer_(strand_) {
  if (position_.window_start_ms) {
    window_ = TumblingWindow{*position_.window_start_ms, position_.window_state, false};
  }
}

void Reader::start() {
  asio::post(strand_, [self = shared_from_this()] { self->pump(); });
}

void Reader::wake() {
  if (wake_pending_.exchange(true)) return;
  asio::post(strand_, [self = shared_from_this()] {
    self->wake_pending_ = false;
    if (self->idle_) self->pump();
  });
}

void Reader::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopping_ = true;
    ++self->idle_gen_;
    self->idle_timer_.cancel();
    for (auto& lane : self->lanes_) {
      ++lane->timer_gen;
      lane->timer.cancel();
      lane->wait = Wait::kNone;
    }
    self->maybe_finish();
  });
}

bool Reader::any_in_flight() const {
  for (const auto& lane : lanes_) {
    if (lane->in_flight) return true;
  }
  return false;
}

void Reader::maybe_finish() {
  if (finished_ || !stopping_ || any_in_flight()) return;
  finished_ = true;
  run_->reader_finished(shard_id_, false);
}

void Reader::arm_idle(int64_t ms) {
  idle_ = true;
  const uint64_t gen = ++idle_gen_;
  idle_timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(ms, 0)));
  idle_timer_.async_wait([self = shared_from_this(), gen](const boost::system::error_code&) {
    if (gen != self->idle_gen_) return;
    self->pump();
  });
}

void Reader::arm_lane(Lane& lane, Wait kind, int64_t ms) {
  lane.wait = kind;
  const uint64_t gen = ++lane.timer_gen;
  lane.timer.expires_after(std::chrono::milliseconds(std::max<int64_t>(ms, 0)));
  lane.timer.async_wait(
      [self = shared_from_this(), lane = &lane, gen](const boost::system::error_code&) {
        if (gen != lane->timer_gen) return;
        lane->wait = Wait::kNone;
        self->pump();
      });
}

Result<size_t> Reader::read_more(size_t want) {
  auto& streams = *impl_->streams;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (iterator_.empty()) {
      stream::GetShardIteratorRequest req;
      req.stream = run_->stream;
      req.shard_id = shard_id_;
      if (!last_read_.empty()) {
        req.type = stream::IteratorType::kAfterSequenceNumber;
        req.starting_sequence_number = last_read_;
      } else {
        switch (position_.kind) {
          case ShardPosition::Kind::kTrimHorizon:
            req.type = stream::IteratorType::kTrimHorizon;
            break;
          case ShardPosition::Kind::kAtTimestamp:
            req.type = stream::IteratorType::kAtTimestamp;
            req.timestamp_ms =
                static_cast<double>(std::min(position_.timestamp_ms, impl_->clock->now_ms()));
            break;
          case ShardPosition::Kind::kAfter:
            req.type = stream::IteratorType::kAfterSequenceNumber;
            req.starting_sequence_number = position_.sequence_number;
            break;
        }
      }
      auto it = streams.get_shard_iterator(req);
      if (!it.ok() && it.status().code() == Code::kInvalidArgument &&
          req.starting_sequence_number && attempt == 0) {
        // The checkpoint does not belong to this shard any more: the stream was deleted and
        // created again under the same name. Its records are new: read them all.
        logger()->warn(
            "mapping {} {}: checkpoint {} is not of this stream ({}); reading from "
            "the shard's first record",
            run_->uuid, shard_id_, *req.starting_sequence_number, it.status().to_string());
        position_ = ShardPosition{};
        last_read_.clear();
        continue;
      }
      if (!it.ok()) return it.status();
      iterator_ = std::move(*it);
    }
    stream::GetRecordsRequest req;
    req.shard_iterator = iterator_;
    req.limit = static_cast<int32_t>(std::clamp<size_t>(want, 1, 10000));
    auto got = streams.get_records(req);
    if (!got.ok()) {
      iterator_.clear();
      if (got.status().code() == Code::kExpired && attempt == 0) continue;
      return got.status();
    }
    const int64_t now = impl_->clock->now_ms();
    const std::shared_ptr<const FilterSet> filters = run_->filters();
    size_t filtered = 0;
    for (const auto& r : got->records) {
      if (!filters->empty() &&
          !filters->matches(
              FilterRecord{r.partition_key, r.sequence_number.view(), r.arrival_ms, r.data})) {
        // Filtered out (spec 4.2): done at once, never delivered, counts toward nothing.
        Record skipped;
        skipped.sequence_number = r.sequence_number;
        skipped.done = true;
        read_.push_back(skipped);
        ++filtered;
        continue;
      }
      Record rec{r.sequence_number, r.arrival_ms, r.partition_key, r.data, 0, false};
      rec.event_bytes = EventBuilder::own_bytes(rec.event_view()) + shared_bytes_without_role_;
      // Spec 7: a stable hash of the partition key picks the lane, so each key keeps its order.
      const size_t lane_index = lanes_.size() == 1 ? 0 : fnv1a(rec.partition_key) % lanes_.size();
      Lane& lane = *lanes_[lane_index];
      if (lane.records.empty() && !lane.in_flight) lane.window_start_ms = now;
      lane.records.push_back(first_index_ + read_.size());
      lane.bytes += rec.event_bytes;
      read_.push_back(rec);
      ++undone_;
    }
    if (!got->records.empty()) {
      last_read_.assign(got->records.back().sequence_number.view());
      if (got->records.size() > filtered) {  // filtered records keep no views
        reads_.push_back(ReadChunk{first_index_ + read_.size(), std::move(got->keepalive)});
      }
    }
    if (got->next_shard_iterator) {
      iterator_ = std::move(*got->next_shard_iterator);
    } else {
      iterator_.clear();
      drained_ = true;
    }
    Counters& c = *run_->counters;
    c.records.fetch_add(got->records.size(), std::memory_order_relaxed);
    c.filtered_records.fetch_add(filtered, std::memory_order_relaxed);
    if (filtered > 0) advance_checkpoint();
    {
      std::lock_guard lock(c.mu);
      Counters::ShardGauges& g = c.shards[shard_id_];
      g.millis_behind_latest = got->millis_behind_latest;
      g.unfinished_records = undone_;
    }
    return got->records.size();
  }
  return Status::internal("unreachable");
}

void Reader::pump() {
  if (finished_) return;
  if (stopping_) {
    maybe_finish();
    return;
  }
  if (idle_) {
    idle_ = false;
    ++idle_gen_;
    idle_timer_.cancel();
  }
  const std::shared_ptr<const Mapping> cfg = run_->config();
  const size_t batch_size = static_cast<size_t>(std::max(cfg->batch_size, 1));
  // Tumbling windows need one lane (spec 7); they are not applied yet.
  // With tumbling windows the shard is one lane: the state belongs to the shard (spec 7).
  const size_t lanes = cfg->tumbling_window_s > 0
                           ? 1
                           : static_cast<size_t>(std::clamp(cfg->parallelization_factor, 1, 10));
  if (lanes_.size() != lanes && read_.empty() && !any_in_flight()) {
    // (Re)built only between batches: a factor changed by an update applies from here on.
    lanes_.clear();
    for (size_t i = 0; i < lanes; ++i) lanes_.push_back(std::make_unique<Lane>(strand_));
  }
  // Read while some lane lacks a full batch and the shard may have more.
  bool read_failed = false;
  for (int round = 0; round < 16 && !drained_; ++round) {
    const size_t cap = batch_size * lanes_.size();
    if (undone_ >= cap) break;
    size_t bytes = 0;
    for (const auto& lane : lanes_) bytes += lane->bytes;
    if (bytes >= kMaxEventBytes * lanes_.size()) break;
    auto got = read_more(cap - undone_);
    if (!got.ok()) {
      logger()->debug("mapping {} {}: read failed: {}", run_->uuid, shard_id_,
                      got.status().to_string());
      read_failed = true;
      break;
    }
    if (*got == 0) break;
  }
  for (auto& lane : lanes_) pump_lane(*lane, *cfg);
  if (finished_ || stopping_) return;
  if (drained_ && undone_ == 0 && !any_in_flight() && !window_) {
    shard_done();
    return;
  }
  // Look again after a while even without a put (a closed shard's end, trimmed records).
  if (!drained_ || read_failed) arm_idle(impl_->options.idle_poll_ms);
}

void Reader::pump_lane(Lane& lane, const Mapping& cfg) {
  if (lane.in_flight || lane.wait == Wait::kBackoff) return;
  if (lane.notice && !deliver_notice(lane)) return;
  if (lane.wait == Wait::kWindow) {
    ++lane.timer_gen;
    lane.timer.cancel();
    lane.wait = Wait::kNone;
  }
  if (lane.units.empty()) {
    const int64_t now = impl_->clock->now_ms();
    int64_t tumbling_end = std::numeric_limits<int64_t>::max();
    if (cfg.tumbling_window_s > 0) {
      const int64_t w = int64_t{cfg.tumbling_window_s} * 1000;
      if (!window_ && !lane.records.empty()) {
        window_ =
            TumblingWindow{window_of(at(lane.records.front()).arrival_ms, cfg.tumbling_window_s)};
      }
      if (window_) {
        tumbling_end = window_->start_ms + w;
        // Over when its time has passed or a later record came, and all of it was delivered:
        // the final invocation with the state (spec 10). By the clock only after a grace: a
        // record stamped just before the edge may still be on its way to disk.
        const bool over = lane.records.empty()
                              ? now >= tumbling_end + kWindowCloseGraceMs || drained_
                              : window_of(at(lane.records.front()).arrival_ms,
                                          cfg.tumbling_window_s) != window_->start_ms;
        if (over) {
          lane.units.push_back(Unit{0, 0, true, ""});
          invoke_front(lane, cfg);
          return;
        }
        if (lane.records.empty()) {
          arm_lane(lane, Wait::kWindow, tumbling_end + kWindowCloseGraceMs - now);
          return;
        }
      }
    }
    if (lane.records.empty()) return;
    const size_t batch_size = static_cast<size_t>(std::max(cfg.batch_size, 1));
    const int64_t window_end = lane.window_start_ms + int64_t{cfg.maximum_batching_window_s} * 1000;
    const bool full = lane.records.size() >= batch_size || lane.bytes >= kMaxEventBytes;
    if (!full && !drained_ && cfg.maximum_batching_window_s > 0 && now < window_end &&
        now < tumbling_end) {
      arm_lane(lane, Wait::kWindow, std::min(window_end, tumbling_end) - now);
      return;
    }
    form_unit(lane, cfg);
    if (lane.units.empty()) {  // the record was too large and discarded
      asio::post(strand_, [self = shared_from_this()] { self->pump(); });
      return;
    }
  }
  invoke_front(lane, cfg);
}

EventBuilder Reader::event_builder(const Mapping& cfg) const {
  auto info = impl_->functions(unqualified_function_arn(cfg.function_arn));
  const std::string role = info.ok() ? std::move(info->role) : std::string();
  return EventBuilder(EventSource{shard_id_, run_->stream_arn, run_->stream.region, role});
}

void Reader::form_unit(Lane& lane, const Mapping& cfg) {
  const size_t batch_size = static_cast<size_t>(std::max(cfg.batch_size, 1));
  size_t n = 0;
  size_t bytes = event_overhead_bytes();
  if (window_) bytes += window_->state.size() + 512;  // the window envelope (spec 2.2)
  // Each record repeats the function's role (invokeIdentityArn), looked up now: event_bytes
  // counted every other byte of the record at read time.
  const size_t role_bytes = event_builder(cfg).shared_bytes() - shared_bytes_without_role_;
  while (n < lane.records.size() && n < batch_size) {
    const Record& r = at(lane.records[n]);
    if (window_ && window_of(r.arrival_ms, cfg.tumbling_window_s) != window_->start_ms) break;
    const size_t add = r.event_bytes + role_bytes + (n > 0 ? 1 : 0);
    if (bytes + add > kMaxEventBytes) break;
    bytes += add;
    ++n;
  }
  if (n == 0) {
    // One record whose event alone is over the limit can never be delivered (spec 4.3).
    logger()->warn("mapping {} {}: record {} does not fit in one event; discarded", run_->uuid,
                   shard_id_, at(lane.records.front()).sequence_number.view());
    // Never invoked: counted as one failed invocation (spec 4.3) without a responseContext
    // (docs/esm.md).
    discard_prefix(lane, 1, FailureNotice::Condition::kRetryAttemptsExhausted, 1, std::nullopt, "");
    return;
  }
  lane.units.push_back(Unit{n, 0, false, ""});
}

void Reader::invoke_front(Lane& lane, const Mapping& cfg) {
  Unit& unit = lane.units.front();
  if (cfg.maximum_record_age_s >= 0) {
    std::vector<int64_t> arrivals;
    arrivals.reserve(unit.count);
    for (size_t i = 0; i < unit.count; ++i) arrivals.push_back(at(lane.records[i]).arrival_ms);
    const size_t expired =
        expired_prefix(arrivals, impl_->clock->now_ms(), cfg.maximum_record_age_s);
    if (expired > 0) {
      run_->counters->expired_records.fetch_add(expired, std::memory_order_relaxed);
      discard_prefix(lane, expired, FailureNotice::Condition::kRecordAgeExceeded,
                     std::max(unit.attempts, 1), std::nullopt, unit.last_request_id);
      unit.count -= expired;
      if (unit.count == 0) lane.units.pop_front();
      asio::post(strand_, [self = shared_from_this()] { self->pump(); });
      return;
    }
  }
  const std::string function_arn = unqualified_function_arn(cfg.function_arn);
  auto info = impl_->functions(function_arn);
  const int32_t attempts_before = unit.attempts;
  if (!info.ok()) {
    function::InvokeOutcome missing;
    missing.kind = function::InvokeOutcome::Kind::kUnavailable;
    missing.payload = "ResourceNotFound";
    on_outcome(lane, std::move(missing), attempts_before);
    return;
  }
  std::vector<EventRecord> records;
  records.reserve(unit.count);
  for (size_t i = 0; i < unit.count; ++i) records.push_back(at(lane.records[i]).event_view());
  const EventSource source{shard_id_, run_->stream_arn, run_->stream.region, info->role};
  function::Invocation inv;
  inv.request_id = new_uuid();
  unit.last_request_id = inv.request_id;
  inv.function_arn = function_arn;
  inv.deadline = std::chrono::system_clock::now() + std::chrono::seconds(info->timeout_s);
  inv.payload = EventBuilder(source).build(records);
  if (window_ && cfg.tumbling_window_s > 0) {
    inv.payload.pop_back();  // the closing '}' of {"Records":[...]}
    inv.payload += fmt::format(
        R"(,"window":{{"start":"{}","end":"{}"}},"state":{},"shardId":"{}","eventSourceARN":"{}",)"
        R"("isFinalInvokeForWindow":{},"isWindowTerminatedEarly":{}}})",
        iso8601_seconds(window_->start_ms),
        iso8601_seconds(window_->start_ms + int64_t{cfg.tumbling_window_s} * 1000), window_->state,
        shard_id_, run_->stream_arn, unit.final_invoke, window_->terminated_early);
  }
  lane.in_flight = true;
  run_->counters->invocations.fetch_add(1, std::memory_order_relaxed);
  // `done` runs once, on the invoker's thread, which may destroy the callback much later.
  // The reader reference moves into the posted handler, so that this thread never holds the
  // last one: a reader must die on the engine's threads, while its strand's service lives.
  // Posting to a strand leaves copies of it on this thread until post() returns, and by then
  // the handler may have run, the engine shut down and its io_context gone: `keep` holds the
  // engine's state (the io_context with it) until they are released. It also covers an
  // invocation that outlives shutdown()'s wait: its handler is queued and never runs, and the
  // batch is read again after a restart.
  impl_->invoker->invoke(std::move(inv),
                         [impl = impl_->shared_from_this(), self = shared_from_this(), lane = &lane,
                          attempts_before](function::InvokeOutcome outcome) mutable {
                           const std::shared_ptr<Engine::Impl> keep = std::move(impl);
                           std::shared_ptr<Reader> reader = std::move(self);
                           auto& strand = reader->strand_;
                           asio::post(strand, [reader = std::move(reader), lane, attempts_before,
                                               outcome = std::move(outcome)]() mutable {
                             lane->in_flight = false;
                             reader->on_outcome(*lane, std::move(outcome), attempts_before);
                           });
                         });
}

void Reader::on_outcome(Lane& lane, function::InvokeOutcome outcome, int32_t attempts_before) {
  const std::shared_ptr<const Mapping> cfg = run_->config();
  Unit& unit = lane.units.front();
  std::vector<std::string_view> seqs;
  seqs.reserve(unit.count);
  for (size_t i = 0; i < unit.count; ++i) {
    seqs.push_back(at(lane.records[i]).sequence_number.view());
  }
  BatchResult result = classify(outcome, cfg->report_batch_item_failures, seqs);
  // Tumbling windows: the response must carry the new state as a JSON object (spec 10).
  std::optional<std::string> new_state;
  if (window_ && cfg->tumbling_window_s > 0 &&
      (result.kind == BatchResult::Kind::kSuccess || result.kind == BatchResult::Kind::kPartial)) {
    simdjson::dom::parser parser;
    simdjson::dom::object response;
    simdjson::dom::object state;
    if (parser.parse(outcome.payload).get(response) == simdjson::SUCCESS &&
        response["state"].get(state) == simdjson::SUCCESS) {
      new_state = simdjson::minify(state);
    } else {
      result = BatchResult{BatchResult::Kind::kFunctionError, 0, std::nullopt};
    }
  }
  const bool final_invoke = unit.final_invoke;
  const FailurePolicy policy{cfg->bisect_batch_on_function_error, cfg->maximum_retry_attempts};
  // A final window invocation has no records; it is retried or given up like one record.
  const Decision d = decide(result, std::max<size_t>(unit.count, 1), attempts_before, policy);
  Counters& c = *run_->counters;
  const auto batch_finished = [&](size_t n) {
    c.batches.fetch_add(1, std::memory_order_relaxed);
    if (n == 0) return;
    const int64_t age = impl_->clock->now_ms() - at(lane.records[n - 1]).arrival_ms;
    std::lock_guard lock(c.mu);
    c.shards[shard_id_].iterator_age_ms = age;
  };
  switch (result.kind) {
    case BatchResult::Kind::kSuccess:
    case BatchResult::Kind::kPartial:
      impl_->set_result(run_->uuid, kResultOk);
      break;
    case BatchResult::Kind::kFunctionError:
      c.function_errors.fetch_add(1, std::memory_order_relaxed);
      impl_->set_result(run_->uuid, kResultFunctionFailed);
      break;
    case BatchResult::Kind::kInvocationError:
      c.invocation_errors.fetch_add(1, std::memory_order_relaxed);
      impl_->set_result(run_->uuid, outcome.payload == "ResourceNotFound" ? kResultFunctionMissing
                                                                          : kResultThrottled);
      break;
  }
  if (new_state && (d.kind == Decision::Kind::kDone || d.kind == Decision::Kind::kAdvance)) {
    window_->terminated_early = new_state->size() > kMaxWindowStateBytes;
    window_->state = window_->terminated_early ? "{}" : std::move(*new_state);
    if (final_invoke && d.kind == Decision::Kind::kDone) window_.reset();
  }
  if (final_invoke && d.kind == Decision::Kind::kDiscard) window_.reset();
  if (final_invoke && (d.kind == Decision::Kind::kDone || d.kind == Decision::Kind::kDiscard)) {
    store_position();  // the window is gone from the checkpoint
  }
  switch (d.kind) {
    case Decision::Kind::kDone:
      batch_finished(unit.count);
      complete_prefix(lane, unit.count);
      lane.units.pop_front();
      lane.window_start_ms = impl_->clock->now_ms();
      break;
    case Decision::Kind::kAdvance:
      batch_finished(d.count);
      complete_prefix(lane, d.count);
      unit.count -= d.count;
      unit.attempts = d.attempts;
      break;
    case Decision::Kind::kSplit: {
      c.bisects.fetch_add(1, std::memory_order_relaxed);
      const Unit whole = unit;
      lane.units.pop_front();
      lane.units.push_front(Unit{whole.count - d.count, 0, false, whole.last_request_id});
      lane.units.push_front(Unit{d.count, 0, false, whole.last_request_id});
      break;
    }
    case Decision::Kind::kRetry:
      c.retries.fetch_add(1, std::memory_order_relaxed);
      unit.attempts = d.attempts;
      if (stopping_) break;
      arm_lane(
          lane, Wait::kBackoff,
          retry_backoff_ms(d.attempts, impl_->options.retry_base_ms, impl_->options.retry_max_ms));
      return;
    case Decision::Kind::kDiscard: {
      const size_t n = unit.count;
      std::string request_id = std::move(unit.last_request_id);
      lane.units.pop_front();
      // The function's error type; JSON null when a partial batch response failed them.
      std::optional<std::string> function_error;
      if (result.kind == BatchResult::Kind::kFunctionError) function_error = result.function_error;
      discard_prefix(lane, n, FailureNotice::Condition::kRetryAttemptsExhausted,
                     attempts_before + 1,
                     FailureNotice::Response{200, "$LATEST", std::move(function_error)},
                     std::move(request_id));
      lane.window_start_ms = impl_->clock->now_ms();
      break;
    }
    case Decision::Kind::kWait:
      if (stopping_) break;
      arm_lane(lane, Wait::kBackoff, impl_->options.throttle_wait_ms);
      return;
  }
  pump();
}

void Reader::complete_prefix(Lane& lane, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    Record& r = at(lane.records.front());
    r.done = true;
    --undone_;
    lane.bytes -= r.event_bytes;
    lane.records.pop_front();
  }
  advance_checkpoint();
}

void Reader::advance_checkpoint() {
  // The checkpoint: the last record of the done prefix of the shard (spec 7: every record at
  // or below it is done in every lane).
  std::optional<stream::SequenceNumberText> last;
  while (!read_.empty() && read_.front().done) {
    last = read_.front().sequence_number;
    read_.pop_front();
    ++first_index_;
  }
  while (!reads_.empty() && reads_.front().end_index <= first_index_) reads_.pop_front();
  {
    std::lock_guard lock(run_->counters->mu);
    run_->counters->shards[shard_id_].unfinished_records = undone_;
  }
  if (!last) return;
  position_.kind = ShardPosition::Kind::kAfter;
  position_.sequence_number.assign(last->view());
  store_position();
}

void Reader::store_position() {
  position_.window_start_ms.reset();
  position_.window_state.clear();
  if (window_) {
    position_.window_start_ms = window_->start_ms;
    position_.window_state = window_->state;
  }
  impl_->checkpoints->put(checkpoint_key(run_->uuid, shard_id_), encode_position(position_));
}

void Reader::discard_prefix(Lane& lane, size_t n, FailureNotice::Condition condition,
                            int32_t invocations, std::optional<FailureNotice::Response> response,
                            std::string request_id) {
  const bool expired = condition == FailureNotice::Condition::kRecordAgeExceeded;
  if (n == 0) {  // a tumbling window's final invocation: its state is dropped
    logger()->warn(
        "mapping {} {}: giving up the final invocation of a window ({}, {} invocation(s))",
        run_->uuid, shard_id_, expired ? "RecordAgeExceeded" : "RetryAttemptsExhausted",
        invocations);
    return;
  }
  run_->counters->discarded_records.fetch_add(n, std::memory_order_relaxed);
  const std::shared_ptr<const Mapping> cfg = run_->config();
  const Record& first = at(lane.records.front());
  const Record& last = at(lane.records[n - 1]);
  if (cfg->on_failure_destination.empty() || impl_->destinations == nullptr) {
    logger()->warn(
        "mapping {} {}: discarding {} record(s) {}..{} ({}, {} invocation(s)); the mapping has "
        "no on-failure destination",
        run_->uuid, shard_id_, n, first.sequence_number.view(), last.sequence_number.view(),
        expired ? "RecordAgeExceeded" : "RetryAttemptsExhausted", invocations);
    complete_prefix(lane, n);
    return;
  }
  FailureNotice notice;
  notice.request_id = request_id.empty() ? new_uuid() : std::move(request_id);
  notice.function_arn = cfg->function_arn;
  notice.condition = condition;
  notice.approximate_invoke_count = invocations;
  if (!expired) notice.response = std::move(response);
  notice.timestamp_ms = impl_->clock->now_ms();
  notice.shard_id = shard_id_;
  notice.start_sequence_number = first.sequence_number.str();
  notice.end_sequence_number = last.sequence_number.str();
  notice.first_arrival_ms = first.arrival_ms;
  notice.last_arrival_ms = last.arrival_ms;
  notice.batch_size = static_cast<int64_t>(n);
  notice.stream_arn = run_->stream_arn;
  lane.notice = PendingNotice{n, std::move(notice), 0};
  deliver_notice(lane);
}

bool Reader::deliver_notice(Lane& lane) {
  PendingNotice& pending = *lane.notice;
  const std::shared_ptr<const Mapping> cfg = run_->config();
  const std::string& arn = cfg->on_failure_destination;
  Status s;
  if (arn.empty()) {
    // The destination was removed by an update while the notice waited: nowhere to send it.
    logger()->warn("mapping {} {}: discarding {} record(s) {}..{}; the destination was removed",
                   run_->uuid, shard_id_, pending.count, pending.notice.start_sequence_number,
                   pending.notice.end_sequence_number);
  } else {
    NoticeDelivery delivery;
    delivery.notice = notice_json(pending.notice);
    if (is_bucket_arn(arn)) {
      // The bucket's copy carries the records as the function saw them (spec 9.3).
      auto info = impl_->functions(unqualified_function_arn(cfg->function_arn));
      const std::string role = info.ok() ? info->role : std::string();
      const EventSource source{shard_id_, run_->stream_arn, run_->stream.region, role};
      std::vector<EventRecord> records;
      records.reserve(pending.count);
      for (size_t i = 0; i < pending.count; ++i)
        records.push_back(at(lane.records[i]).event_view());
      delivery.object_key = notice_object_key(run_->uuid, pending.notice, new_uuid());
      delivery.object_body = notice_object_json(pending.notice, build_event(records, source));
    }
    s = impl_->destinations->deliver(arn, delivery);
    if (!s.ok()) {
      ++pending.attempts;
      run_->counters->notice_failures.fetch_add(1, std::memory_order_relaxed);
      logger()->warn("mapping {} {}: storing the failure notice of {} record(s) in {} failed: {}",
                     run_->uuid, shard_id_, pending.count, arn, s.to_string());
      impl_->set_result(run_->uuid, fmt::format("PROBLEM: On-failure destination {} failed: {}",
                                                arn, s.message()));
      if (!stopping_) {
        arm_lane(lane, Wait::kBackoff,
                 retry_backoff_ms(pending.attempts, impl_->options.destination_retry_ms,
                                  impl_->options.retry_max_ms));
      }
      return false;
    }
    run_->counters->notices_delivered.fetch_add(1, std::memory_order_relaxed);
    logger()->info("mapping {} {}: {} record(s) {}..{} discarded ({}); notice stored in {}",
                   run_->uuid, shard_id_, pending.count, pending.notice.start_sequence_number,
                   pending.notice.end_sequence_number,
                   pending.notice.condition == FailureNotice::Condition::kRecordAgeExceeded
                       ? "RecordAgeExceeded"
                       : "RetryAttemptsExhausted",
                   arn);
  }
  const size_t n = pending.count;
  lane.notice.reset();
  complete_prefix(lane, n);
  return true;
}

void Reader::shard_done() {
  // Children start once this is durable: through the writer, so that no older value of the
  // same key queued there can land after it.
  position_.ended = true;
  impl_->checkpoints->put(checkpoint_key(run_->uuid, shard_id_), encode_position(position_));
  if (!impl_->checkpoints->sync()) {
    logger()->error("mapping {} {}: storing the shard's end failed", run_->uuid, shard_id_);
    arm_idle(impl_->options.idle_poll_ms);
    return;
  }
  finished_ = true;
  run_->reader_finished(shard_id_, true);
}

// ---------------------------------------------------------------------------------------
// Engine

Engine::Engine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { shutdown(); }

Result<std::unique_ptr<Engine>> Engine::open(stream::StreamService* streams,
                                             stream::MetadataStore* store,
                                             function::Invoker* invoker, FunctionResolver functions,
                                             const Clock* clock, EngineOptions options,
                                             FailureDestinations* destinations) {
  auto impl = std::make_shared<Impl>();
  impl->destinations = destinations;
  impl->streams = streams;
  impl->store = store;
  impl->invoker = invoker;
  impl->functions = std::move(functions);
  impl->clock = clock;
  impl->options = options;
  impl->checkpoints = std::make_unique<CheckpointWriter>(store);
  SLUICE_ASSIGN_OR_RETURN(auto stored, store->list(kMappingNs));
  for (const auto& [key, value] : stored) {
    SLUICE_ASSIGN_OR_RETURN(Mapping m, decode_mapping(value, key));
    impl->entries[m.uuid].mapping = std::move(m);
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(impl)));
  streams->set_append_listener(
      [weak = std::weak_ptr<Impl>(engine->impl_)](const stream::StreamKey& key) {
        if (const std::shared_ptr<Impl> alive = weak.lock()) alive->on_append(key);
      });
  return engine;
}

void Engine::start() {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  if (impl.started || impl.shut_down) return;
  impl.started = true;
  for (int i = 0; i < std::max(impl.options.threads, 1); ++i) {
    impl.threads.emplace_back([&impl] { impl.io.run(); });
  }
  for (auto& [uuid, e] : impl.entries) {
    switch (e.mapping.state) {
      case MappingState::kEnabled:
        impl.start_run(e);
        break;
      case MappingState::kDisabled:
        break;
      default:  // a transition the last run did not finish
        impl.schedule_transition(uuid, 0);
        break;
    }
  }
}

void Engine::shutdown() {
  Impl& impl = *impl_;
  {
    std::unique_lock lock(impl.mu);
    if (impl.shut_down) return;
    impl.shut_down = true;
    for (auto& [uuid, e] : impl.entries) {
      if (e.run) impl.stop_run(e, nullptr);
    }
    // Batches in flight finish (and checkpoint) unless the invoker takes too long.
    impl.cv.wait_for(lock, std::chrono::milliseconds(impl.options.shutdown_wait_ms),
                     [&] { return impl.running_runs == 0; });
  }
  impl.checkpoints->sync();
  impl.work.reset();
  impl.io.stop();
  for (auto& t : impl.threads) t.join();
  impl.threads.clear();
  // Runs that did not finish in time still hold themselves through their readers and their
  // stop callback: break those cycles now that no thread runs them.
  std::lock_guard lock(impl.mu);
  for (auto& [uuid, e] : impl.entries) {
    if (e.run) e.run->release();
  }
}

Status Engine::check_event_source(std::string_view event_source_arn) const {
  const auto key = stream_of(event_source_arn);
  if (!key || !impl_->streams->describe_stream_summary(*key).ok()) {
    return Status::invalid_argument(fmt::format("Stream not found: {}", event_source_arn));
  }
  return Status();
}

Status Engine::check_destination(std::string_view arn) const {
  if (impl_->destinations == nullptr) {
    return Status::invalid_argument("On-failure destinations are not available on this server.");
  }
  return impl_->destinations->check(arn);
}

Result<Mapping> Engine::create(Mapping draft) {
  Impl& impl = *impl_;
  SLUICE_RETURN_IF_ERROR(check_event_source(draft.event_source_arn));
  std::lock_guard lock(impl.mu);
  for (const auto& [uuid, e] : impl.entries) {
    if (e.mapping.event_source_arn == draft.event_source_arn &&
        e.mapping.function_arn == draft.function_arn) {
      return Status::already_exists(fmt::format(
          "The event source arn (\" {} \") and function (\" {} \") provided mapping already "
          "exists. Please update or delete the existing mapping with UUID {}",
          draft.event_source_arn, function_name_of(draft.function_arn), uuid));
    }
  }
  Mapping m = std::move(draft);
  m.uuid = new_uuid();
  m.state = MappingState::kCreating;
  m.state_transition_reason = std::string(kUserAction);
  m.last_processing_result = std::string(kNoRecordsProcessed);
  m.created_ms = m.last_modified_ms = impl.clock->now_ms();
  SLUICE_RETURN_IF_ERROR(impl.persist(m));
  impl.entries[m.uuid].mapping = m;
  if (impl.started) impl.schedule_transition(m.uuid, impl.options.transition_delay_ms);
  return m;
}

Result<Mapping> Engine::get(std::string_view uuid) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->entries.find(std::string(uuid));
  if (it == impl_->entries.end()) {
    return Status::not_found("The resource you requested does not exist.");
  }
  return it->second.mapping;
}

Result<Mapping> Engine::update(std::string_view uuid,
                               const std::function<Status(Mapping&)>& change) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  auto it = impl.entries.find(std::string(uuid));
  if (it == impl.entries.end()) {
    return Status::not_found("The resource you requested does not exist.");
  }
  Impl::Entry& e = it->second;
  if (e.mapping.state == MappingState::kDeleting) {
    return Status::in_use(fmt::format(
        "Cannot update the event source mapping {} because it is being deleted.", uuid));
  }
  Mapping next = e.mapping;
  SLUICE_RETURN_IF_ERROR(change(next));
  // What cannot change, whatever `change` did.
  next.uuid = e.mapping.uuid;
  next.account = e.mapping.account;
  next.region = e.mapping.region;
  next.event_source_arn = e.mapping.event_source_arn;
  next.starting_position = e.mapping.starting_position;
  next.starting_position_timestamp = e.mapping.starting_position_timestamp;
  next.created_ms = e.mapping.created_ms;
  if (next.enabled != e.mapping.enabled) {
    next.state = next.enabled ? MappingState::kEnabling : MappingState::kDisabling;
  } else if (e.mapping.state != MappingState::kCreating) {
    next.state = MappingState::kUpdating;
  }
  next.state_transition_reason = std::string(kUserAction);
  next.last_modified_ms = impl.clock->now_ms();
  SLUICE_RETURN_IF_ERROR(impl.persist(next));
  e.mapping = next;
  if (e.run) e.run->set_config(next);
  if (impl.started) impl.schedule_transition(next.uuid, impl.options.transition_delay_ms);
  return next;
}

Result<Mapping> Engine::remove(std::string_view uuid) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  auto it = impl.entries.find(std::string(uuid));
  if (it == impl.entries.end()) {
    return Status::not_found("The resource you requested does not exist.");
  }
  Mapping& m = it->second.mapping;
  if (m.state == MappingState::kDeleting) return m;
  m.state = MappingState::kDeleting;
  m.state_transition_reason = std::string(kUserAction);
  m.last_modified_ms = impl.clock->now_ms();
  SLUICE_RETURN_IF_ERROR(impl.persist(m));
  if (impl.started) impl.schedule_transition(m.uuid, impl.options.transition_delay_ms);
  return m;
}

std::vector<Mapping> Engine::list() const {
  std::vector<Mapping> out;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [uuid, e] : impl_->entries) out.push_back(e.mapping);
  }
  std::stable_sort(out.begin(), out.end(), [](const Mapping& a, const Mapping& b) {
    return std::tie(a.created_ms, a.uuid) < std::tie(b.created_ms, b.uuid);
  });
  return out;
}

std::string Engine::metrics_text() const {
  struct Row {
    std::string uuid;
    std::string function;
    std::shared_ptr<Counters> counters;
  };
  std::vector<Row> rows;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [uuid, e] : impl_->entries) {
      rows.push_back({uuid, function_name_of(e.mapping.function_arn), e.counters});
    }
  }
  std::string out;
  const auto counter = [&](std::string_view name, std::string_view help,
                           std::atomic<uint64_t> Counters::*member) {
    out += fmt::format("# HELP sluice_esm_{} {}\n# TYPE sluice_esm_{} counter\n", name, help, name);
    for (const auto& r : rows) {
      out += fmt::format("sluice_esm_{}{{mapping=\"{}\",function=\"{}\"}} {}\n", name, r.uuid,
                         r.function, ((*r.counters).*member).load(std::memory_order_relaxed));
    }
  };
  counter("records_read_total", "Records read from the stream.", &Counters::records);
  counter("batches_total", "Batches whose records were all done.", &Counters::batches);
  counter("invocations_total", "Function invocations.", &Counters::invocations);
  counter("function_errors_total", "Invocations that ended in a function error.",
          &Counters::function_errors);
  counter("invocation_errors_total", "Invocations that could not run (throttled, missing).",
          &Counters::invocation_errors);
  counter("retries_total", "Batches retried after a failed attempt.", &Counters::retries);
  counter("bisects_total", "Failed batches split in two.", &Counters::bisects);
  counter("discarded_records_total", "Records discarded by the retry or age policy.",
          &Counters::discarded_records);
  counter("filtered_records_total", "Records dropped by the mapping's filter criteria.",
          &Counters::filtered_records);
  counter("expired_records_total", "Records discarded as older than MaximumRecordAgeInSeconds.",
          &Counters::expired_records);
  counter("on_failure_notices_total", "Failure notices stored in the on-failure destination.",
          &Counters::notices_delivered);
  counter("on_failure_notice_errors_total",
          "Attempts to store a failure notice that failed (the records waited).",
          &Counters::notice_failures);
  const auto gauge = [&](std::string_view name, std::string_view help, auto value_of) {
    out += fmt::format("# HELP sluice_esm_{} {}\n# TYPE sluice_esm_{} gauge\n", name, help, name);
    for (const auto& r : rows) {
      std::lock_guard lock(r.counters->mu);
      for (const auto& [shard, g] : r.counters->shards) {
        const std::optional<int64_t> v = value_of(g);
        if (!v) continue;
        out += fmt::format("sluice_esm_{}{{mapping=\"{}\",shard=\"{}\"}} {}\n", name, r.uuid, shard,
                           *v);
      }
    }
  };
  gauge("iterator_age_ms",
        "Age of the last record of the shard's last finished batch when it finished.",
        [](const Counters::ShardGauges& g) { return g.iterator_age_ms; });
  gauge("millis_behind_latest", "How far the shard's last read was behind its newest record.",
        [](const Counters::ShardGauges& g) {
          return std::optional<int64_t>(g.millis_behind_latest);
        });
  gauge("checkpoint_lag_records",
        "Records read and not yet done: the checkpoint's distance behind the reader.",
        [](const Counters::ShardGauges& g) {
          return std::optional<int64_t>(static_cast<int64_t>(g.unfinished_records));
        });
  return out;
}

}  // namespace sluice::esm
