#include "stream/stream_service.h"

#include "base/await.h"
#include "base/check.h"
#include "base/log.h"
#include "stream/identifiers.h"
#include "stream/internal/crypto.h"
#include "stream/internal/metadata_codec.h"
#include "stream/internal/shard_writer.h"
#include "stream/internal/tokens.h"
#include "stream/sequence_number.h"
#include "stream/throttle.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <set>
#include <utility>

namespace sluice::stream {
namespace internal {

struct ShardState {
  ShardMeta meta;
  std::shared_ptr<ShardLog> log;
  std::shared_ptr<ShardWriter> writer;  // while the shard is open
  // Used only with enforce_limits; shared so that reads can charge it outside mu_.
  std::shared_ptr<ShardThrottle> throttle = std::make_shared<ShardThrottle>();
};

struct StreamState {
  StreamMeta meta;
  std::map<int32_t, std::unique_ptr<ShardState>> shards;  // by index
  std::map<HashKey, int32_t> open_by_start;               // routing: open shards by start
  std::shared_ptr<SequenceCounter> counter;

  void rebuild_routing() {
    open_by_start.clear();
    for (const auto& [index, shard] : shards) {
      if (!shard->meta.closed_ms) open_by_start[shard->meta.range.starting] = index;
    }
  }
  // The open shard whose range holds `hash`; nullptr when none does (no open shards yet).
  ShardState* route(HashKey hash) const {
    auto it = open_by_start.upper_bound(hash);
    if (it == open_by_start.begin()) return nullptr;
    --it;
    ShardState* s = shards.at(it->second).get();
    return s->meta.range.contains(hash) ? s : nullptr;
  }
};

}  // namespace internal

namespace {

using internal::AppendOutcome;
using internal::PendingChange;
using internal::PendingKind;
using internal::ShardMeta;
using internal::ShardState;
using internal::ShardWriter;
using internal::StreamMeta;
using internal::StreamState;

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int32_t kMinRetentionHours = 24;
constexpr int32_t kMaxRetentionHours = 8760;
constexpr int32_t kMaxTags = 50;
constexpr size_t kMaxPutRecordsEntries = 500;
constexpr int32_t kMaxGetRecordsLimit = 10000;
constexpr size_t kGetRecordsMaxBytes = 10 * 1024 * 1024;
constexpr int kMaxRouteAttempts = 8;  // re-routing after a shard closed under a put
constexpr std::string_view kListShardsToken = "ListShards";
constexpr std::string_view kListStreamsToken = "ListStreams";
constexpr std::string_view kListConsumersToken = "ListStreamConsumers";
constexpr std::string_view kAllMetrics[] = {
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
};
constexpr std::string_view kValidationPrefix = "1 validation error detected: ";
constexpr std::string_view kRequestInvalidPrefix = "Request is invalid. ";

std::shared_ptr<spdlog::logger> logger() { return logging::get("stream"); }

// ---- Spec message texts ----

Status stream_not_found(const StreamKey& k) {
  return Status::not_found(fmt::format("Stream {} under account {} not found.", k.name, k.account));
}
// After stop_writes(): nothing of the request was stored.
Status writes_stopped() {
  return Status::unavailable("The server is shutting down; the request was not stored.");
}
Status shard_does_not_exist(const StreamKey& k, int64_t index) {
  return Status::not_found(fmt::format("Shard {} in stream {} under account {} does not exist",
                                       format_shard_id(index), k.name, k.account));
}
Status could_not_find_shard(const StreamKey& k, std::string_view shown) {
  return Status::not_found(fmt::format("Could not find shard {} in stream {} under account {}.",
                                       shown, k.name, k.account));
}
// Spec 8.3; the wording is the service's as far as it is known.
std::string rate_exceeded_message(const StreamKey& k, int64_t index) {
  return fmt::format("Rate exceeded for shard {} in stream {} under account {}.",
                     format_shard_id(index), k.name, k.account);
}
Status rate_exceeded(const StreamKey& k, int64_t index) {
  return Status::throttled(rate_exceeded_message(k, index));
}
Status not_active(const StreamKey& k, StreamStatus st) {
  return Status::in_use(fmt::format("Stream {} under account {} not ACTIVE, instead in state {}",
                                    k.name, k.account, stream_status_name(st)));
}
Status on_demand_invalid(const StreamKey& k) {
  return Status::invalid_argument(fmt::format("{}Stream {} under account {} is in On-Demand mode.",
                                              kRequestInvalidPrefix, k.name, k.account));
}
Status already_resharded(const StreamKey& k, int32_t index) {
  return Status::invalid_argument(fmt::format(
      "Shard {} in stream {} under account {} has already been merged or split, and thus is not "
      "eligible for merging or splitting.",
      format_shard_id(index), k.name, k.account));
}
Status shard_limit_exceeded(const StreamKey& k, int32_t open, int32_t limit, int64_t additional) {
  return Status::limit_exceeded(fmt::format(
      "This request would exceed the shard limit for the account {} in {}. Current shard count "
      "for the account: {}. Limit: {}. Number of additional shards that would have resulted "
      "from this request: {}. Refer to the AWS Service Limits page "
      "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current "
      "limits and how to request higher limits.",
      k.account, k.region, open, limit, additional));
}
Status record_too_large(std::string_view path, size_t data_bytes, size_t max_bytes) {
  return Status::invalid_argument(fmt::format(
      "{}Value 'java.nio.HeapByteBuffer[pos=0 lim={} cap={}]' at '{}' failed to satisfy "
      "constraint: Member must have length less than or equal to {}",
      kValidationPrefix, data_bytes, data_bytes, path, max_bytes));
}
Status invalid_explicit_hash_key(std::string_view v) {
  return Status::invalid_argument(fmt::format(
      "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified "
      "value was {}",
      v));
}

bool writable(StreamStatus st) {
  return st == StreamStatus::kActive || st == StreamStatus::kUpdating;
}

int64_t retention_cutoff_ms(const StreamMeta& m, int64_t now) {
  return std::max(now - int64_t{m.retention_hours} * kHourMs, m.trim_floor_ms);
}

bool is_expired(const ShardMeta& s, int64_t cutoff) { return s.closed_ms && *s.closed_ms < cutoff; }

ShardDescription describe_shard(const ShardMeta& m) {
  ShardDescription d;
  d.index = m.index;
  d.shard_id = format_shard_id(m.index);
  if (m.parent) d.parent_shard_id = format_shard_id(*m.parent);
  if (m.adjacent_parent) d.adjacent_parent_shard_id = format_shard_id(*m.adjacent_parent);
  d.hash_key_range = m.range;
  d.starting_sequence_number =
      encode_sequence_number({m.seq_creation_s, m.index, 0, m.seq_creation_s}).str();
  if (m.closed_ms) {
    d.ending_sequence_number = encode_sequence_number({m.seq_creation_s, m.index,
                                                       kMaxSequenceCounter, *m.closed_ms / 1000})
                                   .str();
  }
  d.created_ms = m.created_ms;
  d.closed_ms = m.closed_ms;
  return d;
}

// The consumer's status at `now`; nullopt once a deregistration has completed.
std::optional<ConsumerStatus> consumer_status(const internal::ConsumerMeta& c, int64_t now,
                                              int64_t delay_ms) {
  if (c.deleting_due_ms) {
    if (now >= *c.deleting_due_ms) return std::nullopt;
    return ConsumerStatus::kDeleting;
  }
  return now < c.registered_ms + delay_ms ? ConsumerStatus::kCreating : ConsumerStatus::kActive;
}

StreamDescription summarize(const StreamState& s, int64_t now, int64_t consumer_delay_ms) {
  const StreamMeta& m = s.meta;
  StreamDescription d;
  d.stream = m.key;
  d.arn = stream_arn(m.key);
  d.status = m.status;
  d.mode = m.mode;
  d.retention_hours = m.retention_hours;
  d.creation_timestamp_ms = m.creation_ms;
  d.shard_level_metrics = m.shard_level_metrics;
  d.encryption_type = m.encryption;
  if (m.encryption == EncryptionType::kKms) d.key_id = m.key_id;
  d.max_record_size_kib = m.max_record_size_kib;
  if (m.mode == StreamMode::kOnDemand) d.warm_throughput_mibps = m.warm_throughput_mibps;
  d.open_shard_count = static_cast<int32_t>(s.open_by_start.size());
  for (const internal::ConsumerMeta& c : m.consumers) {
    if (consumer_status(c, now, consumer_delay_ms)) ++d.consumer_count;
  }
  return d;
}

// Tag characters (spec 9.16): letters (ASCII, U+00C0-U+1FFF, U+2C00-U+D7FF), digits, white
// space and _ . / = + - @ %. Invalid UTF-8 is invalid.
bool tag_chars_valid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if ((b & 0xe0) == 0xc0) {
      cp = b & 0x1f;
      len = 2;
    } else if ((b & 0xf0) == 0xe0) {
      cp = b & 0x0f;
      len = 3;
    } else if ((b & 0xf8) == 0xf0) {
      cp = b & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t j = 1; j < len; ++j) {
      const auto c = static_cast<unsigned char>(s[i + j]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    i += len;
    if (cp < 0x80) {
      const char c = static_cast<char>(cp);
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view(" _./=+-@%").find(c) != std::string_view::npos;
      if (!ok) return false;
    } else if (!((cp >= 0xc0 && cp <= 0x1fff) || (cp >= 0x2c00 && cp <= 0xd7ff))) {
      return false;
    }
  }
  return true;
}

Status check_tag_chars(const StreamKey& k, std::span<const std::string_view> texts, bool adding) {
  for (std::string_view t : texts) {
    if (!tag_chars_valid(t)) {
      return Status::invalid_argument(
          "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white "
          "space, _ . / = + - % @.");
    }
  }
  for (std::string_view t : texts) {
    if (t.find('%') != std::string_view::npos) {
      return Status::invalid_argument(fmt::format(
          "Failed to {} tags {} stream {} under account {} because some tags contained illegal "
          "characters. The allowed characters are Unicode letters, white-spaces, "
          "'_',',','/','=','+','-','@'.",
          adding ? "add" : "remove", adding ? "to" : "from", k.name, k.account));
    }
  }
  return Status();
}

Status check_new_tags(const StreamKey& k, const std::map<std::string, std::string>& existing,
                      const std::map<std::string, std::string>& added) {
  std::vector<std::string_view> texts;
  for (const auto& [key, value] : added) {
    texts.push_back(key);
    texts.push_back(value);
  }
  SLUICE_RETURN_IF_ERROR(check_tag_chars(k, texts, /*adding=*/true));
  size_t total = existing.size();
  for (const auto& [key, value] : added) total += existing.contains(key) ? 0 : 1;
  if (total > static_cast<size_t>(kMaxTags)) {
    return Status::invalid_argument(fmt::format(
        "Failed to add tags to stream {} under account {} because a given stream cannot have "
        "more than {} tags associated with it.",
        k.name, k.account, kMaxTags));
  }
  return Status();
}

// The offset of the first record of `log` whose counter is >= `counter` (end_offset() when
// none is): a binary search reading one record per probe, valid because counters grow with
// offsets within a shard.
Result<LogOffset> seek_counter(const ShardLog& log, uint64_t counter) {
  SLUICE_ASSIGN_OR_RETURN(LogOffset lo, log.start_offset());
  SLUICE_ASSIGN_OR_RETURN(LogOffset hi, log.end_offset());
  while (lo < hi) {
    const LogOffset mid(lo.value() + (hi.value() - lo.value()) / 2);
    SLUICE_ASSIGN_OR_RETURN(LogRead r, log.read(mid, LogReadLimits{1, 1}));
    if (r.records.empty()) {
      hi = mid;  // nothing at or after mid (a trim raced with us)
    } else if (r.records[0].counter < counter) {
      lo = LogOffset(r.records[0].offset.value() + 1);
    } else {
      hi = mid;
    }
  }
  return lo;
}

Result<int64_t> last_arrival_ms(const ShardLog& log) {
  SLUICE_ASSIGN_OR_RETURN(LogOffset start, log.start_offset());
  SLUICE_ASSIGN_OR_RETURN(LogOffset end, log.end_offset());
  if (end <= start) return int64_t{0};
  SLUICE_ASSIGN_OR_RETURN(LogRead r, log.read(LogOffset(end.value() - 1), LogReadLimits{1, 1}));
  return r.records.empty() ? int64_t{0} : r.records.back().arrival_ms;
}

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Shard changes of one reshard, applied to a copy of the stream's shards. Every shard it
// creates or closes is recorded in `touched`.
struct ReshardWork {
  std::map<int32_t, ShardMeta> shards;
  int32_t next_index = 0;
  int64_t at_ms = 0;
  uint64_t incarnation = 0;
  std::set<int32_t> touched;

