#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "stream/backend.h"
#include "stream/operations.h"
#include "stream/types.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class thread_pool;
}

namespace sluice::stream {

namespace internal {
struct StreamState;
struct StreamMeta;
}  // namespace internal

// Kinesis streams and shards over a ShardLogBackend and a MetadataStore: the data model of
// spec sections 4-8 and the semantics of the operations of section 9 (docs/stream.md). The
// Kinesis HTTP layer is a thin adapter over it; the ESM pollers read shards through it.
//
// Created by open() (which loads every stream, reopens its shard logs and completes overdue
// transitions) and ended by its destructor (which waits for appends in flight). The
// backends and the clock are borrowed and must outlive the service.
//
// Thread-safe: any thread may call anything. Metadata sits behind one mutex, held briefly;
// appends to a shard go through its ShardWriter (group commit) and reads through its log,
// both outside that mutex.
//
// Time. Every transition (CREATING -> ACTIVE, UPDATING -> ACTIVE, DELETING -> gone) is due at
// request time + the configured delay and completes at the first call at or after that time
// that touches the stream (or run_maintenance()), as if it had happened when due. No timers.
//
// Errors. Status codes the kinesis layer maps: kNotFound -> ResourceNotFoundException,
// kInUse / kAlreadyExists -> ResourceInUseException, kInvalidArgument ->
// InvalidArgumentException (but ValidationException when is_validation_error()),
// kLimitExceeded -> LimitExceededException, kExpired -> ExpiredIteratorException (for
// list_shards / list_streams: ExpiredNextTokenException), kInternal -> InternalFailure.
// Messages are the spec's exact texts where it gives them. kIOError / kCorruption come from
// the backends.
class StreamService {
 public:
  static Result<std::unique_ptr<StreamService>> open(ShardLogBackend* logs, MetadataStore* metadata,
                                                     const Clock* clock,
                                                     StreamServiceOptions options = {});
  ~StreamService();
  StreamService(const StreamService&) = delete;
  StreamService& operator=(const StreamService&) = delete;

  // Ends writing: closes every shard writer, waits for the groups in flight and runs every
  // pending put callback. Later puts are refused with kUnavailable. For the composition root
  // to call while the callbacks' targets (connections) still exist; the destructor does it
  // too. Idempotent.
  void stop_writes();

  // ---- Streams (9.1-9.5) ----
  Status create_stream(const CreateStreamRequest& req);
  // Marks the stream DELETING (from any state); its data goes when the delay has passed.
  // With registered consumers and !enforce_consumer_deletion: kInUse, nothing changes; else
  // the consumers go with the stream.
  Status delete_stream(const StreamKey& stream, bool enforce_consumer_deletion = false);
  Result<StreamDescription> describe_stream(const DescribeStreamRequest& req);
  Result<StreamDescription> describe_stream_summary(const StreamKey& stream);
  Result<ListStreamsResult> list_streams(const ListStreamsRequest& req);
  Result<ListShardsResult> list_shards(const ListShardsRequest& req);

  // ---- Records (9.7-9.10) ----
  // Writes do not hold the calling thread while their group is appended and synced: `done`
  // runs exactly once, either before the call returns (a refusal found before writing) or
  // later on one of the service's writer threads. `req` and everything it views must stay
  // valid until `done` has run. `done` must not block: the shard's next group waits for it.
  using PutRecordDone = std::function<void(Result<PutRecordResult>)>;
  using PutRecordsDone = std::function<void(Result<PutRecordsResult>)>;
  void put_record(const PutRecordRequest& req, PutRecordDone done);
  // Whole-request failures are a Status; per-entry failures (a shard's append failed) are
  // entries with error_code "InternalFailure".
  void put_records(const PutRecordsRequest& req, PutRecordsDone done);
  // The same, waiting for `done`.
  Result<PutRecordResult> put_record(const PutRecordRequest& req);
  Result<PutRecordsResult> put_records(const PutRecordsRequest& req);
  Result<std::string> get_shard_iterator(const GetShardIteratorRequest& req);
  // The sequence number of the newest record of the shard, nullopt when it holds none: what
  // LATEST means at this instant, in a form that can be stored (ESM resolves a mapping's
  // LATEST with it once, so that a restart does not move it). Errors as get_shard_iterator.
  Result<std::optional<std::string>> latest_sequence_number(const StreamKey& stream,
                                                            std::string_view shard_id);
  Result<GetRecordsResult> get_records(const GetRecordsRequest& req);

