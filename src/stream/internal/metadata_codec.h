#pragma once

#include "base/result.h"
#include "stream/hash_key.h"
#include "stream/operations.h"
#include "stream/types.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// What the stream layer keeps in its MetadataStore, and the text encoding of each value.
// Format, keys and a worked example: docs/formats/stream-catalog.md (change both together).
namespace sluice::stream::internal {

inline constexpr std::string_view kStreamNs = "stream";
inline constexpr std::string_view kShardNs = "shard";
inline constexpr std::string_view kCounterNs = "stream_counter";
inline constexpr std::string_view kGlobalNs = "stream_global";
inline constexpr std::string_view kAccountSettingsNs = "account_settings";
inline constexpr std::string_view kIteratorKeyName = "iterator_key";
inline constexpr std::string_view kNextIncarnationName = "next_incarnation";
inline constexpr std::string_view kLogNamePrefix = "stream-";

// A change that completes when the stream's transition delay has passed (docs/stream.md).
enum class PendingKind : uint8_t {
  kNone,
  kCreate,      // CREATING: make the shards, become ACTIVE
  kSplit,       // UPDATING: split `shard` at `hash_key`
  kMerge,       // UPDATING: merge `shard` with `adjacent`
  kScale,       // UPDATING: uniform scaling to `target` open shards
  kMode,        // UPDATING: switch to `mode`
  kEncryption,  // UPDATING: switch to `encryption` / `key_id`
  kDelete,      // DELETING: drop shards, logs and metadata
};

struct PendingChange {
  PendingKind kind = PendingKind::kNone;
  int64_t due_ms = 0;
  int32_t shard = -1;
  int32_t adjacent = -1;
  HashKey hash_key = 0;
  int32_t target = 0;
  StreamMode mode = StreamMode::kProvisioned;
  EncryptionType encryption = EncryptionType::kNone;
  std::string key_id{};
  bool operator==(const PendingChange&) const = default;
};

// An enhanced fan-out consumer (spec 9.22). Its status follows from the clock: CREATING until
// registered_ms + the consumer delay, then ACTIVE; once deregistered, DELETING until
// deleting_due_ms, then gone (dropped from the record at the next write).
struct ConsumerMeta {
  std::string name;
  int64_t registered_ms = 0;  // the RegisterStreamConsumer request time
  int64_t creation_s = 0;     // ConsumerCreationTimestamp and the ARN's last component
  std::optional<int64_t> deleting_due_ms;
  std::map<std::string, std::string> tags;  // TagResource on the consumer ARN
  std::optional<std::string> policy;        // PutResourcePolicy on the consumer ARN, verbatim
  bool operator==(const ConsumerMeta&) const = default;
};

struct StreamMeta {
  StreamKey key;
  uint64_t incarnation = 0;  // unique per data dir; iterators and log names carry it
  StreamStatus status = StreamStatus::kCreating;
  PendingChange pending;
  StreamMode mode = StreamMode::kProvisioned;
  int32_t initial_shard_count = 0;
  int32_t retention_hours = 24;
  // Records that arrived before this stay hidden even after retention grows (8.1).
  int64_t trim_floor_ms = 0;
  // StreamCreationTimestamp (whole seconds, in ms) = creation time of the initial shards.
  int64_t creation_ms = 0;
  int32_t next_shard_index = 0;
  EncryptionType encryption = EncryptionType::kNone;
  std::string key_id{};
  std::vector<std::string> shard_level_metrics;  // sorted, unique
  std::map<std::string, std::string> tags;
  int32_t max_record_size_kib = 1024;
  std::optional<int32_t> warm_throughput_mibps;  // UpdateStreamWarmThroughput (ON_DEMAND)
  std::vector<int64_t> scaling_ms;      // completed UpdateShardCount requests in the last 24 h
  std::vector<ConsumerMeta> consumers;  // in registration order; names unique
  std::optional<std::string> policy;    // PutResourcePolicy on the stream ARN, verbatim
  bool operator==(const StreamMeta&) const = default;
};

struct ShardMeta {
  uint64_t incarnation = 0;
  int32_t index = 0;
  HashKeyRange range;
  int64_t seq_creation_s = 0;  // the creation field of its sequence numbers
  int64_t created_ms = 0;      // when it began to take records (ListShards filters)
  std::optional<int64_t> closed_ms;
  std::optional<int32_t> parent;
  std::optional<int32_t> adjacent_parent;
  std::string log_name;
  bool operator==(const ShardMeta&) const = default;
};

std::string encode_stream(const StreamMeta& m);
// kCorruption naming the field when `text` is not a valid encoding.
Result<StreamMeta> decode_stream(std::string_view text);
std::string encode_shard(const ShardMeta& m);
Result<ShardMeta> decode_shard(std::string_view text);

std::string encode_account_settings(const AccountSettings& a);
Result<AccountSettings> decode_account_settings(std::string_view text);

std::string account_settings_key(std::string_view account, std::string_view region);  // "<a>/<r>"
std::string stream_meta_key(const StreamKey& key);  // "<account>/<region>/<name>"
std::string shard_meta_key(uint64_t incarnation,
                           int32_t index);      // "<incarnation:016x>/<index:010>"
std::string counter_key(uint64_t incarnation);  // "<incarnation:016x>"
std::string shard_log_name(uint64_t incarnation, int32_t index);  // "stream-<inc:016x>-<index:010>"

}  // namespace sluice::stream::internal