  int32_t add_child(HashKeyRange r, std::optional<int32_t> parent,
                    std::optional<int32_t> adjacent) {
    ShardMeta m;
    m.incarnation = incarnation;
    m.index = next_index++;
    m.range = r;
    m.seq_creation_s = at_ms / 1000 + 1;  // spec 6.2: children use completion time + 1 s
    m.created_ms = at_ms;
    m.parent = parent;
    m.adjacent_parent = adjacent;
    m.log_name = internal::shard_log_name(incarnation, m.index);
    touched.insert(m.index);
    shards[m.index] = std::move(m);
    return next_index - 1;
  }
  void close(int32_t index) {
    shards.at(index).closed_ms = at_ms;
    touched.insert(index);
  }
  // REQUIRES: shard `p` open and p.start < k <= p.end. Returns the upper child.
  int32_t split(int32_t p, HashKey k) {
    const HashKeyRange r = shards.at(p).range;
    close(p);
    add_child({r.starting, k - 1}, p, std::nullopt);
    return add_child({k, r.ending}, p, std::nullopt);
  }
  // REQUIRES: both open, lo.end + 1 == hi.start.
  int32_t merge(int32_t lo, int32_t hi) {
    const HashKeyRange r{shards.at(lo).range.starting, shards.at(hi).range.ending};
    close(lo);
    close(hi);
    return add_child(r, lo, hi);
  }
  std::vector<int32_t> open_by_range() const {
    std::vector<int32_t> out;
    for (const auto& [index, m] : shards) {
      if (!m.closed_ms) out.push_back(index);
    }
    std::sort(out.begin(), out.end(), [&](int32_t a, int32_t b) {
      return shards.at(a).range.starting < shards.at(b).range.starting;
    });
    return out;
  }
  // Uniform scaling (spec 9.13): split open shards at every target boundary inside them,
  // then merge the pieces of each target range left to right, so every new shard has a
  // parent (merged ones also an adjacent parent).
  void scale(int32_t target) {
    const std::vector<HashKeyRange> ranges = divide_hash_space(static_cast<uint32_t>(target));
    for (int32_t index : open_by_range()) {
      int32_t cur = index;
      auto it = std::upper_bound(ranges.begin(), ranges.end(), shards.at(cur).range.starting,
                                 [](HashKey k, const HashKeyRange& r) { return k < r.starting; });
      for (; it != ranges.end() && it->starting <= shards.at(cur).range.ending; ++it) {
        cur = split(cur, it->starting);
      }
    }
    const std::vector<int32_t> pieces = open_by_range();
    size_t next = 0;
    for (const HashKeyRange& t : ranges) {
      int32_t acc = pieces.at(next++);
      while (next < pieces.size() && shards.at(pieces[next]).range.ending <= t.ending) {
        acc = merge(acc, pieces[next++]);
      }
      SLUICE_CHECK(shards.at(acc).range == t, "uniform scaling left a piece outside its range");
    }
  }
};

}  // namespace

bool is_validation_error(const Status& s) {
  return s.code() == Code::kInvalidArgument && (s.message().starts_with(kValidationPrefix) ||
                                                s.message().starts_with(kRequestInvalidPrefix));
}

// ---------------------------------------------------------------------------------------------
// Opening, persistence, transitions

StreamService::StreamService(ShardLogBackend* logs, MetadataStore* metadata, const Clock* clock,
                             StreamServiceOptions options)
    : logs_(logs),
      metadata_(metadata),
      clock_(clock),
      options_(options),
      writer_threads_(std::make_unique<boost::asio::thread_pool>(
          static_cast<size_t>(std::max(options.writer_threads, 1)))),
      schedule_([pool = writer_threads_.get()](std::function<void()> task) {
        boost::asio::post(*pool, std::move(task));
      }) {}

StreamService::~StreamService() { stop_writes(); }

void StreamService::stop_writes() {
  {
    std::lock_guard lock(mu_);
    if (writes_stopped_) return;
    writes_stopped_ = true;
    for (auto& [key, s] : streams_) {
      for (auto& [index, shard] : s->shards) {
        if (shard->writer) shard->writer->close();
      }
    }
  }
  // Groups in flight finish and the callbacks of the refused blocks run (their second
  // routing finds writes stopped); nothing is scheduled after this.
  writer_threads_->join();
}

Result<std::unique_ptr<StreamService>> StreamService::open(ShardLogBackend* logs,
                                                           MetadataStore* metadata,
                                                           const Clock* clock,
                                                           StreamServiceOptions options) {
  std::unique_ptr<StreamService> s(new StreamService(logs, metadata, clock, options));
  SLUICE_RETURN_IF_ERROR(s->load());
  return s;
}

Status StreamService::load() {
  using namespace internal;
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(auto secret, metadata_->get(kGlobalNs, kIteratorKeyName));
  if (secret) {
    auto raw = hex_decode(*secret);
    if (!raw || raw->size() < 16) return Status::corruption("stream catalog: bad iterator key");
    secret_ = std::move(*raw);
  } else {
    SLUICE_ASSIGN_OR_RETURN(secret_, random_bytes(32));
    const MetadataStore::Write w{std::string(kGlobalNs), std::string(kIteratorKeyName),
                                 hex_encode(as_bytes(secret_))};
    SLUICE_RETURN_IF_ERROR(metadata_->apply(std::span(&w, 1)));
  }
  SLUICE_ASSIGN_OR_RETURN(auto next_inc, metadata_->get(kGlobalNs, kNextIncarnationName));
  if (next_inc) {
    auto v = parse_number<uint64_t>(*next_inc);
    if (!v) return Status::corruption("stream catalog: bad next_incarnation");
    next_incarnation_ = *v;
  }

  std::map<std::string, uint64_t> reserved;
  SLUICE_ASSIGN_OR_RETURN(auto counters, metadata_->list(kCounterNs));
  for (const auto& [key, value] : counters) {
    auto v = parse_number<uint64_t>(value);
    if (!v) return Status::corruption("stream catalog: bad counter of " + key);
    reserved[key] = *v;
  }

  std::map<uint64_t, StreamState*> by_incarnation;
  SLUICE_ASSIGN_OR_RETURN(auto streams, metadata_->list(kStreamNs));
  for (const auto& [key, value] : streams) {
    auto meta = decode_stream(value);
    if (!meta.ok()) return meta.status().with_context("stream " + key);
    if (stream_meta_key(meta->key) != key) {
      return Status::corruption("stream catalog: stream under the wrong key " + key);
    }
    auto s = std::make_unique<StreamState>();
    s->meta = std::move(*meta);
    const uint64_t inc = s->meta.incarnation;
    next_incarnation_ = std::max(next_incarnation_, inc + 1);
    const auto r = reserved.find(counter_key(inc));
    s->counter = std::make_shared<SequenceCounter>(metadata_, counter_key(inc),
                                                   r == reserved.end() ? 0 : r->second);
    by_incarnation[inc] = s.get();
    StreamKey k = s->meta.key;
    streams_[std::move(k)] = std::move(s);
  }

  std::set<std::string> referenced;
  SLUICE_ASSIGN_OR_RETURN(auto shards, metadata_->list(kShardNs));
  for (const auto& [key, value] : shards) {
    auto meta = decode_shard(value);
    if (!meta.ok()) return meta.status().with_context("shard " + key);
    auto it = by_incarnation.find(meta->incarnation);
    if (it == by_incarnation.end()) {
      logger()->warn("shard record {} belongs to no stream; ignored", key);
      continue;
    }
    StreamState& s = *it->second;
    auto shard = std::make_unique<ShardState>();
    shard->meta = std::move(*meta);
    referenced.insert(shard->meta.log_name);
    SLUICE_ASSIGN_OR_RETURN(shard->log, logs_->open(shard->meta.log_name));
    if (!shard->meta.closed_ms && s.meta.status != StreamStatus::kCreating) {
      SLUICE_ASSIGN_OR_RETURN(int64_t last, last_arrival_ms(*shard->log));
      shard->writer = std::make_shared<ShardWriter>(shard->log, s.counter.get(), clock_, last,
                                                    options_.max_group_bytes, schedule_);
    }
    const int32_t index = shard->meta.index;
    s.shards[index] = std::move(shard);
  }
  for (auto& [key, s] : streams_) s->rebuild_routing();

  // Logs no shard refers to: left by a crash between a metadata change and a log removal.
  SLUICE_ASSIGN_OR_RETURN(auto names, logs_->list());
  for (const std::string& name : names) {
    if (!name.starts_with(kLogNamePrefix) || referenced.contains(name)) continue;
    Status s = logs_->remove(name);
    if (s.ok()) {
      logger()->info("removed orphan shard log {}", name);
    } else {
      logger()->warn("cannot remove orphan shard log {}: {}", name, s.to_string());
    }
  }
  logger()->debug("loaded {} streams", streams_.size());
  return advance_all(clock_->now_ms());
}

Status StreamService::persist_stream(const StreamState& s) {
  const MetadataStore::Write w{std::string(internal::kStreamNs),
                               internal::stream_meta_key(s.meta.key),
                               internal::encode_stream(s.meta)};
  return metadata_->apply(std::span(&w, 1));
}

bool StreamService::throttled(const StreamState& s) const {
  return options_.enforce_limits && s.meta.mode == StreamMode::kProvisioned;
}

Result<StreamState*> StreamService::lookup(const StreamKey& key, int64_t now) {
  auto it = streams_.find(key);
  if (it == streams_.end()) return static_cast<StreamState*>(nullptr);
  SLUICE_RETURN_IF_ERROR(advance(*it->second, now));
  it = streams_.find(key);  // a completed deletion removed it
  if (it == streams_.end()) return static_cast<StreamState*>(nullptr);
  return it->second.get();
}

Status StreamService::advance_all(int64_t now) {
  std::vector<StreamKey> keys;
  for (const auto& [key, s] : streams_) {
    if (s->meta.pending.kind != PendingKind::kNone && now >= s->meta.pending.due_ms) {
      keys.push_back(key);
    }
  }
  Status first;
  for (const StreamKey& key : keys) {
    auto r = lookup(key, now);
    if (!r.ok() && first.ok()) first = r.status();
  }
  return first;
}

// REQUIRES: mu_. May destroy `s` (a completed deletion).
Status StreamService::advance(StreamState& s, int64_t now) {
  const PendingChange& p = s.meta.pending;
  if (p.kind == PendingKind::kNone || now < p.due_ms) return Status();
  switch (p.kind) {
    case PendingKind::kCreate:
      return complete_create(s);
    case PendingKind::kSplit:
    case PendingKind::kMerge:
    case PendingKind::kScale:
      return complete_reshard(s);
    case PendingKind::kDelete:
      return complete_delete(s);
    case PendingKind::kMode:
    case PendingKind::kEncryption: {
      StreamMeta next = s.meta;
      if (p.kind == PendingKind::kMode) {
        next.mode = p.mode;
      } else {
        next.encryption = p.encryption;
        next.key_id = p.encryption == EncryptionType::kKms ? p.key_id : "";
      }
      next.status = StreamStatus::kActive;
      next.pending = PendingChange{};
      std::swap(s.meta, next);
      Status st = persist_stream(s);
      if (!st.ok()) std::swap(s.meta, next);
      return st;
    }
    case PendingKind::kNone:
      break;
  }
  return Status();
}

Status StreamService::complete_create(StreamState& s) {
  using namespace internal;
  StreamMeta next = s.meta;
  const int32_t n = next.initial_shard_count;
  const std::vector<HashKeyRange> ranges = divide_hash_space(static_cast<uint32_t>(n));
  std::vector<std::unique_ptr<ShardState>> created;
  std::vector<MetadataStore::Write> writes;
  for (int32_t i = 0; i < n; ++i) {
    auto shard = std::make_unique<ShardState>();
    ShardMeta& m = shard->meta;
    m.incarnation = next.incarnation;
    m.index = i;
    m.range = ranges[static_cast<size_t>(i)];
    m.seq_creation_s = next.creation_ms / 1000;
    m.created_ms = next.creation_ms;
    m.log_name = shard_log_name(next.incarnation, i);
    SLUICE_ASSIGN_OR_RETURN(shard->log, logs_->open(m.log_name));
    writes.push_back({std::string(kShardNs), shard_meta_key(m.incarnation, i), encode_shard(m)});
    created.push_back(std::move(shard));
  }
  next.status = StreamStatus::kActive;
  next.pending = PendingChange{};
  next.next_shard_index = n;
  writes.push_back({std::string(kStreamNs), stream_meta_key(next.key), encode_stream(next)});
  SLUICE_RETURN_IF_ERROR(metadata_->apply(writes));

  s.meta = std::move(next);
  for (auto& shard : created) {
    shard->writer = std::make_shared<ShardWriter>(shard->log, s.counter.get(), clock_, 0,
                                                  options_.max_group_bytes, schedule_);
    const int32_t index = shard->meta.index;
    s.shards[index] = std::move(shard);
  }
  s.rebuild_routing();
  logger()->info("stream={} account={} region={} ACTIVE with {} shards", s.meta.key.name,
                 s.meta.key.account, s.meta.key.region, n);
  return Status();
}

Status StreamService::complete_reshard(StreamState& s) {
  using namespace internal;
  const PendingChange p = s.meta.pending;
  ReshardWork w;
  w.next_index = s.meta.next_shard_index;
  w.at_ms = p.due_ms;
  w.incarnation = s.meta.incarnation;
  for (const auto& [index, shard] : s.shards) w.shards[index] = shard->meta;
  if (p.kind == PendingKind::kSplit) {
    w.split(p.shard, p.hash_key);
  } else if (p.kind == PendingKind::kMerge) {
    w.merge(p.shard, p.adjacent);
  } else {
    w.scale(p.target);
  }

  // Logs of the new shards (intermediate ones of a scaling too, so that every shard reads).
  std::map<int32_t, std::shared_ptr<ShardLog>> new_logs;
  for (int32_t index : w.touched) {
    if (s.shards.contains(index)) continue;
    SLUICE_ASSIGN_OR_RETURN(new_logs[index], logs_->open(w.shards.at(index).log_name));
  }
  // Parents take no more records from here on, and their end offsets become final.
  std::vector<ShardState*> closing;
  for (int32_t index : w.touched) {
    auto it = s.shards.find(index);
    if (it != s.shards.end() && it->second->writer) {
      it->second->writer->close();
      closing.push_back(it->second.get());
    }
  }

  StreamMeta next = s.meta;
  next.status = StreamStatus::kActive;
  next.pending = PendingChange{};
  next.next_shard_index = w.next_index;
  std::vector<MetadataStore::Write> writes;
  for (int32_t index : w.touched) {
    writes.push_back({std::string(kShardNs), shard_meta_key(w.incarnation, index),
                      encode_shard(w.shards.at(index))});
  }
  writes.push_back({std::string(kStreamNs), stream_meta_key(next.key), encode_stream(next)});
  Status st = metadata_->apply(writes);
  if (!st.ok()) {
    // Nothing changed: the parents take records again and the change is retried later.
    for (ShardState* shard : closing) {
      shard->writer = std::make_shared<ShardWriter>(shard->log, s.counter.get(), clock_,
                                                    shard->writer->last_arrival_ms(),
                                                    options_.max_group_bytes, schedule_);
    }
    return st;
  }

  s.meta = std::move(next);
  for (ShardState* shard : closing) {
    shard->meta = w.shards.at(shard->meta.index);
    shard->writer.reset();
  }
  for (auto& [index, log] : new_logs) {
    auto shard = std::make_unique<ShardState>();
    shard->meta = w.shards.at(index);
    shard->log = log;
    if (!shard->meta.closed_ms) {
      shard->writer = std::make_shared<ShardWriter>(log, s.counter.get(), clock_, 0,
                                                    options_.max_group_bytes, schedule_);
    }
    s.shards[index] = std::move(shard);
  }
  s.rebuild_routing();
  logger()->info("stream={} account={} reshard done: {} open shards, next index {}",
                 s.meta.key.name, s.meta.key.account, s.open_by_start.size(),
                 s.meta.next_shard_index);
  return Status();
}

Status StreamService::complete_delete(StreamState& s) {
  using namespace internal;
  for (auto& [index, shard] : s.shards) {
    if (shard->writer) shard->writer->close();
  }
  std::vector<MetadataStore::Write> writes;
  std::vector<std::string> log_names;
  for (const auto& [index, shard] : s.shards) {
    writes.push_back(
        {std::string(kShardNs), shard_meta_key(s.meta.incarnation, index), std::nullopt});
    log_names.push_back(shard->meta.log_name);
  }
  writes.push_back({std::string(kCounterNs), counter_key(s.meta.incarnation), std::nullopt});
  writes.push_back({std::string(kStreamNs), stream_meta_key(s.meta.key), std::nullopt});
  SLUICE_RETURN_IF_ERROR(metadata_->apply(writes));
  const StreamKey key = s.meta.key;
  streams_.erase(key);  // destroys `s`
  for (const std::string& name : log_names) {
    Status st = logs_->remove(name);
    if (!st.ok()) {
      logger()->warn("cannot remove shard log {} (removed at next start): {}", name,
                     st.to_string());
    }
  }
  logger()->info("stream={} account={} region={} deleted", key.name, key.account, key.region);
  return Status();
}

int32_t StreamService::open_shards_in(std::string_view account, std::string_view region) const {
  int32_t n = 0;
  for (const auto& [key, s] : streams_) {
    if (key.account != account || key.region != region) continue;
    if (s->meta.pending.kind == PendingKind::kCreate) {
      n += s->meta.initial_shard_count;  // about to open
    } else {
      n += static_cast<int32_t>(s->open_by_start.size());
    }
  }
  return n;
}

Status StreamService::check_mutable(const StreamState& s) const {
  if (s.meta.mode == StreamMode::kOnDemand) return on_demand_invalid(s.meta.key);
  if (s.meta.status != StreamStatus::kActive) return not_active(s.meta.key, s.meta.status);
  return Status();
}

Result<StreamState*> StreamService::begin_update(const StreamKey& key, int64_t now) {
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(key, now));
  if (s == nullptr) return stream_not_found(key);
  if (s->meta.status != StreamStatus::kActive) return not_active(key, s->meta.status);
  return s;
}

