#pragma once

#include "base/bytes.h"
#include "stream/hash_key.h"
#include "stream/identifiers.h"
#include "stream/sequence_number.h"
#include "stream/types.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Inputs and outputs of the StreamService operations (stream_service.h). They carry the
// data-model values the Kinesis operations of spec section 9 need; wire shapes (JSON/CBOR,
// validation clauses, compat-mode differences) are the kinesis layer's. Times are Unix
// milliseconds; hash keys are HashKey (format_hash_key() gives the wire text).

namespace sluice::stream {

struct StreamServiceOptions {
  // Transition delays (spec 5.1). 0 makes the transition complete within the request.
  int64_t creating_delay_ms = 500;
  int64_t updating_delay_ms = 500;
  int64_t deleting_delay_ms = 500;
  int32_t default_shard_count = 4;    // CreateStream without ShardCount
  int32_t on_demand_shard_count = 4;  // every ON_DEMAND stream starts with these
  int32_t max_shards_per_stream_create = 100000;
  int32_t shard_limit = 500;  // open shards per (account, region)
  int32_t on_demand_stream_limit = 50;
  int32_t max_creating_streams = 5;
  int32_t max_scaling_per_day = 10;  // successful UpdateShardCount calls per stream per 24 h
  int32_t max_target_shard_count = 10000;
  size_t put_records_max_bytes = 5 * 1024 * 1024;  // data + partition keys of one PutRecords
  size_t max_group_bytes = 8 * 1024 * 1024;        // cap of one group-commit append per shard
  // Threads that append and sync shard groups: up to this many shards write at once.
  int32_t writer_threads = 8;
  // Enhanced fan-out consumers (spec 9.22): CREATING -> ACTIVE and DELETING -> gone take
  // this long; a stream holds at most `max_consumers_per_stream`, of which at most
  // `max_creating_consumers` may be CREATING at once.
  int64_t consumer_delay_ms = 500;
  int32_t max_consumers_per_stream = 20;
  int32_t max_creating_consumers = 5;
  // The per-shard throughput limits of spec 8.2 (--enforce-limits): over them, writes and
  // reads of PROVISIONED streams are refused with kThrottled. Off by default, as in the
  // emulators people test with; ON_DEMAND streams are never throttled.
  bool enforce_limits = false;
};

struct CreateStreamRequest {
  StreamKey stream{};
  std::optional<int32_t>
      shard_count{};  // default options.default_shard_count; ignored for ON_DEMAND
  StreamMode mode = StreamMode::kProvisioned;
  std::map<std::string, std::string> tags{};
  std::optional<int32_t> max_record_size_kib{};  // 1024-10240, default 1024
};

// One shard as DescribeStream and ListShards show it (spec 9.3).
struct ShardDescription {
  int32_t index = 0;
  std::string shard_id{};
  std::optional<std::string> parent_shard_id{};
  std::optional<std::string> adjacent_parent_shard_id{};
  HashKeyRange hash_key_range{};
  std::string starting_sequence_number{};
  std::optional<std::string> ending_sequence_number{};  // set iff the shard is closed
  int64_t created_ms = 0;                               // not on the wire
  std::optional<int64_t> closed_ms{};                   // not on the wire
};

// DescribeStream (with `shards` paged) and DescribeStreamSummary (without shards).
struct StreamDescription {
  StreamKey stream{};
  std::string arn{};
  StreamStatus status = StreamStatus::kCreating;
  StreamMode mode = StreamMode::kProvisioned;
  std::vector<ShardDescription> shards{};
  bool has_more_shards = false;
  int32_t retention_hours = 24;
  int64_t creation_timestamp_ms = 0;  // whole seconds
  std::vector<std::string> shard_level_metrics{};
  EncryptionType encryption_type = EncryptionType::kNone;
  std::optional<std::string> key_id{};  // only with KMS
  int32_t max_record_size_kib = 1024;
  std::optional<int32_t> warm_throughput_mibps{};  // ON_DEMAND streams that set one
  int32_t open_shard_count = 0;
  int32_t consumer_count = 0;  // registered consumers (CREATING, ACTIVE or DELETING)
};

// UpdateStreamWarmThroughput's answer (spec 9.25). A local stream reaches its target at
// once, so the current throughput is the target.
struct WarmThroughputResult {
  std::string stream_arn{};
  std::string stream_name{};
  int32_t target_mibps = 0;
  int32_t current_mibps = 0;
};

struct DescribeStreamRequest {
  StreamKey stream{};
  std::optional<int32_t> limit{};  // 1-10000; pages hold min(limit, 100) shards
  std::optional<std::string> exclusive_start_shard_id{};
};

struct ListStreamsRequest {
  std::string account{};
  std::string region{};
  std::optional<int32_t> limit{};  // 1-10000, default 100 (the kinesis layer clamps per mode)
  std::optional<std::string> exclusive_start_stream_name{};
  std::optional<std::string> next_token{};
};

struct StreamSummaryEntry {
  std::string name{};
  std::string arn{};
  StreamStatus status = StreamStatus::kCreating;
  StreamMode mode = StreamMode::kProvisioned;
  int64_t creation_timestamp_ms = 0;
};

struct ListStreamsResult {
  std::vector<StreamSummaryEntry> streams{};  // ascending byte order of names
  bool has_more_streams = false;
  std::optional<std::string> next_token{};  // when has_more_streams
};

struct ShardFilter {
  ShardFilterType type = ShardFilterType::kFromTrimHorizon;
  std::optional<std::string> shard_id{};  // AFTER_SHARD_ID
  std::optional<int64_t> timestamp_ms{};  // AT_TIMESTAMP, FROM_TIMESTAMP
};

struct ListShardsRequest {
  std::optional<StreamKey> stream{};  // absent when continuing with next_token
  std::optional<std::string> next_token{};
  std::optional<std::string> exclusive_start_shard_id{};
  std::optional<int32_t> max_results{};  // 1-10000, default 1000, above 1000 clamped to 1000
  std::optional<int64_t> stream_creation_timestamp_ms{};
  std::optional<ShardFilter> filter{};
};

struct ListShardsResult {
  std::vector<ShardDescription> shards{};
  std::optional<std::string> next_token{};  // absent on the last page
};

// Views are borrowed until the call returns.
struct PutRecordRequest {
  StreamKey stream{};
  std::string_view partition_key{};
  ByteView data{};
  std::optional<std::string_view> explicit_hash_key{};
  std::optional<std::string_view> sequence_number_for_ordering{};
};

struct PutRecordResult {
  std::string shard_id{};
  std::string sequence_number{};
  EncryptionType encryption_type = EncryptionType::kNone;
};

struct PutRecordsEntry {
  std::string_view partition_key{};
  ByteView data{};
  std::optional<std::string_view> explicit_hash_key{};
};

struct PutRecordsRequest {
  StreamKey stream{};
  std::span<const PutRecordsEntry> records{};  // 1-500 entries, borrowed until return
};

// Why one entry of a PutRecords call was not written.
struct PutRecordsFailure {
  std::string error_code{};  // "InternalFailure" or "ProvisionedThroughputExceededException"
  std::string error_message{};
};

// One entry's outcome: written, {shard_index, sequence_number}, or failed, with `failure`
// indexing PutRecordsResult::failures. Holds no heap memory and has no std::string members,
// so that making the up to 500 of a call is cheap; the kinesis layer renders shard ids once
// per shard.
struct PutRecordsResultEntry {
  int32_t shard_index = 0;
  int32_t failure = -1;  // >= 0: failed
  SequenceNumberText sequence_number{};
  bool ok() const { return failure < 0; }
  std::string shard_id() const { return format_shard_id(shard_index); }  // "shardId-..."
};

struct PutRecordsResult {
  int32_t failed_record_count = 0;
  std::vector<PutRecordsResultEntry> records{};  // same length and order as the request
  std::vector<PutRecordsFailure> failures{};     // what failed entries' `failure` indexes
  EncryptionType encryption_type = EncryptionType::kNone;
  // REQUIRES: !records[i].ok().
  const PutRecordsFailure& failure_of(size_t i) const {
    return failures[static_cast<size_t>(records[i].failure)];
  }
};

struct GetShardIteratorRequest {
  StreamKey stream{};
  std::string shard_id{};  // as the client sent it; parsed leniently (5.2)
  IteratorType type = IteratorType::kTrimHorizon;
  std::optional<std::string> starting_sequence_number{};
  // AT_TIMESTAMP: the request's Timestamp in milliseconds, as a double so that the error text
  // can print it as the client gave it (JSON: seconds * 1000.0; CBOR: the integer ms).
  std::optional<double> timestamp_ms{};
};

struct GetRecordsRequest {
  std::string_view shard_iterator{};
  std::optional<int32_t> limit{};  // 1-10000, default 10000
  std::optional<std::string_view> stream_arn{};
};

struct RecordOut {
  SequenceNumberText sequence_number{};
  int64_t arrival_ms = 0;
  std::string_view partition_key{};  // views into GetRecordsResult::keepalive
  ByteView data{};
};

struct ChildShard {
  std::string shard_id{};
  std::vector<std::string> parent_shards{};
  HashKeyRange hash_key_range{};
};

// Views in `records` stay valid while this result (or a copy of `keepalive`) lives.
struct GetRecordsResult {
  std::vector<RecordOut> records{};
  // Absent exactly when the shard is closed and this batch left nothing unread; then
  // `child_shards` names its children (and is empty otherwise).
  std::optional<std::string> next_shard_iterator{};
  int64_t millis_behind_latest = 0;
  std::vector<ChildShard> child_shards{};
  EncryptionType encryption_type = EncryptionType::kNone;  // the stream's, at read time
  std::shared_ptr<const void> keepalive{};
};

struct UpdateShardCountResult {
  std::string stream_name{};
  std::string stream_arn{};
  int32_t current_shard_count = 0;
  int32_t target_shard_count = 0;
};

struct EnhancedMonitoringResult {
  std::string stream_name{};
  std::string stream_arn{};
  std::vector<std::string> current_shard_level_metrics{};
  std::vector<std::string> desired_shard_level_metrics{};
};

struct ListTagsRequest {
  StreamKey stream{};
  std::optional<std::string> exclusive_start_tag_key{};
  std::optional<int32_t> limit{};  // default and maximum 50
};

struct ListTagsResult {
  std::vector<std::pair<std::string, std::string>> tags{};  // by key in UTF-16 code-unit order
  bool has_more_tags = false;
};

// An enhanced fan-out consumer (spec 9.22).
struct ConsumerDescription {
  std::string name{};
  std::string arn{};
  ConsumerStatus status = ConsumerStatus::kCreating;
  int64_t creation_timestamp_ms = 0;  // whole seconds, the ARN's last component
  std::string stream_arn{};
};

// A consumer named by stream and name; from a consumer ARN also by creation second, which
// must then match (an ARN of an earlier consumer of the same name names nothing).
struct ConsumerRef {
  StreamKey stream{};
  std::string name{};
  std::optional<int64_t> creation_s{};
};

struct ListConsumersRequest {
  StreamKey stream{};
  std::optional<int32_t> max_results{};  // 1-10000; default and cap 100
  std::optional<std::string> next_token{};
  // When given, the stream must have been created in that (whole) second.
  std::optional<int64_t> stream_creation_timestamp_ms{};
};

struct ListConsumersResult {
  std::vector<ConsumerDescription> consumers{};  // by name, byte order
  std::optional<std::string> next_token{};       // absent on the last page
};

// A stream, or one of its consumers: what TagResource and the resource-policy operations
// address (spec 9.17, 9.24).
struct ResourceRef {
  StreamKey stream{};
  std::optional<ConsumerRef> consumer{};  // set: this consumer of `stream`
};

// DescribeAccountSettings / UpdateAccountSettings (spec 9.21): the
// MinimumThroughputBillingCommitment of one (account, region), stored and echoed only.
struct AccountSettings {
  bool commitment_enabled = false;
  std::optional<int64_t> started_at_ms{};  // the last switch to ENABLED
  std::optional<int64_t> ended_at_ms{};    // the last switch to DISABLED after that
  bool operator==(const AccountSettings&) const = default;
};

struct LimitsResult {
  int32_t shard_limit = 0;
  int32_t open_shard_count = 0;
  int32_t on_demand_stream_count = 0;
  int32_t on_demand_stream_count_limit = 0;
};

}  // namespace sluice::stream