  // ---- Resharding and settings (9.11-9.16, 9.18-9.20) ----
  Status split_shard(const StreamKey& stream, std::string_view shard_to_split,
                     std::string_view new_starting_hash_key);
  Status merge_shards(const StreamKey& stream, std::string_view shard_to_merge,
                      std::string_view adjacent_shard_to_merge);
  // UNIFORM_SCALING, the only scaling type.
  Result<UpdateShardCountResult> update_shard_count(const StreamKey& stream,
                                                    int32_t target_shard_count);
  Status update_stream_mode(const StreamKey& stream, StreamMode mode);
  // MaxRecordSizeInKiB (1024-10240, checked by the caller) for writes from now on. The stream
  // must be ACTIVE (else kInUse); it stays ACTIVE.
  Status update_max_record_size(const StreamKey& stream, int32_t kib);
  // Records the warm throughput of an ON_DEMAND stream (else kInvalidArgument); nothing else
  // changes (spec 9.25).
  Result<WarmThroughputResult> update_stream_warm_throughput(const StreamKey& stream,
                                                             int32_t mibps);
  Status increase_retention_period(const StreamKey& stream, int32_t hours);
  Status decrease_retention_period(const StreamKey& stream, int32_t hours);
  Status add_tags(const StreamKey& stream, const std::map<std::string, std::string>& tags);
  Status remove_tags(const StreamKey& stream, const std::vector<std::string>& keys);
  Result<ListTagsResult> list_tags(const ListTagsRequest& req);
  // `type` must be KMS. The stream is UPDATING for the update delay, then reports KMS.
  Status start_encryption(const StreamKey& stream, EncryptionType type, std::string key_id);
  Status stop_encryption(const StreamKey& stream);
  // Metric names of 9.19; "ALL" stands for all seven.
  Result<EnhancedMonitoringResult> enable_enhanced_monitoring(
      const StreamKey& stream, const std::vector<std::string>& metrics);
  Result<EnhancedMonitoringResult> disable_enhanced_monitoring(
      const StreamKey& stream, const std::vector<std::string>& metrics);
  Result<LimitsResult> describe_limits(std::string_view account, std::string_view region);

  // ---- Enhanced fan-out consumers (9.22) ----
  // The new consumer, CREATING (ACTIVE at once with a zero consumer delay). The stream must
  // be ACTIVE or UPDATING (else kInUse); a name in use -> kInUse; limits -> kLimitExceeded.
  Result<ConsumerDescription> register_stream_consumer(const StreamKey& stream,
                                                       std::string_view consumer_name);
  // kNotFound for an unknown stream or consumer (or a creation second that does not match).
  Result<ConsumerDescription> describe_stream_consumer(const ConsumerRef& ref);
  Result<ListConsumersResult> list_stream_consumers(const ListConsumersRequest& req);
  // Marks the consumer DELETING; it is gone after the consumer delay. Deregistering a
  // DELETING consumer changes nothing.
  Status deregister_stream_consumer(const ConsumerRef& ref);

  // ---- Account settings (9.21) ----
  // DISABLED with no times for an account that never changed them.
  Result<AccountSettings> describe_account_settings(std::string_view account,
                                                    std::string_view region);
  // Switching on sets started_at (and clears ended_at); switching off an enabled
  // commitment sets ended_at; setting the current state again changes nothing.
  Result<AccountSettings> update_account_settings(std::string_view account, std::string_view region,
                                                  bool enable);

  // ---- Tags and policies of streams and consumers (9.17, 9.24) ----
  // A stream's tags are those of add_tags()/list_tags(); the rules are those of 9.16.
  Status tag_resource(const ResourceRef& res, const std::map<std::string, std::string>& tags);
  Status untag_resource(const ResourceRef& res, const std::vector<std::string>& keys);
  // All tags, by key in UTF-16 code-unit order.
  Result<std::vector<std::pair<std::string, std::string>>> list_tags_for_resource(
      const ResourceRef& res);
  // The policy is stored verbatim (the kinesis layer checks it is a JSON object).
  Status put_resource_policy(const ResourceRef& res, std::string policy);
  // nullopt when the resource has no policy.
  Result<std::optional<std::string>> get_resource_policy(const ResourceRef& res);
  // Idempotent: a resource without a policy is fine.
  Status delete_resource_policy(const ResourceRef& res);