// Makes `next` (with its pending change set by the caller) the stream's state as `status`,
// the change due after `delay_ms`, then completes it at once when the delay is 0. Nothing
// changes when persisting fails. REQUIRES: mu_. May destroy `s` (a deletion without delay).
Status StreamService::schedule(StreamState& s, StreamMeta next, int64_t now, int64_t delay_ms,
                               StreamStatus status) {
  next.status = status;
  next.pending.due_ms = now + std::max<int64_t>(delay_ms, 0);
  std::swap(s.meta, next);
  Status st = persist_stream(s);
  if (!st.ok()) {
    std::swap(s.meta, next);
    return st;
  }
  return advance(s, now);
}

// ---------------------------------------------------------------------------------------------
// Streams

Status StreamService::create_stream(const CreateStreamRequest& req) {
  SLUICE_RETURN_IF_ERROR(validate_stream_key(req.stream));
  const StreamKey& k = req.stream;
  const int32_t n = req.mode == StreamMode::kOnDemand
                        ? options_.on_demand_shard_count
                        : req.shard_count.value_or(options_.default_shard_count);
  if (n < 1 || n > options_.max_shards_per_stream_create) {
    return Status::invalid_argument(
        fmt::format("ShardCount {} is not in [1, {}]", n, options_.max_shards_per_stream_create));
  }
  const int32_t kib = req.max_record_size_kib.value_or(1024);
  if (kib < 1024 || kib > 10240) {
    return Status::invalid_argument(
        fmt::format("MaxRecordSizeInKiB {} is not in [1024, 10240]", kib));
  }

  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_RETURN_IF_ERROR(advance_all(now));
  if (streams_.contains(k)) {
    return Status::in_use(
        fmt::format("Stream {} under account {} already exists.", k.name, k.account));
  }
  int32_t creating = 0;
  int32_t on_demand = 0;
  for (const auto& [key, s] : streams_) {
    if (key.account != k.account || key.region != k.region) continue;
    if (s->meta.status == StreamStatus::kCreating) ++creating;
    if (s->meta.mode == StreamMode::kOnDemand) ++on_demand;
  }
  if (creating >= options_.max_creating_streams) {
    return Status::limit_exceeded(fmt::format(
        "Stream {} under account {} cannot be created: {} streams are already being created in "
        "{}, the most allowed at once is {}.",
        k.name, k.account, creating, k.region, options_.max_creating_streams));
  }
  if (req.mode == StreamMode::kOnDemand && on_demand >= options_.on_demand_stream_limit) {
    return Status::limit_exceeded(fmt::format(
        "This request would exceed the on-demand stream limit for the account {} in {}. "
        "Current on-demand stream count: {}. Limit: {}.",
        k.account, k.region, on_demand, options_.on_demand_stream_limit));
  }
  const int32_t open = open_shards_in(k.account, k.region);
  if (int64_t{open} + n > options_.shard_limit) {
    return shard_limit_exceeded(k, open, options_.shard_limit, n);
  }
  SLUICE_RETURN_IF_ERROR(check_new_tags(k, {}, req.tags));

  auto s = std::make_unique<StreamState>();
  StreamMeta& m = s->meta;
  m.key = k;
  m.incarnation = next_incarnation_;
  m.status = StreamStatus::kCreating;
  m.mode = req.mode;
  m.initial_shard_count = n;
  m.creation_ms = (now / 1000 - 2) * 1000;  // spec 5.1 / 6.2: request time - 2 s, whole seconds
  m.tags = req.tags;
  m.max_record_size_kib = kib;
  m.pending.kind = PendingKind::kCreate;
  m.pending.due_ms = now + std::max<int64_t>(options_.creating_delay_ms, 0);
  const MetadataStore::Write writes[] = {
      {std::string(internal::kStreamNs), internal::stream_meta_key(k), internal::encode_stream(m)},
      {std::string(internal::kGlobalNs), std::string(internal::kNextIncarnationName),
       fmt::format("{}", next_incarnation_ + 1)},
  };
  SLUICE_RETURN_IF_ERROR(metadata_->apply(writes));
  ++next_incarnation_;
  s->counter = std::make_shared<internal::SequenceCounter>(metadata_,
                                                           internal::counter_key(m.incarnation), 0);
  StreamState* state = s.get();
  streams_[k] = std::move(s);
  logger()->info("stream={} account={} region={} CREATING with {} shards", k.name, k.account,
                 k.region, n);
  return advance(*state, now);
}

Status StreamService::delete_stream(const StreamKey& stream, bool enforce_consumer_deletion) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, now));
  if (s == nullptr) return stream_not_found(stream);
  if (s->meta.status == StreamStatus::kDeleting) return Status();
  const bool has_consumers =
      std::any_of(s->meta.consumers.begin(), s->meta.consumers.end(), [&](const auto& c) {
        return consumer_status(c, now, options_.consumer_delay_ms).has_value();
      });
  if (has_consumers && !enforce_consumer_deletion) {
    return Status::in_use(fmt::format(
        "Stream {} under account {} has registered consumers; set EnforceConsumerDeletion to "
        "delete it.",
        stream.name, stream.account));
  }
  StreamMeta next = s->meta;
  next.pending = PendingChange{.kind = PendingKind::kDelete};
  return schedule(*s, std::move(next), now, options_.deleting_delay_ms, StreamStatus::kDeleting);
}

Result<StreamDescription> StreamService::describe_stream(const DescribeStreamRequest& req) {
  const int32_t limit = req.limit.value_or(100);
  if (limit < 1 || limit > 10000) {
    return Status::invalid_argument(fmt::format("Limit {} is not in [1, 10000]", limit));
  }
  int32_t after = -1;
  if (req.exclusive_start_shard_id) {
    auto v = parse_shard_id(*req.exclusive_start_shard_id);
    if (!v) {
      return Status::invalid_argument(
          fmt::format("ExclusiveStartShardId {} is not a shard id", *req.exclusive_start_shard_id));
    }
    after = *v;
  }
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(req.stream, now));
  if (s == nullptr) return stream_not_found(req.stream);
  StreamDescription d = summarize(*s, now, options_.consumer_delay_ms);
  const int64_t cutoff = retention_cutoff_ms(s->meta, now);
  const size_t page = static_cast<size_t>(std::min(limit, 100));
  for (auto it = s->shards.upper_bound(after); it != s->shards.end(); ++it) {
    if (is_expired(it->second->meta, cutoff)) continue;
    if (d.shards.size() == page) {
      d.has_more_shards = true;
      break;
    }
    d.shards.push_back(describe_shard(it->second->meta));
  }
  return d;
}

Result<StreamDescription> StreamService::describe_stream_summary(const StreamKey& stream) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, now));
  if (s == nullptr) return stream_not_found(stream);
  return summarize(*s, now, options_.consumer_delay_ms);
}

Result<ListStreamsResult> StreamService::list_streams(const ListStreamsRequest& req) {
  const int32_t limit = req.limit.value_or(100);
  if (limit < 1 || limit > 10000) {
    return Status::invalid_argument(fmt::format("Limit {} is not in [1, 10000]", limit));
  }
  if (req.next_token && req.exclusive_start_stream_name) {
    return Status::invalid_argument(
        "NextToken and ExclusiveStartStreamName cannot be provided together.");
  }
  const int64_t now = clock_->now_ms();
  std::string after = req.exclusive_start_stream_name.value_or("");
  if (req.next_token) {
    SLUICE_ASSIGN_OR_RETURN(
        auto f, internal::open_token(kListStreamsToken, *req.next_token, as_bytes(secret_)));
    std::optional<int64_t> issued = f.size() == 4 ? parse_number<int64_t>(f[0]) : std::nullopt;
    if (!issued || f[1] != req.account || f[2] != req.region) {
      return Status::invalid_argument("The NextToken is invalid.");
    }
    if (now - *issued > internal::kIteratorTtlMs) {
      return Status::expired("The NextToken has expired.");
    }
    after = f[3];
  }
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(advance_all(now));
  ListStreamsResult out;
  const StreamKey from{req.account, req.region, after};
  for (auto it = streams_.upper_bound(from); it != streams_.end(); ++it) {
    const StreamKey& k = it->first;
    if (k.account != req.account || k.region != req.region) break;
    if (out.streams.size() == static_cast<size_t>(limit)) {
      out.has_more_streams = true;
      break;
    }
    const StreamMeta& m = it->second->meta;
    out.streams.push_back({k.name, stream_arn(k), m.status, m.mode, m.creation_ms});
  }
  if (out.has_more_streams) {
    out.next_token = internal::seal_token(
        kListStreamsToken,
        {fmt::format("{}", now), req.account, req.region, out.streams.back().name},
        as_bytes(secret_));
  }
  return out;
}

Result<ListShardsResult> StreamService::list_shards(const ListShardsRequest& req) {
  if (!req.next_token && !req.stream) {
    return Status::invalid_argument("Either NextToken or StreamName should be provided.");
  }
  if (req.next_token && req.stream) {
    return Status::invalid_argument("NextToken and StreamName cannot be provided together.");
  }
  if (req.next_token &&
      (req.exclusive_start_shard_id || req.stream_creation_timestamp_ms || req.filter)) {
    return Status::invalid_argument(
        "NextToken cannot be provided together with ExclusiveStartShardId, "
        "StreamCreationTimestamp or ShardFilter.");
  }
  const int32_t max_results = std::min(req.max_results.value_or(1000), 1000);
  if (max_results < 1) {
    return Status::invalid_argument(fmt::format("MaxResults {} is below 1", max_results));
  }
  const int64_t now = clock_->now_ms();

  StreamKey key;
  std::optional<uint64_t> incarnation;
  std::optional<ShardFilter> filter = req.filter;
  int32_t after = -1;
  std::optional<int64_t> creation = req.stream_creation_timestamp_ms;
  if (req.next_token) {
    const Status bad = Status::invalid_argument("The NextToken is invalid.");
    SLUICE_ASSIGN_OR_RETURN(
        auto f, internal::open_token(kListShardsToken, *req.next_token, as_bytes(secret_)));
    if (f.size() != 9) return bad;
    auto issued = parse_number<int64_t>(f[0]);
    auto inc = parse_number<uint64_t>(f[4]);
    auto last = parse_number<int32_t>(f[5]);
    if (!issued || !inc || !last) return bad;
    if (now - *issued > internal::kIteratorTtlMs) {
      return Status::expired("The NextToken has expired.");
    }
    key = StreamKey{f[1], f[2], f[3]};
    incarnation = *inc;
    after = *last;
    if (!f[6].empty()) {
      auto type = parse_shard_filter_type(f[6]);
      if (!type) return bad;
      ShardFilter sf{.type = *type};
      if (!f[7].empty()) sf.shard_id = f[7];
      if (!f[8].empty()) {
        sf.timestamp_ms = parse_number<int64_t>(f[8]);
        if (!sf.timestamp_ms) return bad;
      }
      filter = sf;
    }
  } else {
    key = *req.stream;
    if (req.exclusive_start_shard_id) {
      auto v = parse_shard_id(*req.exclusive_start_shard_id);
      if (!v) {
        return Status::invalid_argument(fmt::format("ExclusiveStartShardId {} is not a shard id",
                                                    *req.exclusive_start_shard_id));
      }
      after = *v;
    }
  }

  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(key, now));
  if (s == nullptr || (incarnation && *incarnation != s->meta.incarnation)) {
    return stream_not_found(key);
  }
  if (!writable(s->meta.status)) {
    return Status::in_use(fmt::format(
        "Stream {} under account {} is not in ACTIVE or UPDATING state.", key.name, key.account));
  }
  if (creation && *creation != s->meta.creation_ms) return stream_not_found(key);

  const int64_t cutoff = retention_cutoff_ms(s->meta, now);
  // Decides, per shard, whether the filter keeps it (spec 9.6 step 7).
  std::function<bool(const ShardMeta&)> keep = [](const ShardMeta&) { return true; };
  if (filter) {
    switch (filter->type) {
      case ShardFilterType::kAfterShardId: {
        if (!filter->shard_id) {
          return Status::invalid_argument(
              "ShardId must be provided for the AFTER_SHARD_ID ShardFilter type.");
        }
        auto v = parse_shard_id(*filter->shard_id);
        if (!v) {
          return Status::invalid_argument(
              fmt::format("ShardFilter ShardId {} is not a shard id", *filter->shard_id));
        }
        keep = [id = *v](const ShardMeta& m) { return m.index > id; };
        break;
      }
      case ShardFilterType::kAtTrimHorizon:
      case ShardFilterType::kAtTimestamp: {
        int64_t t = std::max(cutoff, s->meta.creation_ms);  // open at the trim horizon
        if (filter->type == ShardFilterType::kAtTimestamp) {
          if (!filter->timestamp_ms) {
            return Status::invalid_argument(
                "Timestamp must be provided for the AT_TIMESTAMP ShardFilter type.");
          }
          if (*filter->timestamp_ms >= s->meta.creation_ms) {
            const int64_t ts = *filter->timestamp_ms;
            keep = [ts](const ShardMeta& m) {
              return m.created_ms <= ts && (!m.closed_ms || *m.closed_ms >= ts);
            };
            break;
          }
        }
        keep = [t](const ShardMeta& m) {
          return m.created_ms <= t && (!m.closed_ms || *m.closed_ms > t);
        };
        break;
      }
      case ShardFilterType::kFromTimestamp: {
        if (!filter->timestamp_ms) {
          return Status::invalid_argument(
              "Timestamp must be provided for the FROM_TIMESTAMP ShardFilter type.");
        }
        const int64_t t = std::max(*filter->timestamp_ms, cutoff);
        keep = [t](const ShardMeta& m) { return !m.closed_ms || *m.closed_ms >= t; };
        break;
      }
      case ShardFilterType::kAtLatest:
        keep = [](const ShardMeta& m) { return !m.closed_ms.has_value(); };
        break;
      case ShardFilterType::kFromTrimHorizon:
        break;
    }
  }

  ListShardsResult out;
  bool more = false;
  for (auto it = s->shards.upper_bound(after); it != s->shards.end(); ++it) {
    const ShardMeta& m = it->second->meta;
    if (is_expired(m, cutoff) || !keep(m)) continue;
    if (out.shards.size() == static_cast<size_t>(max_results)) {
      more = true;
      break;
    }
    out.shards.push_back(describe_shard(m));
  }
  if (more) {
    out.next_token = internal::seal_token(
        kListShardsToken,
        {fmt::format("{}", now), key.account, key.region, key.name,
         fmt::format("{}", s->meta.incarnation), fmt::format("{}", out.shards.back().index),
         filter ? std::string(shard_filter_type_name(filter->type)) : "",
         filter ? filter->shard_id.value_or("") : "",
         filter && filter->timestamp_ms ? fmt::format("{}", *filter->timestamp_ms) : ""},
        as_bytes(secret_));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Records

Result<PutRecordResult> StreamService::put_record(const PutRecordRequest& req) {
  return await_callback<Result<PutRecordResult>>(
      [&](PutRecordDone done) { put_record(req, std::move(done)); });
}

Result<PutRecordsResult> StreamService::put_records(const PutRecordsRequest& req) {
  return await_callback<Result<PutRecordsResult>>(
      [&](PutRecordsDone done) { put_records(req, std::move(done)); });
}

void StreamService::put_record(const PutRecordRequest& req, PutRecordDone done) {
  // Outside the lock (see put_records); a bad key is reported in its place below.
  std::optional<HashKey> hash;
  if (req.explicit_hash_key) {
    hash = parse_hash_key(*req.explicit_hash_key);
  } else {
    hash = partition_key_hash(req.partition_key);
  }
  put_record_attempt(req, hash, 1, std::move(done));
}

void StreamService::put_record_attempt(const PutRecordRequest& req, std::optional<HashKey> hash,
                                       int attempt, PutRecordDone done) {
  std::shared_ptr<ShardWriter> writer;
  int32_t index = 0;
  int64_t seq_creation_s = 0;
  EncryptionType encryption = EncryptionType::kNone;
  auto route = [&]() -> Status {
    std::lock_guard lock(mu_);
    const int64_t now = clock_->now_ms();
    if (writes_stopped_) return writes_stopped();
    SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(req.stream, now));
    if (s == nullptr || !writable(s->meta.status)) return stream_not_found(req.stream);
    const size_t max_bytes = size_t(s->meta.max_record_size_kib) * 1024;
    if (req.data.size() + req.partition_key.size() > max_bytes) {
      return record_too_large("data", req.data.size(), max_bytes);
    }
    if (!hash) return invalid_explicit_hash_key(*req.explicit_hash_key);
    if (req.sequence_number_for_ordering) {
      auto p = parse_sequence_number(*req.sequence_number_for_ordering);
      if (!p.ok() || (p->arrival_s && *p->arrival_s > now / 1000)) {
        return Status::invalid_argument(fmt::format(
            "ExclusiveMinimumSequenceNumber {} used in PutRecord on stream {} under account {} "
            "is invalid.",
            *req.sequence_number_for_ordering, req.stream.name, req.stream.account));
      }
    }
    ShardState* target = s->route(*hash);
    if (target == nullptr || !target->writer) {
      return Status::internal(fmt::format("no open shard of stream {} holds hash key {}",
                                          req.stream.name, format_hash_key(*hash)));
    }
    if (throttled(*s) &&
        !target->throttle->admit_write(now, req.data.size() + req.partition_key.size())) {
      return rate_exceeded(req.stream, target->meta.index);
    }
    writer = target->writer;
    index = target->meta.index;
    seq_creation_s = target->meta.seq_creation_s;
    encryption = s->meta.encryption;
    return Status();
  };
  if (Status st = route(); !st.ok()) {
    done(st);
    return;
  }
  // Lives until the writer's callback: the writer borrows it.
  auto record = std::make_shared<LogRecordIn>(
      LogRecordIn{.payload = req.data, .partition_key = req.partition_key});
  writer->submit(std::span(record.get(), 1), [this, &req, hash, attempt, record, index,
                                              seq_creation_s, encryption, done = std::move(done)](
                                                 Result<AppendOutcome> appended) mutable {
    if (!appended.ok()) {
      // The shard closed under us (a reshard completed): route again.
      if (internal::is_shard_closed(appended.status()) && attempt < kMaxRouteAttempts) {
        put_record_attempt(req, hash, attempt + 1, std::move(done));
        return;
      }
      done(appended.status());
      return;
    }
    if (append_listener_) append_listener_(req.stream);
    done(PutRecordResult{format_shard_id(index),
                         encode_sequence_number({seq_creation_s, index, appended->first_counter,
                                                 appended->arrival_ms / 1000})
                             .str(),
                         encryption});
  });
}