  // The largest data + partition key a record of `stream` may have (its MaxRecordSizeInKiB),
  // for request validation; nullopt when there is no such stream.
  std::optional<size_t> max_record_bytes(const StreamKey& stream);

  // Called with the stream's key after records of it became readable (at the end of every
  // put_record / put_records that stored at least one). The ESM readers use it to read at
  // once instead of on a timer. Runs on the writer's thread with no lock of the service
  // held: it must be quick and must not block. REQUIRES: set before the service is shared
  // between threads (the composition root does it once).
  using AppendListener = std::function<void(const StreamKey& stream)>;
  void set_append_listener(AppendListener listener) { append_listener_ = std::move(listener); }

  // For the server to call periodically: completes due transitions (deleting streams' data
  // goes here at the latest), lets shard logs drop records older than their stream's
  // retention, and deletes closed shards whose close time is past retention. Visibility
  // never waits for this; it only frees space. Returns the first failure, after trying all.
  Status run_maintenance();

 private:
  using StreamState = internal::StreamState;
  struct Snapshot;
  struct PutRecordsCall;

  void put_record_attempt(const PutRecordRequest& req, std::optional<HashKey> hash, int attempt,
                          PutRecordDone done);
  // Routes the call's pending entries and submits them to their shards' writers.
  void put_records_attempt(std::shared_ptr<PutRecordsCall> call);
  // One group of the call's round is back (or, once, all were submitted).
  void put_records_group_done(std::shared_ptr<PutRecordsCall> call);
  void finish_put_records(std::shared_ptr<PutRecordsCall> call);

  StreamService(ShardLogBackend* logs, MetadataStore* metadata, const Clock* clock,
                StreamServiceOptions options);
  Status load();

  // The following REQUIRE mu_ held.
  // The stream after completing a due transition; nullptr when there is none (or it just
  // went away).
  Result<StreamState*> lookup(const StreamKey& key, int64_t now);
  Status advance(StreamState& s, int64_t now);
  // Whether reads and writes of `s` count against the per-shard limits (enforce_limits and
  // a PROVISIONED stream).
  bool throttled(const StreamState& s) const;
  Status advance_all(int64_t now);
  Status complete_create(StreamState& s);
  Status complete_reshard(StreamState& s);
  Status complete_delete(StreamState& s);
  Status persist_stream(const StreamState& s);
  Status open_shard_io(StreamState& s, const std::string& log_name, int32_t index, bool open);
  int32_t open_shards_in(std::string_view account, std::string_view region) const;
  Status check_mutable(const StreamState& s) const;
  Result<StreamState*> begin_update(const StreamKey& key, int64_t now);
  // The stream and, for a consumer resource, the index of its consumer in meta.consumers
  // (-1 for the stream itself); kNotFound when either is missing.
  Result<std::pair<StreamState*, int>> find_resource(const ResourceRef& res, int64_t now);
  // Takes mu_ (unlike its neighbours). Applies `change` to a copy of the resource's metadata
  // and persists it; nothing changes when `change` or persisting fails.
  Status update_resource(const ResourceRef& res,
                         const std::function<Status(internal::StreamMeta&, int)>& change);
  Status schedule(StreamState& s, internal::StreamMeta next, int64_t now, int64_t delay_ms,
                  StreamStatus status);

  ShardLogBackend* const logs_;
  MetadataStore* const metadata_;
  const Clock* const clock_;
  const StreamServiceOptions options_;
  AppendListener append_listener_;  // set once before use
  std::string secret_;              // the HMAC key of iterators and tokens; set once by load()

  // Where shard groups are appended and synced, and put callbacks run.
  std::unique_ptr<boost::asio::thread_pool> writer_threads_;
  std::function<void(std::function<void()>)> schedule_;  // posts to writer_threads_

  std::mutex mu_;
  std::map<StreamKey, std::unique_ptr<StreamState>> streams_;  // GUARDED_BY(mu_)
  bool writes_stopped_ = false;                                // GUARDED_BY(mu_)
  uint64_t next_incarnation_ = 1;                              // GUARDED_BY(mu_)
};

// True for the failures the spec classes as ValidationException rather than
// InvalidArgumentException: reshard calls on ON_DEMAND streams ("Request is invalid. ...")
// and records over the stream's size limit ("1 validation error detected: ...").
bool is_validation_error(const Status& s);

}  // namespace sluice::stream