// One put_records call between its routing rounds: the entries still to write, and the
// groups of the round in flight.
struct StreamService::PutRecordsCall {
  struct Group {
    std::shared_ptr<ShardWriter> writer;
    int32_t index = 0;
    int64_t seq_creation_s = 0;
    size_t size = 0;  // entries routed here (while grouping)
    std::vector<size_t> entries;
    std::vector<LogRecordIn> records;
  };

  const PutRecordsRequest* req = nullptr;
  PutRecordsDone done;
  std::vector<HashKey> hashes;
  PutRecordsResult out;
  std::vector<size_t> pending;  // request order
  int attempt = 0;

  std::mutex mu;
  std::map<int32_t, Group> groups;  // this round's; not touched once submitted
  size_t outstanding = 0;           // GUARDED_BY(mu): groups whose callback has not run
  std::vector<size_t> retry;        // GUARDED_BY(mu): entries whose shard closed

  // Callable from the group callbacks of one round, which may run at once.
  void fail(size_t i, std::string_view code, std::string_view message) {
    std::lock_guard lock(mu);
    out.records[i].failure = static_cast<int32_t>(out.failures.size());
    out.failures.push_back({std::string(code), std::string(message)});
  }
};

void StreamService::put_records(const PutRecordsRequest& req, PutRecordsDone done) {
  const size_t n = req.records.size();
  if (n == 0 || n > kMaxPutRecordsEntries) {
    done(Status::invalid_argument(
        fmt::format("PutRecords takes 1 to {} records, not {}", kMaxPutRecordsEntries, n)));
    return;
  }
  auto call = std::make_shared<PutRecordsCall>();
  call->req = &req;
  call->out.records.resize(n);
  // Hashing (MD5 per partition key) needs no lock: done first, so that concurrent requests
  // do not serialise on it. A bad ExplicitHashKey is reported after the checks that precede
  // it, as before.
  call->hashes.resize(n);
  std::optional<size_t> bad_hash_key;
  for (size_t i = 0; i < n; ++i) {
    const PutRecordsEntry& e = req.records[i];
    if (e.explicit_hash_key) {
      auto v = parse_hash_key(*e.explicit_hash_key);
      if (!v) {
        bad_hash_key = i;
        break;
      }
      call->hashes[i] = *v;
    } else {
      call->hashes[i] = partition_key_hash(e.partition_key);
    }
  }
  auto check = [&]() -> Status {
    std::lock_guard lock(mu_);
    const int64_t now = clock_->now_ms();
    if (writes_stopped_) return writes_stopped();
    SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(req.stream, now));
    if (s == nullptr || !writable(s->meta.status)) return stream_not_found(req.stream);
    size_t total = 0;
    for (const PutRecordsEntry& e : req.records) total += e.data.size() + e.partition_key.size();
    if (total > options_.put_records_max_bytes) {
      return Status::invalid_argument("Records size exceeds 5 MB limit");
    }
    const size_t max_bytes = size_t(s->meta.max_record_size_kib) * 1024;
    for (size_t i = 0; i < n; ++i) {
      const PutRecordsEntry& e = req.records[i];
      if (e.data.size() + e.partition_key.size() > max_bytes) {
        return record_too_large(fmt::format("records.{}.member.data", i + 1), e.data.size(),
                                max_bytes);
      }
    }
    if (bad_hash_key)
      return invalid_explicit_hash_key(*req.records[*bad_hash_key].explicit_hash_key);
    call->out.encryption_type = s->meta.encryption;
    return Status();
  };
  if (Status st = check(); !st.ok()) {
    done(st);
    return;
  }
  call->done = std::move(done);
  call->pending.resize(n);
  for (size_t i = 0; i < n; ++i) call->pending[i] = i;
  put_records_attempt(std::move(call));
}

void StreamService::put_records_attempt(std::shared_ptr<PutRecordsCall> call) {
  const PutRecordsRequest& req = *call->req;
  ++call->attempt;
  call->groups.clear();
  call->retry.clear();
  {
    // Group by target shard, keeping request order within each group (spec 9.8 step 5).
    std::lock_guard lock(mu_);
    const int64_t now = clock_->now_ms();
    auto s = lookup(req.stream, now);
    if (writes_stopped_ || !s.ok() || *s == nullptr || !writable((*s)->meta.status) ||
        call->attempt > kMaxRouteAttempts) {
      for (size_t i : call->pending) call->fail(i, "InternalFailure", "Internal Service Failure");
      call->pending.clear();
    } else {
      const bool limited = throttled(**s);
      // Each entry's group, found first, so that every group's vectors are sized once.
      std::vector<PutRecordsCall::Group*> group_of(call->pending.size(), nullptr);
      for (size_t k = 0; k < call->pending.size(); ++k) {
        const size_t i = call->pending[k];
        ShardState* target = (*s)->route(call->hashes[i]);
        if (target == nullptr || !target->writer) {
          call->fail(i, "InternalFailure", "Internal Service Failure");
          continue;
        }
        // Throttling is per entry (spec 8.3): the rest of the request still goes in. An
        // entry re-routed after a reshard is charged again, to its new shard.
        const PutRecordsEntry& e = req.records[i];
        if (limited &&
            !target->throttle->admit_write(now, e.data.size() + e.partition_key.size())) {
          call->fail(i, "ProvisionedThroughputExceededException",
                     rate_exceeded_message(req.stream, target->meta.index));
          continue;
        }
        PutRecordsCall::Group& g = call->groups[target->meta.index];
        if (!g.writer) {
          g.writer = target->writer;
          g.index = target->meta.index;
          g.seq_creation_s = target->meta.seq_creation_s;
        }
        g.size += 1;
        group_of[k] = &g;
      }
      for (auto& entry : call->groups) {
        entry.second.entries.reserve(entry.second.size);
        entry.second.records.reserve(entry.second.size);
      }
      for (size_t k = 0; k < call->pending.size(); ++k) {
        PutRecordsCall::Group* g = group_of[k];
        if (g == nullptr) continue;  // failed above
        const size_t i = call->pending[k];
        const PutRecordsEntry& e = req.records[i];
        g->entries.push_back(i);
        g->records.push_back({.payload = e.data, .partition_key = e.partition_key});
      }
    }
  }
  if (call->groups.empty()) {
    finish_put_records(std::move(call));
    return;
  }
  // Every shard's block goes out at once: their writes and syncs overlap on the writer
  // threads. Whoever counts `outstanding` down to zero starts the next round or finishes;
  // the extra count held while submitting keeps that off a callback run inside submit()
  // (a closed writer refuses at once) while this loop still walks the groups.
  {
    std::lock_guard lock(call->mu);
    call->outstanding = call->groups.size() + 1;
  }
  for (auto& entry : call->groups) {
    PutRecordsCall::Group& g = entry.second;  // a reference the callback can capture (clang 14)
    g.writer->submit(g.records, [this, call, &g](Result<AppendOutcome> r) {
      if (r.ok()) {
        SequenceNumberEncoder encoder;
        for (size_t j = 0; j < g.entries.size(); ++j) {
          PutRecordsResultEntry& e = call->out.records[g.entries[j]];
          e.shard_index = g.index;
          encoder.encode_to({g.seq_creation_s, g.index, r->first_counter + j, r->arrival_ms / 1000},
                            e.sequence_number);
        }
      } else if (!internal::is_shard_closed(r.status())) {
        logger()->warn("stream={} shard={} append failed: {}", call->req->stream.name, g.index,
                       r.status().to_string());
        for (size_t i : g.entries) call->fail(i, "InternalFailure", "Internal Service Failure");
      }
      if (!r.ok() && internal::is_shard_closed(r.status())) {
        std::lock_guard lock(call->mu);
        call->retry.insert(call->retry.end(), g.entries.begin(), g.entries.end());
      }
      put_records_group_done(call);  // `g` is not used past here
    });
  }
  put_records_group_done(std::move(call));
}

void StreamService::put_records_group_done(std::shared_ptr<PutRecordsCall> call) {
  {
    std::lock_guard lock(call->mu);
    if (--call->outstanding != 0) return;
  }
  // Every group of the round is back.
  std::sort(call->retry.begin(), call->retry.end());
  call->pending = std::move(call->retry);
  if (call->pending.empty()) {
    finish_put_records(std::move(call));
  } else {
    put_records_attempt(std::move(call));
  }
}

void StreamService::finish_put_records(std::shared_ptr<PutRecordsCall> call) {
  PutRecordsResult& out = call->out;
  for (const PutRecordsResultEntry& e : out.records) out.failed_record_count += e.ok() ? 0 : 1;
  if (append_listener_ && out.failed_record_count < static_cast<int32_t>(out.records.size())) {
    append_listener_(call->req->stream);
  }
  PutRecordsDone done = std::move(call->done);
  done(std::move(out));
}

Result<std::optional<std::string>> StreamService::latest_sequence_number(
    const StreamKey& k, std::string_view shard_id_text) {
  const auto index = parse_shard_id(shard_id_text);
  if (!index) return could_not_find_shard(k, std::string(shard_id_text));
  std::shared_ptr<ShardLog> log;
  int64_t seq_creation_s;
  {
    std::lock_guard lock(mu_);
    SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(k, clock_->now_ms()));
    if (s == nullptr) return shard_does_not_exist(k, *index);
    auto it = s->shards.find(*index);
    if (it == s->shards.end()) return shard_does_not_exist(k, *index);
    log = it->second->log;
    seq_creation_s = it->second->meta.seq_creation_s;
  }
  SLUICE_ASSIGN_OR_RETURN(LogOffset start, log->start_offset());
  SLUICE_ASSIGN_OR_RETURN(LogOffset end, log->end_offset());
  if (end.value() <= start.value()) return std::optional<std::string>();
  SLUICE_ASSIGN_OR_RETURN(LogRead last,
                          log->read(LogOffset(end.value() - 1), LogReadLimits{.max_records = 1}));
  if (last.records.empty()) return std::optional<std::string>();
  const LogRecord& r = last.records.back();
  return std::optional<std::string>(
      encode_sequence_number({seq_creation_s, *index, r.counter, r.arrival_ms / 1000}).str());
}

Result<std::string> StreamService::get_shard_iterator(const GetShardIteratorRequest& req) {
  const StreamKey& k = req.stream;
  const auto index = parse_shard_id(req.shard_id);
  if (!index) return could_not_find_shard(k, req.shard_id);
  const std::string shard_id = format_shard_id(*index);
  const std::string_view type_name = iterator_type_name(req.type);
  const bool by_sequence =
      req.type == IteratorType::kAtSequenceNumber || req.type == IteratorType::kAfterSequenceNumber;

  std::shared_ptr<ShardLog> log;
  uint64_t incarnation;
  int64_t cutoff;
  const int64_t now = clock_->now_ms();
  std::optional<ParsedSequenceNumber> seq;
  {
    std::lock_guard lock(mu_);
    SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(k, now));
    if (s == nullptr) return shard_does_not_exist(k, *index);
    auto it = s->shards.find(*index);
    if (it == s->shards.end()) return shard_does_not_exist(k, *index);
    const ShardMeta& shard = it->second->meta;
    if (req.starting_sequence_number) {
      const std::string& text = *req.starting_sequence_number;
      if (req.type == IteratorType::kTrimHorizon || req.type == IteratorType::kLatest) {
        return Status::invalid_argument(fmt::format(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
            "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
            "Request specified {} and also a StartingSequenceNumber.",
            type_name));
      }
      auto parsed = parse_sequence_number(text);
      if (!parsed.ok()) {
        return Status::invalid_argument(fmt::format(
            "StartingSequenceNumber {} used in GetShardIterator on shard {} in stream {} under "
            "account {} is invalid.",
            text, shard_id, k.name, k.account));
      }
      if (parsed->shard_index != *index) {
        return Status::invalid_argument(fmt::format(
            "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a "
            "shard with {}",
            format_shard_id(parsed->shard_index), shard_id));
      }
      if (parsed->version == 0) {
        return Status::internal(fmt::format(
            "StartingSequenceNumber {} is in the legacy format, which is not supported", text));
      }
      if (parsed->creation_s != shard.seq_creation_s) {
        return Status::invalid_argument(fmt::format(
            "StartingSequenceNumber {} used in GetShardIterator on shard {} in stream {} under "
            "account {} is invalid because it did not come from this stream.",
            text, shard_id, k.name, k.account));
      }
      seq = *parsed;
    }
    if (req.type == IteratorType::kAtTimestamp) {
      if (!req.timestamp_ms) {
        return Status::invalid_argument(
            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current "
            "request has no timestamp parameter.");
      }
      if (!std::isfinite(*req.timestamp_ms)) {
        return Status::invalid_argument("The timestampInMillis parameter is not a finite number.");
      }
      if (*req.timestamp_ms > static_cast<double>(now)) {
        return Status::invalid_argument(fmt::format(
            "The timestampInMillis parameter cannot be greater than the "
            "currentTimestampInMillis. timestampInMillis: {}, currentTimestampInMillis: {}",
            *req.timestamp_ms, now));
      }
    }
    if (by_sequence && !seq) {
      return Status::invalid_argument(fmt::format(
          "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
          "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
          "Request specified {} and no StartingSequenceNumber.",
          type_name));
    }
    if (throttled(*s) && !shard.closed_ms && !it->second->throttle->admit_iterator(now)) {
      return rate_exceeded(k, *index);
    }
    log = it->second->log;
    incarnation = s->meta.incarnation;
    cutoff = retention_cutoff_ms(s->meta, now);
  }

  LogOffset position;
  switch (req.type) {
    case IteratorType::kTrimHorizon: {
      SLUICE_ASSIGN_OR_RETURN(position, log->start_offset());
      break;
    }
    case IteratorType::kLatest: {
      SLUICE_ASSIGN_OR_RETURN(position, log->end_offset());
      break;
    }
    case IteratorType::kAtSequenceNumber:
    case IteratorType::kAfterSequenceNumber: {
      uint64_t counter = seq->counter;
      if (req.type == IteratorType::kAfterSequenceNumber) ++counter;
      SLUICE_ASSIGN_OR_RETURN(position, seek_counter(*log, counter));
      break;
    }
    case IteratorType::kAtTimestamp: {
      // Finite and <= now (checked above), so the conversion below is defined.
      if (*req.timestamp_ms < static_cast<double>(cutoff)) {
        SLUICE_ASSIGN_OR_RETURN(position, log->start_offset());  // older than retention
      } else {
        const auto ts = static_cast<int64_t>(std::ceil(*req.timestamp_ms));
        SLUICE_ASSIGN_OR_RETURN(position, log->offset_at_time(ts));
      }
      break;
    }
  }
  return internal::encode_shard_iterator({.issued_ms = now,
                                          .stream = k,
                                          .incarnation = incarnation,
                                          .shard_index = *index,
                                          .position = position},
                                         as_bytes(secret_));
}

Result<GetRecordsResult> StreamService::get_records(const GetRecordsRequest& req) {
  const int32_t limit = req.limit.value_or(kMaxGetRecordsLimit);
  if (limit < 1 || limit > kMaxGetRecordsLimit) {
    return Status::invalid_argument(fmt::format("Limit {} is not in [1, 10000]", limit));
  }
  // Spec 7.3, in order.
  SLUICE_ASSIGN_OR_RETURN(internal::IteratorPayload it,
                          internal::decode_shard_iterator(req.shard_iterator, as_bytes(secret_)));
  const int64_t now = clock_->now_ms();
  if (it.issued_ms <= 0 || it.issued_ms > now) {
    return Status::invalid_argument(internal::kInvalidIteratorMessage);
  }
  if (now - it.issued_ms > internal::kIteratorTtlMs) {
    return Status::expired(fmt::format(
        "Iterator expired. The iterator was created at time {} while right now it is {} which is "
        "further in the future than the tolerated delay of {} milliseconds.",
        internal::java_utc_date(it.issued_ms), internal::java_utc_date(now),
        internal::kIteratorTtlMs));
  }

  std::shared_ptr<ShardLog> log;
  std::shared_ptr<ShardThrottle> throttle;  // set when this read counts against limits
  ShardMeta shard;
  int64_t cutoff;
  GetRecordsResult out;
  {
    std::lock_guard lock(mu_);
    SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(it.stream, now));
    if (s == nullptr || s->meta.incarnation != it.incarnation) {
      return shard_does_not_exist(it.stream, it.shard_index);
    }
    auto found = s->shards.find(it.shard_index);
    if (found == s->shards.end()) return shard_does_not_exist(it.stream, it.shard_index);
    if (req.stream_arn && *req.stream_arn != stream_arn(it.stream)) {
      return Status::invalid_argument("StreamARN does not match the shard iterator.");
    }
    log = found->second->log;
    shard = found->second->meta;
    if (throttled(*s)) {
      throttle = found->second->throttle;
      if (!throttle->admit_read(now)) return rate_exceeded(it.stream, it.shard_index);
    }
    cutoff = retention_cutoff_ms(s->meta, now);
    out.encryption_type = s->meta.encryption;
    if (shard.closed_ms) {
      // A closed shard's end offset is final (its writer closed first), so deciding "shard
      // end" from a later read is safe. Children are listed in index order.
      for (const auto& [index, child] : s->shards) {
        const ShardMeta& c = child->meta;
        if (c.parent != shard.index && c.adjacent_parent != shard.index) continue;
        ChildShard cs{format_shard_id(index), {}, c.range};
        if (c.parent) cs.parent_shards.push_back(format_shard_id(*c.parent));
        if (c.adjacent_parent) cs.parent_shards.push_back(format_shard_id(*c.adjacent_parent));
        out.child_shards.push_back(std::move(cs));
      }
    }
  }

  const LogReadLimits limits{static_cast<size_t>(limit), kGetRecordsMaxBytes};
  LogOffset from = it.position;
  SLUICE_ASSIGN_OR_RETURN(LogRead r, log->read(from, limits));
  if (!r.records.empty() && r.records.front().arrival_ms < cutoff) {
    // Records older than retention are invisible (8.1); arrival times never decrease within
    // a shard, so the visible ones start at offset_at_time(cutoff).
    SLUICE_ASSIGN_OR_RETURN(LogOffset horizon, log->offset_at_time(cutoff));
    if (horizon > from) {
      from = horizon;
      SLUICE_ASSIGN_OR_RETURN(r, log->read(from, limits));
    }
    std::erase_if(r.records, [&](const LogRecord& rec) { return rec.arrival_ms < cutoff; });
  }
  SLUICE_ASSIGN_OR_RETURN(LogOffset end, log->end_offset());
  out.records.reserve(r.records.size());
  SequenceNumberEncoder encoder;
  for (const LogRecord& rec : r.records) {
    out.records.push_back(RecordOut{
        encoder.encode({shard.seq_creation_s, shard.index, rec.counter, rec.arrival_ms / 1000}),
        rec.arrival_ms, rec.partition_key, rec.payload});
  }
  if (throttle) {
    size_t bytes = 0;
    for (const RecordOut& rec : out.records) bytes += rec.data.size() + rec.partition_key.size();
    throttle->charge_read(now, bytes);
  }
  out.keepalive = std::move(r.keepalive);
  const bool caught_up = r.next_offset >= end;
  if (shard.closed_ms && caught_up) {
    out.millis_behind_latest = 0;  // shard end: no next iterator, children named
  } else {
    out.child_shards.clear();
    out.millis_behind_latest = caught_up || out.records.empty()
                                   ? 0
                                   : std::max<int64_t>(0, now - out.records.back().arrival_ms);
    out.next_shard_iterator = internal::encode_shard_iterator({.issued_ms = now,
                                                               .stream = it.stream,
                                                               .incarnation = it.incarnation,
                                                               .shard_index = it.shard_index,
                                                               .position = r.next_offset},
                                                              as_bytes(secret_));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Resharding and settings

Status StreamService::split_shard(const StreamKey& stream, std::string_view shard_to_split,
                                  std::string_view new_starting_hash_key) {
  const auto index = parse_shard_id(shard_to_split);
  if (!index) return could_not_find_shard(stream, shard_to_split);
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, now));
  if (s == nullptr) return stream_not_found(stream);
  SLUICE_RETURN_IF_ERROR(check_mutable(*s));
  auto it = s->shards.find(*index);
  if (it == s->shards.end()) return could_not_find_shard(stream, format_shard_id(*index));
  const ShardMeta& shard = it->second->meta;
  if (shard.closed_ms) return already_resharded(stream, *index);
  const int32_t open = open_shards_in(stream.account, stream.region);
  if (int64_t{open} + 1 > options_.shard_limit) {
    return shard_limit_exceeded(stream, open, options_.shard_limit, 1);
  }
  const auto key = parse_hash_key(new_starting_hash_key);
  // Legal when start + 1 < key < end (5.5); written to avoid overflow at the range ends.
  if (!key || !(*key > shard.range.starting && *key - shard.range.starting > 1 &&
                *key < shard.range.ending)) {
    return Status::invalid_argument(fmt::format(
        "NewStartingHashKey {} used in SplitShard() on shard {} in stream {} under account {} is "
        "not both greater than one plus the shard's StartingHashKey {} and less than the "
        "shard's EndingHashKey {}.",
        new_starting_hash_key, format_shard_id(*index), stream.name, stream.account,
        format_hash_key(shard.range.starting), format_hash_key(shard.range.ending)));
  }
  StreamMeta next = s->meta;
  next.pending = PendingChange{.kind = PendingKind::kSplit, .shard = *index, .hash_key = *key};
  return schedule(*s, std::move(next), now, options_.updating_delay_ms, StreamStatus::kUpdating);
}

Status StreamService::merge_shards(const StreamKey& stream, std::string_view shard_to_merge,
                                   std::string_view adjacent_shard_to_merge) {
  const auto lo = parse_shard_id(shard_to_merge);
  if (!lo) return could_not_find_shard(stream, shard_to_merge);
  const auto hi = parse_shard_id(adjacent_shard_to_merge);
  if (!hi) return could_not_find_shard(stream, adjacent_shard_to_merge);
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, now));
  if (s == nullptr) return stream_not_found(stream);
  SLUICE_RETURN_IF_ERROR(check_mutable(*s));
  auto a = s->shards.find(*lo);
  if (a == s->shards.end()) return could_not_find_shard(stream, format_shard_id(*lo));
  auto b = s->shards.find(*hi);
  if (b == s->shards.end()) return could_not_find_shard(stream, format_shard_id(*hi));
  if (a->second->meta.closed_ms) return already_resharded(stream, *lo);
  if (b->second->meta.closed_ms) return already_resharded(stream, *hi);
  const HashKeyRange& ra = a->second->meta.range;
  const HashKeyRange& rb = b->second->meta.range;
  if (ra.ending == kMaxHashKey || ra.ending + 1 != rb.starting) {
    return Status::invalid_argument(fmt::format(
        "Shards {} and {} in stream {} under account {} are not an adjacent pair of shards "
        "eligible for merging",
        format_shard_id(*lo), format_shard_id(*hi), stream.name, stream.account));
  }
  StreamMeta next = s->meta;
  next.pending = PendingChange{.kind = PendingKind::kMerge, .shard = *lo, .adjacent = *hi};
  return schedule(*s, std::move(next), now, options_.updating_delay_ms, StreamStatus::kUpdating);
}

Result<UpdateShardCountResult> StreamService::update_shard_count(const StreamKey& stream,
                                                                 int32_t target) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, now));
  if (s == nullptr) return stream_not_found(stream);
  SLUICE_RETURN_IF_ERROR(check_mutable(*s));
  const auto open = static_cast<int32_t>(s->open_by_start.size());
  UpdateShardCountResult result{stream.name, stream_arn(stream), open, target};
  if (target < 1) {
    return Status::invalid_argument(fmt::format("TargetShardCount {} is below 1", target));
  }
  if (target == open) return result;  // nothing to do, and no scaling spent
  const auto prefix = fmt::format("UpdateShardCount to {} for stream {} under account {}: ", target,
                                  stream.name, stream.account);
  if (int64_t{target} > 2 * int64_t{open}) {
    return Status::limit_exceeded(
        prefix + fmt::format("the target is more than double the {} open shards.", open));
  }
  if (target < (open + 1) / 2) {
    return Status::limit_exceeded(
        prefix + fmt::format("the target is less than half the {} open shards.", open));
  }
  if (target > options_.max_target_shard_count) {
    return Status::limit_exceeded(
        prefix + fmt::format("the target is above {}.", options_.max_target_shard_count));
  }
  const int32_t account_open = open_shards_in(stream.account, stream.region);
  if (int64_t{account_open} - open + target > options_.shard_limit) {
    return shard_limit_exceeded(stream, account_open, options_.shard_limit, target - open);
  }
  StreamMeta next = s->meta;
  std::erase_if(next.scaling_ms, [&](int64_t t) { return t <= now - kDayMs; });
  if (static_cast<int32_t>(next.scaling_ms.size()) >= options_.max_scaling_per_day) {
    return Status::limit_exceeded(
        prefix + fmt::format("the stream was already scaled {} times in the last 24 hours.",
                             next.scaling_ms.size()));
  }
  next.scaling_ms.push_back(now);
  next.pending = PendingChange{.kind = PendingKind::kScale, .target = target};
  SLUICE_RETURN_IF_ERROR(
      schedule(*s, std::move(next), now, options_.updating_delay_ms, StreamStatus::kUpdating));
  return result;
}

Status StreamService::update_stream_mode(const StreamKey& stream, StreamMode mode) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, begin_update(stream, now));
  if (s->meta.mode == mode) return Status();  // accepted as a no-op (spec 9.14)
  if (mode == StreamMode::kOnDemand) {
    int32_t on_demand = 0;
    for (const auto& [key, other] : streams_) {
      if (key.account == stream.account && key.region == stream.region &&
          other->meta.mode == StreamMode::kOnDemand) {
        ++on_demand;
      }
    }
    if (on_demand >= options_.on_demand_stream_limit) {
      return Status::limit_exceeded(fmt::format(
          "This request would exceed the on-demand stream limit for the account {} in {}. "
          "Current on-demand stream count: {}. Limit: {}.",
          stream.account, stream.region, on_demand, options_.on_demand_stream_limit));
    }
  }
  StreamMeta next = s->meta;
  next.pending = PendingChange{.kind = PendingKind::kMode, .mode = mode};
  return schedule(*s, std::move(next), now, options_.updating_delay_ms, StreamStatus::kUpdating);
}

Status StreamService::update_max_record_size(const StreamKey& stream, int32_t kib) {
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, begin_update(stream, clock_->now_ms()));
  StreamMeta previous = s->meta;
  s->meta.max_record_size_kib = kib;
  Status st = persist_stream(*s);
  if (!st.ok()) s->meta = std::move(previous);
  return st;
}

Result<WarmThroughputResult> StreamService::update_stream_warm_throughput(const StreamKey& stream,
                                                                          int32_t mibps) {
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, clock_->now_ms()));
  if (s == nullptr) return stream_not_found(stream);
  if (s->meta.mode != StreamMode::kOnDemand) {
    return Status::invalid_argument(
        fmt::format("Warm throughput can only be set on ON_DEMAND streams; stream {} under "
                    "account {} is PROVISIONED.",
                    stream.name, stream.account));
  }
  StreamMeta previous = s->meta;
  s->meta.warm_throughput_mibps = mibps;
  Status st = persist_stream(*s);
  if (!st.ok()) {
    s->meta = std::move(previous);
    return st;
  }
  return WarmThroughputResult{stream_arn(stream), stream.name, mibps, mibps};
}

namespace {

Status check_retention_bounds(int32_t hours) {
  if (hours < kMinRetentionHours) {
    return Status::invalid_argument(fmt::format(
        "Minimum allowed retention period is 24 hours. Requested retention period ({} hours) is "
        "too short.",
        hours));
  }
  if (hours > kMaxRetentionHours) {
    return Status::invalid_argument(fmt::format(
        "Maximum allowed retention period is 8760 hours. Requested retention period ({} hours) is "
        "too long.",
        hours));
  }
  return Status();
}

}  // namespace

Status StreamService::increase_retention_period(const StreamKey& stream, int32_t hours) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, now));
  if (s == nullptr) return stream_not_found(stream);
  SLUICE_RETURN_IF_ERROR(check_retention_bounds(hours));
  const int32_t cur = s->meta.retention_hours;
  if (hours < cur) {
    return Status::invalid_argument(fmt::format(
        "Requested retention period ({} hours) for stream {} can not be shorter than existing "
        "retention period ({} hours). Use DecreaseRetentionPeriod API.",
        hours, stream.name, cur));
  }
  StreamMeta previous = s->meta;
  // What has expired stays expired (8.1): keep the old horizon as a floor.
  s->meta.trim_floor_ms = retention_cutoff_ms(s->meta, now);
  s->meta.retention_hours = hours;
  Status st = persist_stream(*s);
  if (!st.ok()) s->meta = std::move(previous);
  return st;
}

Status StreamService::decrease_retention_period(const StreamKey& stream, int32_t hours) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, now));
  if (s == nullptr) return stream_not_found(stream);
  SLUICE_RETURN_IF_ERROR(check_retention_bounds(hours));
  const int32_t cur = s->meta.retention_hours;
  if (hours > cur) {
    return Status::invalid_argument(fmt::format(
        "Requested retention period ({} hours) for stream {} can not be longer than existing "
        "retention period ({} hours). Use IncreaseRetentionPeriod API.",
        hours, stream.name, cur));
  }
  StreamMeta previous = s->meta;
  s->meta.retention_hours = hours;
  Status st = persist_stream(*s);
  if (!st.ok()) s->meta = std::move(previous);
  return st;
}

Status StreamService::add_tags(const StreamKey& stream,
                               const std::map<std::string, std::string>& tags) {
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, clock_->now_ms()));
  if (s == nullptr) return stream_not_found(stream);
  SLUICE_RETURN_IF_ERROR(check_new_tags(stream, s->meta.tags, tags));
  StreamMeta previous = s->meta;
  for (const auto& [k, v] : tags) s->meta.tags[k] = v;
  Status st = persist_stream(*s);
  if (!st.ok()) s->meta = std::move(previous);
  return st;
}

Status StreamService::remove_tags(const StreamKey& stream, const std::vector<std::string>& keys) {
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, clock_->now_ms()));
  if (s == nullptr) return stream_not_found(stream);
  std::vector<std::string_view> texts(keys.begin(), keys.end());
  SLUICE_RETURN_IF_ERROR(check_tag_chars(stream, texts, /*adding=*/false));
  StreamMeta previous = s->meta;
  for (const std::string& k : keys) s->meta.tags.erase(k);
  Status st = persist_stream(*s);
  if (!st.ok()) s->meta = std::move(previous);
  return st;
}

Result<ListTagsResult> StreamService::list_tags(const ListTagsRequest& req) {
  const int32_t limit = std::min(req.limit.value_or(kMaxTags), kMaxTags);
  if (limit < 1) return Status::invalid_argument(fmt::format("Limit {} is below 1", limit));
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(req.stream, clock_->now_ms()));
  if (s == nullptr) return stream_not_found(req.stream);
  // Tags hold only code points below U+D800 (tag_chars_valid), for which UTF-8 byte order -
  // the map's order - is UTF-16 code-unit order.
  const auto& tags = s->meta.tags;
  auto it =
      req.exclusive_start_tag_key ? tags.upper_bound(*req.exclusive_start_tag_key) : tags.begin();
  ListTagsResult out;
  for (; it != tags.end(); ++it) {
    if (out.tags.size() == static_cast<size_t>(limit)) {
      out.has_more_tags = true;
      break;
    }
    out.tags.emplace_back(it->first, it->second);
  }
  return out;
}

Status StreamService::start_encryption(const StreamKey& stream, EncryptionType type,
                                       std::string key_id) {
  if (type != EncryptionType::kKms) {
    return Status::invalid_argument("StartStreamEncryption requires EncryptionType KMS.");
  }
  if (key_id.empty()) return Status::invalid_argument("KeyId must not be empty.");
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, begin_update(stream, now));
  StreamMeta next = s->meta;
  next.pending = PendingChange{
      .kind = PendingKind::kEncryption, .encryption = type, .key_id = std::move(key_id)};
  return schedule(*s, std::move(next), now, options_.updating_delay_ms, StreamStatus::kUpdating);
}

Status StreamService::stop_encryption(const StreamKey& stream) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, begin_update(stream, now));
  StreamMeta next = s->meta;
  next.pending =
      PendingChange{.kind = PendingKind::kEncryption, .encryption = EncryptionType::kNone};
  return schedule(*s, std::move(next), now, options_.updating_delay_ms, StreamStatus::kUpdating);
}

namespace {

// The metric names in canonical order, "ALL" expanded; kInvalidArgument for unknown names.
Result<std::vector<std::string>> expand_metrics(const std::vector<std::string>& metrics) {
  std::set<std::string_view> wanted;
  for (const std::string& m : metrics) {
    if (m == "ALL") {
      wanted.insert(std::begin(kAllMetrics), std::end(kAllMetrics));
    } else if (std::find(std::begin(kAllMetrics), std::end(kAllMetrics), m) !=
               std::end(kAllMetrics)) {
      wanted.insert(m);
    } else {
      return Status::invalid_argument(fmt::format("Unknown shard-level metric {}", m));
    }
  }
  std::vector<std::string> out;
  for (std::string_view m : kAllMetrics) {
    if (wanted.contains(m)) out.emplace_back(m);
  }
  return out;
}

}  // namespace

Result<EnhancedMonitoringResult> StreamService::enable_enhanced_monitoring(
    const StreamKey& stream, const std::vector<std::string>& metrics) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> add, expand_metrics(metrics));
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, begin_update(stream, clock_->now_ms()));
  EnhancedMonitoringResult out{stream.name, stream_arn(stream), s->meta.shard_level_metrics, {}};
  std::vector<std::string> all = s->meta.shard_level_metrics;
  all.insert(all.end(), add.begin(), add.end());
  SLUICE_ASSIGN_OR_RETURN(out.desired_shard_level_metrics, expand_metrics(all));
  StreamMeta previous = s->meta;
  s->meta.shard_level_metrics = out.desired_shard_level_metrics;
  Status st = persist_stream(*s);
  if (!st.ok()) {
    s->meta = std::move(previous);
    return st;
  }
  return out;
}

Result<EnhancedMonitoringResult> StreamService::disable_enhanced_monitoring(
    const StreamKey& stream, const std::vector<std::string>& metrics) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> drop, expand_metrics(metrics));
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, begin_update(stream, clock_->now_ms()));
  EnhancedMonitoringResult out{stream.name, stream_arn(stream), s->meta.shard_level_metrics, {}};
  for (const std::string& m : s->meta.shard_level_metrics) {
    if (std::find(drop.begin(), drop.end(), m) == drop.end()) {
      out.desired_shard_level_metrics.push_back(m);
    }
  }
  StreamMeta previous = s->meta;
  s->meta.shard_level_metrics = out.desired_shard_level_metrics;
  Status st = persist_stream(*s);
  if (!st.ok()) {
    s->meta = std::move(previous);
    return st;
  }
  return out;
}

Result<LimitsResult> StreamService::describe_limits(std::string_view account,
                                                    std::string_view region) {
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(advance_all(clock_->now_ms()));
  LimitsResult out;
  out.shard_limit = options_.shard_limit;
  out.open_shard_count = open_shards_in(account, region);
  out.on_demand_stream_count_limit = options_.on_demand_stream_limit;
  for (const auto& [key, s] : streams_) {
    if (key.account == account && key.region == region && s->meta.mode == StreamMode::kOnDemand) {
      ++out.on_demand_stream_count;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Enhanced fan-out consumers (9.22). Consumers live in their stream's record (the `consumer`
// field, docs/formats/stream-catalog.md); their status follows from the clock.

namespace {

Status consumer_not_found(const ConsumerRef& ref) {
  return Status::not_found(
      fmt::format("Consumer {}, account {} not found.", ref.name, ref.stream.account));
}

ConsumerDescription describe_consumer(const StreamKey& stream, const internal::ConsumerMeta& c,
                                      ConsumerStatus status) {
  ConsumerDescription d;
  d.name = c.name;
  d.arn = consumer_arn(stream, c.name, c.creation_s);
  d.status = status;
  d.creation_timestamp_ms = c.creation_s * 1000;
  d.stream_arn = stream_arn(stream);
  return d;
}

// Drops the consumers whose deregistration has completed by `now`.
void prune_consumers(StreamMeta& m, int64_t now, int64_t delay_ms) {
  std::erase_if(m.consumers, [&](const internal::ConsumerMeta& c) {
    return !consumer_status(c, now, delay_ms).has_value();
  });
}

}  // namespace

Result<ConsumerDescription> StreamService::register_stream_consumer(
    const StreamKey& stream, std::string_view consumer_name) {
  SLUICE_RETURN_IF_ERROR(validate_stream_key(stream));
  if (consumer_name.empty() || consumer_name.size() > 128 ||
      !validate_stream_key({stream.account, stream.region, std::string(consumer_name)}).ok()) {
    return Status::invalid_argument(fmt::format("Invalid consumer name {}.", consumer_name));
  }
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  const int64_t delay = options_.consumer_delay_ms;
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(stream, now));
  if (s == nullptr) return stream_not_found(stream);
  if (s->meta.status != StreamStatus::kActive && s->meta.status != StreamStatus::kUpdating) {
    return not_active(stream, s->meta.status);
  }
  StreamMeta next = s->meta;
  prune_consumers(next, now, delay);
  int32_t creating = 0;
  for (const internal::ConsumerMeta& c : next.consumers) {
    if (c.name == consumer_name) {
      return Status::in_use(
          fmt::format("Consumer {} under stream {} under account {} already exists.", consumer_name,
                      stream.name, stream.account));
    }
    if (consumer_status(c, now, delay) == ConsumerStatus::kCreating) ++creating;
  }
  if (std::ssize(next.consumers) >= options_.max_consumers_per_stream) {
    return Status::limit_exceeded(
        fmt::format("Stream {} under account {} already has the maximum number of consumers ({}).",
                    stream.name, stream.account, options_.max_consumers_per_stream));
  }
  if (creating >= options_.max_creating_consumers) {
    return Status::limit_exceeded(
        fmt::format("Stream {} under account {} already has {} consumers in CREATING state. "
                    "Wait until they are ACTIVE.",
                    stream.name, stream.account, creating));
  }
  internal::ConsumerMeta c;
  c.name = std::string(consumer_name);
  c.registered_ms = now;
  c.creation_s = now / 1000;
  next.consumers.push_back(c);
  std::swap(s->meta, next);
  Status st = persist_stream(*s);
  if (!st.ok()) {
    std::swap(s->meta, next);
    return st;
  }
  logger()->info("stream={} account={} region={} consumer={} registered", stream.name,
                 stream.account, stream.region, consumer_name);
  return describe_consumer(stream, c, *consumer_status(c, now, delay));
}

Result<ConsumerDescription> StreamService::describe_stream_consumer(const ConsumerRef& ref) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(ref.stream, now));
  if (s == nullptr) return stream_not_found(ref.stream);
  for (const internal::ConsumerMeta& c : s->meta.consumers) {
    if (c.name != ref.name) continue;
    if (ref.creation_s && *ref.creation_s != c.creation_s) continue;
    const auto status = consumer_status(c, now, options_.consumer_delay_ms);
    if (!status) continue;
    return describe_consumer(ref.stream, c, *status);
  }
  return consumer_not_found(ref);
}

Result<ListConsumersResult> StreamService::list_stream_consumers(const ListConsumersRequest& req) {
  const int32_t limit = std::min(req.max_results.value_or(100), 100);
  if (limit < 1) return Status::invalid_argument(fmt::format("MaxResults {} is below 1", limit));
  const int64_t now = clock_->now_ms();
  std::string after;
  if (req.next_token) {
    SLUICE_ASSIGN_OR_RETURN(
        auto f, internal::open_token(kListConsumersToken, *req.next_token, as_bytes(secret_)));
    std::optional<int64_t> issued = f.size() == 5 ? parse_number<int64_t>(f[0]) : std::nullopt;
    if (!issued || f[1] != req.stream.account || f[2] != req.stream.region ||
        f[3] != req.stream.name) {
      return Status::invalid_argument("The NextToken is invalid.");
    }
    if (now - *issued > internal::kIteratorTtlMs) {
      return Status::expired("The NextToken has expired.");
    }
    after = f[4];
  }
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(req.stream, now));
  if (s == nullptr) return stream_not_found(req.stream);
  if (req.stream_creation_timestamp_ms &&
      *req.stream_creation_timestamp_ms / 1000 != s->meta.creation_ms / 1000) {
    return stream_not_found(req.stream);
  }
  std::vector<ConsumerDescription> all;
  for (const internal::ConsumerMeta& c : s->meta.consumers) {
    const auto status = consumer_status(c, now, options_.consumer_delay_ms);
    if (status && c.name > after) all.push_back(describe_consumer(req.stream, c, *status));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  ListConsumersResult out;
  if (std::ssize(all) > limit) {
    all.resize(static_cast<size_t>(limit));
    out.next_token = internal::seal_token(kListConsumersToken,
                                          {fmt::format("{}", now), req.stream.account,
                                           req.stream.region, req.stream.name, all.back().name},
                                          as_bytes(secret_));
  }
  out.consumers = std::move(all);
  return out;
}

Status StreamService::deregister_stream_consumer(const ConsumerRef& ref) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_->now_ms();
  const int64_t delay = options_.consumer_delay_ms;
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(ref.stream, now));
  if (s == nullptr) return stream_not_found(ref.stream);
  StreamMeta next = s->meta;
  prune_consumers(next, now, delay);
  auto it = std::find_if(next.consumers.begin(), next.consumers.end(), [&](const auto& c) {
    return c.name == ref.name && (!ref.creation_s || *ref.creation_s == c.creation_s);
  });
  if (it == next.consumers.end()) return consumer_not_found(ref);
  if (it->deleting_due_ms) return Status();
  it->deleting_due_ms = now + std::max<int64_t>(delay, 0);
  if (delay <= 0) prune_consumers(next, now, delay);
  std::swap(s->meta, next);
  Status st = persist_stream(*s);
  if (!st.ok()) {
    std::swap(s->meta, next);
    return st;
  }
  logger()->info("stream={} account={} region={} consumer={} deregistered", ref.stream.name,
                 ref.stream.account, ref.stream.region, ref.name);
  return Status();
}

// ---------------------------------------------------------------------------------------------
// Tags and policies of streams and consumers (9.17, 9.24)

Result<std::pair<StreamState*, int>> StreamService::find_resource(const ResourceRef& res,
                                                                  int64_t now) {
  SLUICE_ASSIGN_OR_RETURN(StreamState * s, lookup(res.stream, now));
  if (s == nullptr) return stream_not_found(res.stream);
  if (!res.consumer) return std::pair<StreamState*, int>(s, -1);
  const ConsumerRef& ref = *res.consumer;
  const auto& consumers = s->meta.consumers;
  for (size_t i = 0; i < consumers.size(); ++i) {
    const internal::ConsumerMeta& c = consumers[i];
    if (c.name != ref.name || (ref.creation_s && *ref.creation_s != c.creation_s)) continue;
    if (!consumer_status(c, now, options_.consumer_delay_ms)) continue;
    return std::pair<StreamState*, int>(s, static_cast<int>(i));
  }
  return consumer_not_found(ref);
}

Status StreamService::update_resource(
    const ResourceRef& res, const std::function<Status(internal::StreamMeta&, int)>& change) {
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(auto found, find_resource(res, clock_->now_ms()));
  StreamState* s = found.first;
  StreamMeta next = s->meta;
  SLUICE_RETURN_IF_ERROR(change(next, found.second));
  std::swap(s->meta, next);
  Status st = persist_stream(*s);
  if (!st.ok()) std::swap(s->meta, next);
  return st;
}

Status StreamService::tag_resource(const ResourceRef& res,
                                   const std::map<std::string, std::string>& tags) {
  return update_resource(res, [&](StreamMeta& m, int consumer) {
    auto& existing = consumer < 0 ? m.tags : m.consumers[static_cast<size_t>(consumer)].tags;
    SLUICE_RETURN_IF_ERROR(check_new_tags(res.stream, existing, tags));
    for (const auto& [k, v] : tags) existing[k] = v;
    return Status();
  });
}

Status StreamService::untag_resource(const ResourceRef& res, const std::vector<std::string>& keys) {
  return update_resource(res, [&](StreamMeta& m, int consumer) {
    auto& existing = consumer < 0 ? m.tags : m.consumers[static_cast<size_t>(consumer)].tags;
    std::vector<std::string_view> texts(keys.begin(), keys.end());
    SLUICE_RETURN_IF_ERROR(check_tag_chars(res.stream, texts, /*adding=*/false));
    for (const std::string& k : keys) existing.erase(k);
    return Status();
  });
}

Result<std::vector<std::pair<std::string, std::string>>> StreamService::list_tags_for_resource(
    const ResourceRef& res) {
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(auto found, find_resource(res, clock_->now_ms()));
  const StreamMeta& m = found.first->meta;
  // Tags hold only code points below U+D800 (tag_chars_valid): byte order is UTF-16 order.
  const auto& tags =
      found.second < 0 ? m.tags : m.consumers[static_cast<size_t>(found.second)].tags;
  return std::vector<std::pair<std::string, std::string>>(tags.begin(), tags.end());
}

Status StreamService::put_resource_policy(const ResourceRef& res, std::string policy) {
  return update_resource(res, [&](StreamMeta& m, int consumer) {
    (consumer < 0 ? m.policy : m.consumers[static_cast<size_t>(consumer)].policy) = policy;
    return Status();
  });
}

Result<std::optional<std::string>> StreamService::get_resource_policy(const ResourceRef& res) {
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(auto found, find_resource(res, clock_->now_ms()));
  const StreamMeta& m = found.first->meta;
  return found.second < 0 ? m.policy : m.consumers[static_cast<size_t>(found.second)].policy;
}

Status StreamService::delete_resource_policy(const ResourceRef& res) {
  return update_resource(res, [&](StreamMeta& m, int consumer) {
    (consumer < 0 ? m.policy : m.consumers[static_cast<size_t>(consumer)].policy).reset();
    return Status();
  });
}

// ---------------------------------------------------------------------------------------------
// Account settings (9.21): read from and written to the MetadataStore on each call (rare).

Result<AccountSettings> StreamService::describe_account_settings(std::string_view account,
                                                                 std::string_view region) {
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(auto text,
                          metadata_->get(internal::kAccountSettingsNs,
                                         internal::account_settings_key(account, region)));
  if (!text) return AccountSettings{};
  return internal::decode_account_settings(*text);
}

Result<AccountSettings> StreamService::update_account_settings(std::string_view account,
                                                               std::string_view region,
                                                               bool enable) {
  std::lock_guard lock(mu_);
  const std::string key = internal::account_settings_key(account, region);
  SLUICE_ASSIGN_OR_RETURN(auto text, metadata_->get(internal::kAccountSettingsNs, key));
  AccountSettings a;
  if (text) {
    SLUICE_ASSIGN_OR_RETURN(a, internal::decode_account_settings(*text));
  }
  if (a.commitment_enabled == enable) return a;
  const int64_t now = clock_->now_ms();
  a.commitment_enabled = enable;
  if (enable) {
    a.started_at_ms = now;
    a.ended_at_ms.reset();
  } else {
    a.ended_at_ms = now;
  }
  const MetadataStore::Write w{std::string(internal::kAccountSettingsNs), key,
                               internal::encode_account_settings(a)};
  SLUICE_RETURN_IF_ERROR(metadata_->apply(std::span(&w, 1)));
  return a;
}

std::optional<size_t> StreamService::max_record_bytes(const StreamKey& stream) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) return std::nullopt;
  return size_t(it->second->meta.max_record_size_kib) * 1024;
}

Status StreamService::run_maintenance() {
  struct Trim {
    std::shared_ptr<ShardLog> log;
    int64_t cutoff_ms;
  };
  std::vector<Trim> trims;
  std::vector<std::string> doomed_logs;
  Status first;
  {
    std::lock_guard lock(mu_);
    const int64_t now = clock_->now_ms();
    first = advance_all(now);
    for (auto& [key, s] : streams_) {
      if (s->meta.status == StreamStatus::kCreating) continue;
      const int64_t cutoff = retention_cutoff_ms(s->meta, now);
      std::vector<MetadataStore::Write> writes;
      std::vector<int32_t> expired;
      for (const auto& [index, shard] : s->shards) {
        if (is_expired(shard->meta, cutoff)) {
          expired.push_back(index);
          writes.push_back({std::string(internal::kShardNs),
                            internal::shard_meta_key(s->meta.incarnation, index), std::nullopt});
        } else {
          trims.push_back({shard->log, cutoff});
        }
      }
      if (writes.empty()) continue;
      Status st = metadata_->apply(writes);
      if (!st.ok()) {
        if (first.ok()) first = st;
        continue;
      }
      for (int32_t index : expired) {
        doomed_logs.push_back(s->shards.at(index)->meta.log_name);
        s->shards.erase(index);
      }
      logger()->info("stream={} account={} dropped {} expired closed shards", key.name, key.account,
                     expired.size());
    }
  }
  // I/O without the mutex.
  for (const Trim& t : trims) {
    Status st = t.log->trim_before_time(t.cutoff_ms);
    if (!st.ok() && first.ok()) first = st;
  }
  for (const std::string& name : doomed_logs) {
    Status st = logs_->remove(name);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

}  // namespace sluice::stream
