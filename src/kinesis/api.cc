#include "kinesis/api.h"

#include "base/await.h"
#include "base/log.h"
#include "kinesis/cbor.h"
#include "kinesis/errors.h"
#include "kinesis/json_writer.h"
#include "kinesis/request_reader.h"
#include "net/aws_request.h"
#include "stream/identifiers.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <optional>
#include <random>
#include <simdjson.h>

namespace sluice::kinesis {

namespace {

using stream::StreamKey;
using Pattern = Validator::Pattern;
using Opt = std::optional<std::string_view>;

constexpr std::string_view kService = "Kinesis_20131202";

// Every operation of the current service model (spec section 9); others are unknown (2.1 row 8).
constexpr std::array<std::string_view, 39> kKnownOperations = {"AddTagsToStream",
                                                               "CreateStream",
                                                               "DecreaseStreamRetentionPeriod",
                                                               "DeleteResourcePolicy",
                                                               "DeleteStream",
                                                               "DeregisterStreamConsumer",
                                                               "DescribeAccountSettings",
                                                               "DescribeLimits",
                                                               "DescribeStream",
                                                               "DescribeStreamConsumer",
                                                               "DescribeStreamSummary",
                                                               "DisableEnhancedMonitoring",
                                                               "EnableEnhancedMonitoring",
                                                               "GetRecords",
                                                               "GetResourcePolicy",
                                                               "GetShardIterator",
                                                               "IncreaseStreamRetentionPeriod",
                                                               "ListShards",
                                                               "ListStreamConsumers",
                                                               "ListStreams",
                                                               "ListTagsForResource",
                                                               "ListTagsForStream",
                                                               "MergeShards",
                                                               "PutRecord",
                                                               "PutRecords",
                                                               "PutResourcePolicy",
                                                               "RegisterStreamConsumer",
                                                               "RemoveTagsFromStream",
                                                               "SplitShard",
                                                               "StartStreamEncryption",
                                                               "StopStreamEncryption",
                                                               "SubscribeToShard",
                                                               "TagResource",
                                                               "UntagResource",
                                                               "UpdateAccountSettings",
                                                               "UpdateMaxRecordSize",
                                                               "UpdateShardCount",
                                                               "UpdateStreamMode",
                                                               "UpdateStreamWarmThroughput"};

constexpr size_t kDefaultMaxRecordBytes = 1048576;

std::string random_request_id() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const uint64_t hi = (rng() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  const uint64_t lo = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff,
                     hi & 0xffff, lo >> 48, lo & 0xffffffffffffULL);
}

std::string random_id2() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::array<std::byte, 72> bytes{};
  for (auto& b : bytes) b = std::byte(rng() & 0xff);
  std::string out;
  append_base64(out, bytes);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

using net::auth_params;
using net::percent_decode;
using net::query_param;

net::Response xml_error(int status, std::string_view type, std::string_view message) {
  net::Response r;
  r.status = status;
  r.content_type = "application/xml";
  r.body = message.empty()
               ? fmt::format("<{}/>\n", type)
               : fmt::format("<{0}>\n  <Message>{1}</Message>\n</{0}>\n", type, message);
  return r;
}

net::Response empty_ok() {
  net::Response r;
  r.status = 200;
  r.content_type = std::string(kJsonContentType);
  return r;
}

net::Response json_ok(std::string body) {
  net::Response r;
  r.status = 200;
  r.content_type = std::string(kJsonContentType);
  r.body = std::move(body);
  return r;
}

net::Response json_ok_with_status(int status, std::string body) {
  net::Response r = json_ok(std::move(body));
  r.status = status;
  return r;
}

net::Response serialization_error(const MemberReader& in) {
  return error_response(400, "SerializationException", in.error(), "Message");
}
net::Response validation_error(const Validator& v) {
  return error_response(400, "ValidationException", v.message());
}

// ---- Stream resolution (spec section 4) ----

// StreamName at its place in the canonical order; `arn_given` decides whether a missing
// name is the "must not be null" clause.
void check_stream_name(Validator& v, Opt name, bool arn_given, bool required = true) {
  if (!name) {
    if (required && !arn_given) v.required("streamName", false);
    return;
  }
  v.string("streamName", name, Pattern::kName, 1, 128);
}
void check_stream_arn(Validator& v, Opt arn) {
  v.string("streamARN", arn, Pattern::kStreamArn, 1, 2048);
}
void check_shard_id(Validator& v, std::string_view path, Opt id, bool required) {
  if (required) v.required(path, id.has_value());
  v.string(path, id, Pattern::kName, 1, 128);
}

Result<StreamKey> resolve(const Identity& id, Opt name, Opt arn) {
  if (arn) {
    std::optional<StreamKey> key = stream::parse_stream_arn(*arn);
    if (!key)
      return Status::invalid_argument(fmt::format("StreamARN {} is not a valid stream ARN.", *arn));
    if (name && *name != key->name) {
      return Status::invalid_argument("StreamARN and StreamName refer to different streams.");
    }
    return *key;
  }
  return StreamKey{id.account, id.region, std::string(name.value_or(""))};
}

// ---- Response pieces ----

void write_mode(JsonWriter& w, stream::StreamMode mode) {
  w.key("StreamModeDetails");
  w.begin_object();
  w.member("StreamMode", stream::stream_mode_name(mode));
  w.end_object();
}

void write_shard(JsonWriter& w, const stream::ShardDescription& s) {
  w.begin_object();
  w.member("ShardId", s.shard_id);
  if (s.parent_shard_id) w.member("ParentShardId", *s.parent_shard_id);
  if (s.adjacent_parent_shard_id) w.member("AdjacentParentShardId", *s.adjacent_parent_shard_id);
  w.key("HashKeyRange");
  w.begin_object();
  w.member("StartingHashKey", stream::format_hash_key(s.hash_key_range.starting));
  w.member("EndingHashKey", stream::format_hash_key(s.hash_key_range.ending));
  w.end_object();
  w.key("SequenceNumberRange");
  w.begin_object();
  w.member("StartingSequenceNumber", s.starting_sequence_number);
  if (s.ending_sequence_number) w.member("EndingSequenceNumber", *s.ending_sequence_number);
  w.end_object();
  w.end_object();
}

void write_description_common(JsonWriter& w, const stream::StreamDescription& d) {
  w.member("StreamName", d.stream.name);
  w.member("StreamARN", d.arn);
  w.member("StreamStatus", stream::stream_status_name(d.status));
  write_mode(w, d.mode);
  w.member_int("RetentionPeriodHours", d.retention_hours);
  w.key("StreamCreationTimestamp");
  w.epoch_seconds(d.creation_timestamp_ms);
  w.key("EnhancedMonitoring");
  w.begin_array();
  w.begin_object();
  w.key("ShardLevelMetrics");
  w.begin_array();
  for (const auto& m : d.shard_level_metrics) w.string(m);
  w.end_array();
  w.end_object();
  w.end_array();
  w.member("EncryptionType", stream::encryption_type_name(d.encryption_type));
  if (d.key_id) w.member("KeyId", *d.key_id);
}

// Renders a map as the service does in validation messages: {k1=v1, k2=v2}.
std::string render_map(const std::vector<std::pair<std::string_view, std::string_view>>& m) {
  std::string out = "{";
  for (size_t i = 0; i < m.size(); ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("{}={}", m[i].first, m[i].second);
  }
  return out + "}";
}

std::string render_list(const std::vector<std::string_view>& l) {
  return fmt::format("[{}]", fmt::join(l, ", "));
}

// Reads a map<string,string> member (Tags). Values that are not strings are coercion errors.
std::optional<std::vector<std::pair<std::string_view, std::string_view>>> read_string_map(
    MemberReader& in, std::string_view name) {
  auto obj = in.map(name);
  if (!obj) return std::nullopt;
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (auto field : *obj) {
    if (field.value.type() == simdjson::dom::element_type::NULL_VALUE) continue;
    auto v = in.string_value(field.value);
    if (!v) return std::nullopt;
    out.emplace_back(field.key, *v);
  }
  return out;
}

// Reads a list<string> member; null elements are skipped, other non-strings are coercion errors.
std::optional<std::vector<std::string_view>> read_string_list(MemberReader& in,
                                                              std::string_view name) {
  auto list = in.list(name);
  if (!list) return std::nullopt;
  std::vector<std::string_view> out;
  for (auto elem : *list) {
    if (elem.type() == simdjson::dom::element_type::NULL_VALUE) continue;
    auto v = in.string_value(elem);
    if (!v) return std::nullopt;
    out.push_back(*v);
  }
  return out;
}

void check_tags(
    Validator& v, std::string_view path,
    const std::optional<std::vector<std::pair<std::string_view, std::string_view>>>& tags,
    size_t min_entries) {
  if (!tags) return;
  const std::string shown = render_map(*tags);
  if (tags->size() < min_entries) {
    v.add(path, shown,
          fmt::format("Member must have length greater than or equal to {}", min_entries));
  }
  if (tags->size() > 50) v.add(path, shown, "Member must have length less than or equal to 50");
  bool bad_key = false;
  bool bad_value = false;
  for (const auto& [k, val] : *tags) {
    const size_t kl = utf16_length(k);
    if (kl < 1 || kl > 128) bad_key = true;
    if (utf16_length(val) > 256) bad_value = true;
  }
  if (bad_key) {
    v.add(path, shown,
          "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
          "Member must have length greater than or equal to 1]");
  }
  if (bad_value) {
    v.add(path, shown,
          "Map value must satisfy constraint: [Member must have length less than or equal to "
          "256, Member must have length greater than or equal to 0]");
  }
}

// ---- Operations ----

// How an answer leaves: called once, from any thread.
using Reply = std::function<void(net::Response)>;

struct Call {
  const Identity& id;
  MemberReader& in;
  stream::StreamService& svc;
  const Reply& reply;  // for the operations that answer later
};

// Answers at once.
using Operation = net::Response (*)(Call&);
// The writes: an answer at once (a refusal), or nullopt when `Call::reply` will get it from
// the shard writers' callback. They keep nothing of the Call past returning.
using AsyncOperation = std::optional<net::Response> (*)(Call&);

#define SLUICE_KINESIS_CHECK_INPUT(c, v)                     \
  do {                                                       \
    if ((c).in.failed()) return serialization_error((c).in); \
    if (!(v).ok()) return validation_error(v);               \
  } while (0)

#define SLUICE_KINESIS_RESOLVE(key, c, name, arn)                        \
  auto key##_result = resolve((c).id, name, arn);                        \
  if (!key##_result.ok()) return status_response(key##_result.status()); \
  const StreamKey key = std::move(key##_result).value()

net::Response create_stream(Call& c) {
  const auto shard_count = c.in.integer("ShardCount");
  const Opt name = c.in.string("StreamName");
  Opt mode;
  bool mode_details = false;
  if (auto details = c.in.structure("StreamModeDetails")) {
    mode_details = true;
    MemberReader m(*details);
    mode = m.string("StreamMode");
    c.in.adopt_error(m);
  }
  const auto tags = read_string_map(c.in, "Tags");
  const auto max_kib = c.in.integer("MaxRecordSizeInKiB");
  Validator v;
  v.int_range("shardCount", shard_count, 1, 100000);
  v.required("streamName", name.has_value());
  v.string("streamName", name, Pattern::kName, 1, 128);
  if (mode_details) {
    v.required("streamModeDetails.streamMode", mode.has_value());
    v.enumeration("streamModeDetails.streamMode", mode, {"PROVISIONED", "ON_DEMAND"});
  }
  check_tags(v, "tags", tags, 0);
  v.int_range("maxRecordSizeInKiB", max_kib, 1024, 10240);
  SLUICE_KINESIS_CHECK_INPUT(c, v);

  stream::CreateStreamRequest req;
  req.stream = StreamKey{c.id.account, c.id.region, std::string(*name)};
  if (shard_count) req.shard_count = static_cast<int32_t>(*shard_count);
  if (mode) req.mode = stream::parse_stream_mode(*mode).value_or(stream::StreamMode::kProvisioned);
  if (tags) {
    for (const auto& [k, val] : *tags) req.tags.emplace(std::string(k), std::string(val));
  }
  if (max_kib) req.max_record_size_kib = static_cast<int32_t>(*max_kib);
  Status s = c.svc.create_stream(req);
  if (!s.ok()) return status_response(s);
  return empty_ok();
}

net::Response delete_stream(Call& c) {
  const Opt name = c.in.string("StreamName");
  const auto enforce = c.in.boolean("EnforceConsumerDeletion");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  Status s = c.svc.delete_stream(key, enforce.value_or(false));
  if (!s.ok()) return status_response(s);
  return empty_ok();
}

net::Response describe_stream(Call& c) {
  const auto limit = c.in.integer("Limit");
  const Opt start = c.in.string("ExclusiveStartShardId");
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  v.int_range("limit", limit, 1, 10000);
  check_shard_id(v, "exclusiveStartShardId", start, false);
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  stream::DescribeStreamRequest req;
  req.stream = key;
  if (limit) req.limit = static_cast<int32_t>(*limit);
  if (start) req.exclusive_start_shard_id = std::string(*start);
  auto d = c.svc.describe_stream(req);
  if (!d.ok()) return status_response(d.status());
  JsonWriter w;
  w.begin_object();
  w.key("StreamDescription");
  w.begin_object();
  write_description_common(w, *d);
  w.key("Shards");
  w.begin_array();
  for (const auto& s : d->shards) write_shard(w, s);
  w.end_array();
  w.member_bool("HasMoreShards", d->has_more_shards);
  w.end_object();
  w.end_object();
  return json_ok(w.take());
}

net::Response describe_stream_summary(Call& c) {
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  auto d = c.svc.describe_stream_summary(key);
  if (!d.ok()) return status_response(d.status());
  JsonWriter w;
  w.begin_object();
  w.key("StreamDescriptionSummary");
  w.begin_object();
  write_description_common(w, *d);
  w.member_int("OpenShardCount", d->open_shard_count);
  w.member_int("ConsumerCount", d->consumer_count);
  if (d->max_record_size_kib != 1024) w.member_int("MaxRecordSizeInKiB", d->max_record_size_kib);
  if (d->warm_throughput_mibps) {
    w.key("WarmThroughput");
    w.begin_object();
    w.member_int("TargetMiBps", *d->warm_throughput_mibps);
    w.member_int("CurrentMiBps", *d->warm_throughput_mibps);
    w.end_object();
  }
  w.end_object();
  w.end_object();
  return json_ok(w.take());
}

net::Response list_streams(Call& c) {
  const auto limit = c.in.integer("Limit");
  const Opt start = c.in.string("ExclusiveStartStreamName");
  const Opt token = c.in.string("NextToken");
  Validator v;
  v.int_range("limit", limit, 1, 10000);
  v.string("exclusiveStartStreamName", start, Pattern::kName, 1, 128);
  v.string("nextToken", token, Pattern::kNone, 1, 1048576);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  stream::ListStreamsRequest req;
  req.account = c.id.account;
  req.region = c.id.region;
  if (limit) req.limit = static_cast<int32_t>(std::min<int64_t>(*limit, 100));
  if (start) req.exclusive_start_stream_name = std::string(*start);
  if (token) req.next_token = std::string(*token);
  auto r = c.svc.list_streams(req);
  if (!r.ok()) return status_response(r.status(), ExpiredMeaning::kNextToken);
  JsonWriter w;
  w.begin_object();
  w.key("StreamNames");
  w.begin_array();
  for (const auto& s : r->streams) w.string(s.name);
  w.end_array();
  w.member_bool("HasMoreStreams", r->has_more_streams);
  w.key("StreamSummaries");
  w.begin_array();
  for (const auto& s : r->streams) {
    w.begin_object();
    w.member("StreamName", s.name);
    w.member("StreamARN", s.arn);
    w.member("StreamStatus", stream::stream_status_name(s.status));
    write_mode(w, s.mode);
    w.key("StreamCreationTimestamp");
    w.epoch_seconds(s.creation_timestamp_ms);
    w.end_object();
  }
  w.end_array();
  if (r->next_token) w.member("NextToken", *r->next_token);
  w.end_object();
  return json_ok(w.take());
}

net::Response list_shards(Call& c) {
  const Opt start = c.in.string("ExclusiveStartShardId");
  const auto max_results = c.in.integer("MaxResults");
  const Opt token = c.in.string("NextToken");
  const auto created = c.in.timestamp("StreamCreationTimestamp");
  const Opt name = c.in.string("StreamName");
  bool has_filter = false;
  Opt filter_type;
  Opt filter_shard;
  std::optional<double> filter_ts;
  if (auto f = c.in.structure("ShardFilter")) {
    has_filter = true;
    MemberReader m(*f);
    filter_type = m.string("Type");
    filter_shard = m.string("ShardId");
    filter_ts = m.timestamp("Timestamp");
    c.in.adopt_error(m);
  }
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  check_shard_id(v, "exclusiveStartShardId", start, false);
  v.int_range("maxResults", max_results, 1, 10000);
  v.string("nextToken", token, Pattern::kNone, 1, 1048576);
  check_stream_name(v, name, arn.has_value(), /*required=*/false);
  if (has_filter) {
    v.required("shardFilter.type", filter_type.has_value());
    v.enumeration("shardFilter.type", filter_type,
                  {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST",
                   "AT_TIMESTAMP", "FROM_TIMESTAMP"});
    check_shard_id(v, "shardFilter.shardId", filter_shard, false);
  }
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  stream::ListShardsRequest req;
  if (name || arn) {
    SLUICE_KINESIS_RESOLVE(key, c, name, arn);
    req.stream = key;
  }
  if (token) req.next_token = std::string(*token);
  if (start) req.exclusive_start_shard_id = std::string(*start);
  if (max_results) req.max_results = static_cast<int32_t>(*max_results);
  if (created)
    req.stream_creation_timestamp_ms = static_cast<int64_t>(std::llround(*created * 1000.0));
  if (has_filter) {
    stream::ShardFilter f;
    f.type = stream::parse_shard_filter_type(*filter_type)
                 .value_or(stream::ShardFilterType::kFromTrimHorizon);
    if (filter_shard) f.shard_id = std::string(*filter_shard);
    if (filter_ts) f.timestamp_ms = static_cast<int64_t>(std::llround(*filter_ts * 1000.0));
    req.filter = f;
  }
  auto r = c.svc.list_shards(req);
  if (!r.ok()) return status_response(r.status(), ExpiredMeaning::kNextToken);
  JsonWriter w;
  w.begin_object();
  w.key("Shards");
  w.begin_array();
  for (const auto& s : r->shards) write_shard(w, s);
  w.end_array();
  if (r->next_token) w.member("NextToken", *r->next_token);
  w.end_object();
  return json_ok(w.take());
}

size_t max_record_bytes(Call& c, Opt name, Opt arn) {
  if (!name && !arn) return kDefaultMaxRecordBytes;
  auto key = resolve(c.id, name, arn);
  if (!key.ok()) return kDefaultMaxRecordBytes;
  return c.svc.max_record_bytes(*key).value_or(kDefaultMaxRecordBytes);
}

std::optional<net::Response> put_record(Call& c) {
  // The request as the stream layer borrows it until its callback, with what it views.
  struct Owned {
    std::string data;
    std::string partition_key;
    std::optional<std::string> explicit_hash_key;
    std::optional<std::string> sequence_number_for_ordering;
    stream::PutRecordRequest req;
  };
  auto o = std::make_shared<Owned>();
  const Opt seq = c.in.string("SequenceNumberForOrdering");
  const Opt pkey = c.in.string("PartitionKey");
  const Opt ehk = c.in.string("ExplicitHashKey");
  const Opt data = c.in.blob("Data", o->data);  // a view of o->data
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  if (c.in.failed()) return serialization_error(c.in);
  Validator v;
  v.string("sequenceNumberForOrdering", seq, Pattern::kSequenceNumber, std::nullopt, std::nullopt);
  v.required("partitionKey", pkey.has_value());
  v.string("partitionKey", pkey, Pattern::kNone, 1, 256);
  v.string("explicitHashKey", ehk, Pattern::kHashKey, std::nullopt, std::nullopt);
  v.required("data", data.has_value());
  v.blob_max("data", data ? std::optional<size_t>(data->size()) : std::nullopt,
             max_record_bytes(c, name, arn));
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  o->partition_key = *pkey;
  if (ehk) o->explicit_hash_key.emplace(*ehk);
  if (seq) o->sequence_number_for_ordering.emplace(*seq);
  stream::PutRecordRequest& req = o->req;
  req.stream = key;
  req.partition_key = o->partition_key;
  req.data = as_bytes(o->data);
  req.explicit_hash_key = o->explicit_hash_key;
  req.sequence_number_for_ordering = o->sequence_number_for_ordering;
  c.svc.put_record(req, [o, reply = c.reply](Result<stream::PutRecordResult> r) {
    if (!r.ok()) {
      reply(status_response(r.status()));
      return;
    }
    JsonWriter w;
    w.begin_object();
    w.member("ShardId", r->shard_id);
    w.member("SequenceNumber", r->sequence_number);
    w.member("EncryptionType", stream::encryption_type_name(r->encryption_type));
    w.end_object();
    reply(json_ok(w.take()));
  });
  return std::nullopt;
}

net::Response put_records_response(const stream::PutRecordsResult& r) {
  JsonWriter w;
  w.reserve(r.records.size() * 128);
  w.begin_object();
  w.member_int("FailedRecordCount", r.failed_record_count);
  w.key("Records");
  w.begin_array();
  // A written entry goes out as one raw object, the bytes member() would write: its sequence
  // number is decimal digits and its shard id "shardId-" and digits, so neither needs
  // escaping. Shard ids are rendered once per shard (a request reaches a handful).
  std::vector<std::pair<int32_t, std::string>> shard_ids;
  size_t last = 0;  // the shard_ids entry of the previous written entry
  std::string object;
  for (const auto& e : r.records) {
    if (!e.ok()) {
      const stream::PutRecordsFailure& f = r.failures[static_cast<size_t>(e.failure)];
      w.begin_object();
      w.member("ErrorCode", f.error_code);
      w.member("ErrorMessage", f.error_message);
      w.end_object();
      continue;
    }
    if (last >= shard_ids.size() || shard_ids[last].first != e.shard_index) {
      last = 0;
      while (last < shard_ids.size() && shard_ids[last].first != e.shard_index) ++last;
      if (last == shard_ids.size()) {
        shard_ids.emplace_back(e.shard_index, stream::format_shard_id(e.shard_index));
      }
    }
    object.assign(R"({"SequenceNumber":")");
    object.append(e.sequence_number.view());
    object.append(R"(","ShardId":")");
    object.append(shard_ids[last].second);
    object.append(R"("})");
    w.raw(object);
  }
  w.end_array();
  w.member("EncryptionType", stream::encryption_type_name(r.encryption_type));
  w.end_object();
  return json_ok(w.take());
}

std::optional<net::Response> put_records(Call& c) {
  constexpr std::string_view kEntryClass =
      "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310";
  struct Entry {
    Opt partition_key;
    Opt explicit_hash_key;
    std::optional<size_t> data_size;  // the decoded data is Owned::data[data_at, +data_size)
    size_t data_at = 0;
    bool null = false;
  };
  // The request as the stream layer borrows it until its callback, with what it views.
  struct Owned {
    std::string data;  // every entry's decoded data, back to back: one buffer, not one each
    std::string keys;  // partition and explicit hash keys, back to back
    std::vector<stream::PutRecordsEntry> records;
    stream::PutRecordsRequest req;
  };
  auto o = std::make_shared<Owned>();
  std::vector<Entry> entries;
  auto list = c.in.list("Records");
  if (list) {
    const size_t n = list->size();
    entries.resize(n);
    size_t i = 0;
    for (auto elem : *list) {
      Entry& e = entries[i];
      if (elem.type() == simdjson::dom::element_type::NULL_VALUE) {
        e.null = true;
      } else if (auto obj = c.in.structure_value(elem)) {
        MemberReader m(*obj);
        // Offsets, not views: `o->data` may move while it grows.
        e.data_at = o->data.size();
        e.data_size = m.blob_append("Data", o->data);
        e.explicit_hash_key = m.string("ExplicitHashKey");
        e.partition_key = m.string("PartitionKey");
        c.in.adopt_error(m);
      }
      if (c.in.failed()) break;
      ++i;
    }
  }
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  if (c.in.failed()) return serialization_error(c.in);
  Validator v;
  v.required("records", list.has_value());
  if (list) {
    if (entries.empty() || entries.size() > 500) {
      std::vector<std::string_view> shown(entries.size(), kEntryClass);
      const std::string rendered = render_list(shown);
      if (entries.empty())
        v.add("records", rendered, "Member must have length greater than or equal to 1");
      if (entries.size() > 500)
        v.add("records", rendered, "Member must have length less than or equal to 500");
    }
    const size_t max_bytes = max_record_bytes(c, name, arn);
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      if (e.null) continue;
      // The common case without building the paths below: a key of 1-256 bytes is 1-256
      // UTF-16 units, so it satisfies every rule the slow path checks.
      if (e.partition_key && !e.partition_key->empty() && e.partition_key->size() <= 256 &&
          (!e.explicit_hash_key || matches_hash_key(*e.explicit_hash_key)) && e.data_size &&
          *e.data_size <= max_bytes) {
        continue;
      }
      const std::string p = fmt::format("records.{}.member.", i + 1);
      v.required(p + "partitionKey", e.partition_key.has_value());
      v.string(p + "partitionKey", e.partition_key, Pattern::kNone, 1, 256);
      v.string(p + "explicitHashKey", e.explicit_hash_key, Pattern::kHashKey, std::nullopt,
               std::nullopt);
      v.required(p + "data", e.data_size.has_value());
      v.blob_max(p + "data", e.data_size, max_bytes);
    }
  }
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  size_t key_bytes = 0;
  for (const Entry& e : entries) {
    if (e.null) {
      return error_response(400, "ValidationException",
                            "1 validation error detected: Value null at 'records' failed to "
                            "satisfy constraint: Member must not contain null elements");
    }
    key_bytes += e.partition_key->size() + (e.explicit_hash_key ? e.explicit_hash_key->size() : 0);
  }
  o->keys.reserve(key_bytes);  // never grows past this: the views below stay put
  auto keep = [&](std::string_view text) {
    o->keys.append(text);
    return std::string_view(o->keys).substr(o->keys.size() - text.size());
  };
  std::vector<stream::PutRecordsEntry>& records = o->records;
  records.reserve(entries.size());
  const ByteView data = as_bytes(o->data);  // complete: it no longer moves
  for (const Entry& e : entries) {
    std::optional<std::string_view> ehk;
    if (e.explicit_hash_key) ehk = keep(*e.explicit_hash_key);
    records.push_back({keep(*e.partition_key), data.subspan(e.data_at, *e.data_size), ehk});
  }
  o->req.stream = key;
  o->req.records = records;
  c.svc.put_records(o->req, [o, reply = c.reply](Result<stream::PutRecordsResult> r) {
    if (!r.ok()) {
      reply(status_response(r.status()));
      return;
    }
    reply(put_records_response(*r));
  });
  return std::nullopt;
}

net::Response get_shard_iterator(Call& c) {
  const Opt shard = c.in.string("ShardId");
  const Opt type = c.in.string("ShardIteratorType");
  const Opt seq = c.in.string("StartingSequenceNumber");
  const Opt name = c.in.string("StreamName");
  const auto ts = c.in.timestamp("Timestamp");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  check_shard_id(v, "shardId", shard, true);
  v.required("shardIteratorType", type.has_value());
  v.enumeration(
      "shardIteratorType", type,
      {"AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"});
  v.string("startingSequenceNumber", seq, Pattern::kSequenceNumber, std::nullopt, std::nullopt);
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  stream::GetShardIteratorRequest req;
  req.stream = key;
  req.shard_id = std::string(*shard);
  req.type = *stream::parse_iterator_type(*type);
  if (seq) req.starting_sequence_number = std::string(*seq);
  if (ts) req.timestamp_ms = *ts * 1000.0;
  auto r = c.svc.get_shard_iterator(req);
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.member("ShardIterator", *r);
  w.end_object();
  return json_ok(w.take());
}

net::Response get_records(Call& c) {
  const auto limit = c.in.integer("Limit");
  const Opt iterator = c.in.string("ShardIterator");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  v.int_range("limit", limit, 1, 10000);
  v.required("shardIterator", iterator.has_value());
  v.string("shardIterator", iterator, Pattern::kNone, 1, 512);
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  stream::GetRecordsRequest req;
  req.shard_iterator = *iterator;
  if (limit) req.limit = static_cast<int32_t>(*limit);
  req.stream_arn = arn;
  auto r = c.svc.get_records(req);
  if (!r.ok()) return status_response(r.status(), ExpiredMeaning::kIterator);
  const std::string_view encryption = stream::encryption_type_name(r->encryption_type);
  JsonWriter w;
  size_t estimate = 256;
  for (const auto& rec : r->records) {
    estimate += (rec.data.size() + 2) / 3 * 4 + rec.partition_key.size() + 192;
  }
  w.reserve(estimate);
  w.begin_object();
  w.key("Records");
  w.begin_array();
  for (const auto& rec : r->records) {
    w.begin_object();
    w.member("SequenceNumber", rec.sequence_number.str());
    w.key("ApproximateArrivalTimestamp");
    w.epoch_seconds_millis(rec.arrival_ms);
    w.key("Data");
    w.base64(rec.data);
    w.member("PartitionKey", rec.partition_key);
    w.member("EncryptionType", encryption);
    w.end_object();
  }
  w.end_array();
  if (r->next_shard_iterator) w.member("NextShardIterator", *r->next_shard_iterator);
  w.member_int("MillisBehindLatest", r->millis_behind_latest);
  if (!r->child_shards.empty()) {
    w.key("ChildShards");
    w.begin_array();
    for (const auto& child : r->child_shards) {
      w.begin_object();
      w.member("ShardId", child.shard_id);
      w.key("ParentShards");
      w.begin_array();
      for (const auto& p : child.parent_shards) w.string(p);
      w.end_array();
      w.key("HashKeyRange");
      w.begin_object();
      w.member("StartingHashKey", stream::format_hash_key(child.hash_key_range.starting));
      w.member("EndingHashKey", stream::format_hash_key(child.hash_key_range.ending));
      w.end_object();
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
  return json_ok(w.take());
}

net::Response split_shard(Call& c) {
  const Opt hash = c.in.string("NewStartingHashKey");
  const Opt name = c.in.string("StreamName");
  const Opt shard = c.in.string("ShardToSplit");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  v.required("newStartingHashKey", hash.has_value());
  v.string("newStartingHashKey", hash, Pattern::kHashKey, std::nullopt, std::nullopt);
  check_stream_name(v, name, arn.has_value());
  check_shard_id(v, "shardToSplit", shard, true);
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  Status s = c.svc.split_shard(key, *shard, *hash);
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response merge_shards(Call& c) {
  const Opt first = c.in.string("ShardToMerge");
  const Opt second = c.in.string("AdjacentShardToMerge");
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  check_shard_id(v, "shardToMerge", first, true);
  check_shard_id(v, "adjacentShardToMerge", second, true);
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  Status s = c.svc.merge_shards(key, *first, *second);
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response update_shard_count(Call& c) {
  const Opt name = c.in.string("StreamName");
  const auto target = c.in.integer("TargetShardCount");
  const Opt scaling = c.in.string("ScalingType");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  check_stream_name(v, name, arn.has_value());
  v.required("targetShardCount", target.has_value());
  v.int_range("targetShardCount", target, 1, std::nullopt);
  v.required("scalingType", scaling.has_value());
  v.enumeration("scalingType", scaling, {"UNIFORM_SCALING"});
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  auto r = c.svc.update_shard_count(key, static_cast<int32_t>(*target));
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.member("StreamName", r->stream_name);
  w.member("StreamARN", r->stream_arn);
  w.member_int("CurrentShardCount", r->current_shard_count);
  w.member_int("TargetShardCount", r->target_shard_count);
  w.end_object();
  return json_ok(w.take());
}

// Spec 9.14: StreamARN is the only way to name the stream here.
net::Response update_stream_mode(Call& c) {
  const Opt arn = c.in.string("StreamARN");
  Opt mode;
  bool mode_details = false;
  if (auto details = c.in.structure("StreamModeDetails")) {
    mode_details = true;
    MemberReader m(*details);
    mode = m.string("StreamMode");
    c.in.adopt_error(m);
  }
  const auto warm = c.in.integer("WarmThroughputMiBps");
  Validator v;
  v.required("streamARN", arn.has_value());
  check_stream_arn(v, arn);
  v.required("streamModeDetails", mode_details);
  if (mode_details) {
    v.required("streamModeDetails.streamMode", mode.has_value());
    v.enumeration("streamModeDetails.streamMode", mode, {"PROVISIONED", "ON_DEMAND"});
  }
  v.int_range("warmThroughputMiBps", warm, 0, std::nullopt);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, std::nullopt, arn);
  const auto parsed = stream::parse_stream_mode(*mode);
  Status s = c.svc.update_stream_mode(key, parsed.value_or(stream::StreamMode::kProvisioned));
  if (!s.ok()) return status_response(s);
  return empty_ok();
}

// Spec 9.25.
net::Response update_max_record_size(Call& c) {
  const Opt arn = c.in.string("StreamARN");
  const auto kib = c.in.integer("MaxRecordSizeInKiB");
  Validator v;
  check_stream_arn(v, arn);
  v.required("maxRecordSizeInKiB", kib.has_value());
  v.int_range("maxRecordSizeInKiB", kib, 1024, 10240);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  if (!arn) {
    return status_response(Status::invalid_argument("StreamARN is required."));
  }
  SLUICE_KINESIS_RESOLVE(key, c, std::nullopt, arn);
  Status s = c.svc.update_max_record_size(key, static_cast<int32_t>(*kib));
  if (!s.ok()) return status_response(s);
  return empty_ok();
}

net::Response update_stream_warm_throughput(Call& c) {
  const Opt arn = c.in.string("StreamARN");
  const Opt name = c.in.string("StreamName");
  const auto mibps = c.in.integer("WarmThroughputMiBps");
  Validator v;
  check_stream_arn(v, arn);
  check_stream_name(v, name, arn.has_value());
  v.required("warmThroughputMiBps", mibps.has_value());
  v.int_range("warmThroughputMiBps", mibps, 0, std::nullopt);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  auto r = c.svc.update_stream_warm_throughput(key, static_cast<int32_t>(*mibps));
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.member("StreamARN", r->stream_arn);
  w.member("StreamName", r->stream_name);
  w.key("WarmThroughput");
  w.begin_object();
  w.member_int("TargetMiBps", r->target_mibps);
  w.member_int("CurrentMiBps", r->current_mibps);
  w.end_object();
  w.end_object();
  return json_ok(w.take());
}

template <bool kIncrease>
net::Response change_retention(Call& c) {
  const auto hours = c.in.integer("RetentionPeriodHours");
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  v.required("retentionPeriodHours", hours.has_value());
  v.int_range("retentionPeriodHours", hours, 1, std::nullopt);
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  const auto h = static_cast<int32_t>(*hours);
  Status s =
      kIncrease ? c.svc.increase_retention_period(key, h) : c.svc.decrease_retention_period(key, h);
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response add_tags(Call& c) {
  const auto tags = read_string_map(c.in, "Tags");
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  v.required("tags", tags.has_value());
  check_tags(v, "tags", tags, 1);
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  std::map<std::string, std::string> m;
  for (const auto& [k, val] : *tags) m[std::string(k)] = std::string(val);
  Status s = c.svc.add_tags(key, m);
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response remove_tags(Call& c) {
  std::optional<std::vector<std::string_view>> keys;
  if (auto list = c.in.list("TagKeys")) {
    keys.emplace();
    for (auto elem : *list) {
      if (elem.type() == simdjson::dom::element_type::NULL_VALUE) continue;
      auto k = c.in.string_value(elem);
      if (!k) break;
      keys->push_back(*k);
    }
  }
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  v.required("tagKeys", keys.has_value());
  if (keys) {
    const std::string shown = render_list(*keys);
    if (keys->empty())
      v.add("tagKeys", shown, "Member must have length greater than or equal to 1");
    if (keys->size() > 50)
      v.add("tagKeys", shown, "Member must have length less than or equal to 50");
    if (std::any_of(keys->begin(), keys->end(), [](std::string_view k) {
          return utf16_length(k) < 1 || utf16_length(k) > 128;
        })) {
      v.add("tagKeys", shown,
            "Member must satisfy constraint: [Member must have length less than or equal to 128, "
            "Member must have length greater than or equal to 1]");
    }
  }
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  std::vector<std::string> ks(keys->begin(), keys->end());
  Status s = c.svc.remove_tags(key, ks);
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response list_tags(Call& c) {
  const auto limit = c.in.integer("Limit");
  const Opt start = c.in.string("ExclusiveStartTagKey");
  const Opt name = c.in.string("StreamName");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  v.int_range("limit", limit, 1, 50);
  v.string("exclusiveStartTagKey", start, Pattern::kNone, 1, 128);
  check_stream_name(v, name, arn.has_value());
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  stream::ListTagsRequest req;
  req.stream = key;
  if (start) req.exclusive_start_tag_key = std::string(*start);
  if (limit) req.limit = static_cast<int32_t>(*limit);
  auto r = c.svc.list_tags(req);
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.key("Tags");
  w.begin_array();
  for (const auto& [k, val] : r->tags) {
    w.begin_object();
    w.member("Key", k);
    w.member("Value", val);
    w.end_object();
  }
  w.end_array();
  w.member_bool("HasMoreTags", r->has_more_tags);
  w.end_object();
  return json_ok(w.take());
}

net::Response describe_limits(Call& c) {
  if (c.in.failed()) return serialization_error(c.in);
  auto r = c.svc.describe_limits(c.id.account, c.id.region);
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.member_int("ShardLimit", r->shard_limit);
  w.member_int("OpenShardCount", r->open_shard_count);
  w.member_int("OnDemandStreamCount", r->on_demand_stream_count);
  w.member_int("OnDemandStreamCountLimit", r->on_demand_stream_count_limit);
  w.end_object();
  return json_ok(w.take());
}

// ---- Enhanced fan-out consumers (spec 9.22) ----

void write_consumer(JsonWriter& w, const stream::ConsumerDescription& d, bool with_stream_arn) {
  w.begin_object();
  w.member("ConsumerName", d.name);
  w.member("ConsumerARN", d.arn);
  w.member("ConsumerStatus", stream::consumer_status_name(d.status));
  w.key("ConsumerCreationTimestamp");
  w.epoch_seconds(d.creation_timestamp_ms);
  if (with_stream_arn) w.member("StreamARN", d.stream_arn);
  w.end_object();
}

Result<StreamKey> parse_stream_arn_member(Opt arn) {
  std::optional<StreamKey> key = stream::parse_stream_arn(*arn);
  if (!key) {
    return Status::invalid_argument(fmt::format("StreamARN {} is not a valid stream ARN.", *arn));
  }
  return *key;
}

// The consumer that ConsumerARN, or StreamARN + ConsumerName, name (all three may be given
// if they agree).
Result<stream::ConsumerRef> resolve_consumer(Opt stream_arn, Opt name, Opt consumer_arn) {
  std::optional<StreamKey> stream;
  if (stream_arn) {
    SLUICE_ASSIGN_OR_RETURN(StreamKey k, parse_stream_arn_member(stream_arn));
    stream = std::move(k);
  }
  if (consumer_arn) {
    std::optional<stream::ConsumerArn> parsed = stream::parse_consumer_arn(*consumer_arn);
    if (!parsed) {
      return Status::invalid_argument(
          fmt::format("ConsumerARN {} is not a valid consumer ARN.", *consumer_arn));
    }
    if ((stream && *stream != parsed->stream) || (name && *name != parsed->consumer_name)) {
      return Status::invalid_argument(
          "ConsumerARN does not match the StreamARN and ConsumerName given with it.");
    }
    return stream::ConsumerRef{parsed->stream, parsed->consumer_name, parsed->creation_s};
  }
  if (!stream || !name) {
    return Status::invalid_argument(
        "Either ConsumerARN or both StreamARN and ConsumerName must be provided.");
  }
  return stream::ConsumerRef{*stream, std::string(*name), std::nullopt};
}

net::Response register_stream_consumer(Call& c) {
  const Opt arn = c.in.string("StreamARN");
  const Opt name = c.in.string("ConsumerName");
  const auto tags = read_string_map(c.in, "Tags");
  Validator v;
  v.required("streamARN", arn.has_value());
  check_stream_arn(v, arn);
  v.required("consumerName", name.has_value());
  v.string("consumerName", name, Pattern::kName, 1, 128);
  check_tags(v, "tags", tags, 0);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  auto key = parse_stream_arn_member(arn);
  if (!key.ok()) return status_response(key.status());
  auto r = c.svc.register_stream_consumer(*key, *name);
  if (!r.ok()) return status_response(r.status());
  if (tags && !tags->empty()) {
    std::map<std::string, std::string> m;
    for (const auto& [k, val] : *tags) m[std::string(k)] = std::string(val);
    Status s = c.svc.tag_resource({*key, stream::ConsumerRef{*key, r->name, std::nullopt}}, m);
    if (!s.ok()) {
      // Registration and tags are not one change: take the consumer back.
      (void)c.svc.deregister_stream_consumer(stream::ConsumerRef{*key, r->name, std::nullopt});
      return status_response(s);
    }
  }
  JsonWriter w;
  w.begin_object();
  w.key("Consumer");
  write_consumer(w, *r, /*with_stream_arn=*/false);
  w.end_object();
  return json_ok(w.take());
}

// DescribeStreamConsumer and DeregisterStreamConsumer share their input shape.
struct ConsumerInput {
  Opt stream_arn;
  Opt name;
  Opt consumer_arn;
};

std::optional<net::Response> read_consumer_input(Call& c, ConsumerInput& in) {
  in.stream_arn = c.in.string("StreamARN");
  in.name = c.in.string("ConsumerName");
  in.consumer_arn = c.in.string("ConsumerARN");
  Validator v;
  check_stream_arn(v, in.stream_arn);
  v.string("consumerName", in.name, Pattern::kName, 1, 128);
  v.string("consumerARN", in.consumer_arn, Pattern::kConsumerArn, 1, 2048);
  if (c.in.failed()) return serialization_error(c.in);
  if (!v.ok()) return validation_error(v);
  return std::nullopt;
}

net::Response describe_stream_consumer(Call& c) {
  ConsumerInput in;
  if (auto failed = read_consumer_input(c, in)) return std::move(*failed);
  auto ref = resolve_consumer(in.stream_arn, in.name, in.consumer_arn);
  if (!ref.ok()) return status_response(ref.status());
  auto r = c.svc.describe_stream_consumer(*ref);
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.key("ConsumerDescription");
  write_consumer(w, *r, /*with_stream_arn=*/true);
  w.end_object();
  return json_ok(w.take());
}

net::Response deregister_stream_consumer(Call& c) {
  ConsumerInput in;
  if (auto failed = read_consumer_input(c, in)) return std::move(*failed);
  auto ref = resolve_consumer(in.stream_arn, in.name, in.consumer_arn);
  if (!ref.ok()) return status_response(ref.status());
  Status s = c.svc.deregister_stream_consumer(*ref);
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response list_stream_consumers(Call& c) {
  const Opt arn = c.in.string("StreamARN");
  const Opt token = c.in.string("NextToken");
  const auto max_results = c.in.integer("MaxResults");
  const auto created = c.in.timestamp("StreamCreationTimestamp");
  Validator v;
  v.required("streamARN", arn.has_value());
  check_stream_arn(v, arn);
  v.string("nextToken", token, Pattern::kNone, 1, 1048576);
  v.int_range("maxResults", max_results, 1, 10000);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  auto key = parse_stream_arn_member(arn);
  if (!key.ok()) return status_response(key.status());
  stream::ListConsumersRequest req;
  req.stream = *key;
  if (max_results) req.max_results = static_cast<int32_t>(*max_results);
  if (token) req.next_token = std::string(*token);
  if (created) {  // clamped: a double beyond int64 does not convert (found by CBOR fuzzing)
    req.stream_creation_timestamp_ms =
        static_cast<int64_t>(std::clamp(std::floor(*created * 1000), -9.2e18, 9.2e18));
  }
  auto r = c.svc.list_stream_consumers(req);
  if (!r.ok()) return status_response(r.status(), ExpiredMeaning::kNextToken);
  JsonWriter w;
  w.begin_object();
  w.key("Consumers");
  w.begin_array();
  for (const auto& d : r->consumers) write_consumer(w, d, /*with_stream_arn=*/false);
  w.end_array();
  if (r->next_token) w.member("NextToken", *r->next_token);
  w.end_object();
  return json_ok(w.take());
}

// ---- Tags and policies by resource ARN (spec 9.17, 9.24) ----

void check_resource_arn(Validator& v, Opt arn) {
  v.required("resourceARN", arn.has_value());
  v.string("resourceARN", arn, Pattern::kResourceArn, 1, 2048);
}

// A consumer ARN names that consumer; otherwise the ARN must be a stream ARN.
Result<stream::ResourceRef> resolve_resource(std::string_view arn) {
  if (auto consumer = stream::parse_consumer_arn(arn)) {
    return stream::ResourceRef{
        consumer->stream,
        stream::ConsumerRef{consumer->stream, consumer->consumer_name, consumer->creation_s}};
  }
  if (auto key = stream::parse_stream_arn(arn)) return stream::ResourceRef{*key, std::nullopt};
  return Status::invalid_argument(
      fmt::format("ResourceARN {} is not a stream or consumer ARN.", arn));
}

#define SLUICE_KINESIS_RESOLVE_RESOURCE(res, arn)                        \
  auto res##_result = resolve_resource(*(arn));                          \
  if (!res##_result.ok()) return status_response(res##_result.status()); \
  const stream::ResourceRef res = std::move(res##_result).value()

// TagKeys of UntagResource / RemoveTagsFromStream: nullopt when absent.
std::optional<std::vector<std::string_view>> read_tag_keys(MemberReader& in) {
  std::optional<std::vector<std::string_view>> keys;
  if (auto list = in.list("TagKeys")) {
    keys.emplace();
    for (auto elem : *list) {
      if (elem.type() == simdjson::dom::element_type::NULL_VALUE) continue;
      auto k = in.string_value(elem);
      if (!k) break;
      keys->push_back(*k);
    }
  }
  return keys;
}

void check_tag_keys(Validator& v, const std::optional<std::vector<std::string_view>>& keys) {
  v.required("tagKeys", keys.has_value());
  if (!keys) return;
  const std::string shown = render_list(*keys);
  if (keys->empty()) v.add("tagKeys", shown, "Member must have length greater than or equal to 1");
  if (keys->size() > 50)
    v.add("tagKeys", shown, "Member must have length less than or equal to 50");
  if (std::any_of(keys->begin(), keys->end(), [](std::string_view k) {
        return utf16_length(k) < 1 || utf16_length(k) > 128;
      })) {
    v.add("tagKeys", shown,
          "Member must satisfy constraint: [Member must have length less than or equal to 128, "
          "Member must have length greater than or equal to 1]");
  }
}

net::Response tag_resource(Call& c) {
  const auto tags = read_string_map(c.in, "Tags");
  const Opt arn = c.in.string("ResourceARN");
  Validator v;
  v.required("tags", tags.has_value());
  check_tags(v, "tags", tags, 1);
  check_resource_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE_RESOURCE(res, arn);
  std::map<std::string, std::string> m;
  for (const auto& [k, val] : *tags) m[std::string(k)] = std::string(val);
  Status s = c.svc.tag_resource(res, m);
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response untag_resource(Call& c) {
  const auto keys = read_tag_keys(c.in);
  const Opt arn = c.in.string("ResourceARN");
  Validator v;
  check_tag_keys(v, keys);
  check_resource_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE_RESOURCE(res, arn);
  Status s = c.svc.untag_resource(res, std::vector<std::string>(keys->begin(), keys->end()));
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response list_tags_for_resource(Call& c) {
  const Opt arn = c.in.string("ResourceARN");
  Validator v;
  check_resource_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE_RESOURCE(res, arn);
  auto r = c.svc.list_tags_for_resource(res);
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.key("Tags");
  w.begin_array();
  for (const auto& [k, val] : *r) {
    w.begin_object();
    w.member("Key", k);
    w.member("Value", val);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return json_ok(w.take());
}

net::Response put_resource_policy(Call& c) {
  const Opt arn = c.in.string("ResourceARN");
  const Opt policy = c.in.string("Policy");
  Validator v;
  check_resource_arn(v, arn);
  v.required("policy", policy.has_value());
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE_RESOURCE(res, arn);
  // Spec 9.24: the policy must be a JSON object; it is stored verbatim.
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(policy->data(), policy->size()).get(object) != simdjson::SUCCESS) {
    return status_response(Status::invalid_argument("The policy is not a valid JSON object."));
  }
  Status s = c.svc.put_resource_policy(res, std::string(*policy));
  return s.ok() ? empty_ok() : status_response(s);
}

net::Response get_resource_policy(Call& c) {
  const Opt arn = c.in.string("ResourceARN");
  Validator v;
  check_resource_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE_RESOURCE(res, arn);
  auto r = c.svc.get_resource_policy(res);
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.member("Policy", r->value_or("{}"));
  w.end_object();
  return json_ok(w.take());
}

net::Response delete_resource_policy(Call& c) {
  const Opt arn = c.in.string("ResourceARN");
  Validator v;
  check_resource_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE_RESOURCE(res, arn);
  Status s = c.svc.delete_resource_policy(res);
  return s.ok() ? empty_ok() : status_response(s);
}

// ---- Encryption and enhanced monitoring (spec 9.18, 9.19) ----

template <bool kStart>
net::Response change_encryption(Call& c) {
  const Opt name = c.in.string("StreamName");
  const Opt type = c.in.string("EncryptionType");
  const Opt key_id = c.in.string("KeyId");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  check_stream_name(v, name, arn.has_value());
  v.required("encryptionType", type.has_value());
  v.enumeration("encryptionType", type, {"NONE", "KMS"});
  v.required("keyId", key_id.has_value());
  v.string("keyId", key_id, Pattern::kNone, 1, 2048);
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  Status s;
  if constexpr (kStart) {
    s = c.svc.start_encryption(
        key, stream::parse_encryption_type(*type).value_or(stream::EncryptionType::kNone),
        std::string(*key_id));
  } else {
    if (*type != "KMS") {
      return status_response(
          Status::invalid_argument("StopStreamEncryption requires EncryptionType KMS."));
    }
    s = c.svc.stop_encryption(key);
  }
  return s.ok() ? empty_ok() : status_response(s);
}

constexpr std::array<std::string_view, 8> kMetricNames = {"IncomingBytes",
                                                          "IncomingRecords",
                                                          "OutgoingBytes",
                                                          "OutgoingRecords",
                                                          "WriteProvisionedThroughputExceeded",
                                                          "ReadProvisionedThroughputExceeded",
                                                          "IteratorAgeMilliseconds",
                                                          "ALL"};

template <bool kEnable>
net::Response change_monitoring(Call& c) {
  const Opt name = c.in.string("StreamName");
  const auto metrics = read_string_list(c.in, "ShardLevelMetrics");
  const Opt arn = c.in.string("StreamARN");
  Validator v;
  check_stream_name(v, name, arn.has_value());
  v.required("shardLevelMetrics", metrics.has_value());
  if (metrics) {
    const std::string shown = render_list(*metrics);
    if (metrics->empty()) {
      v.add("shardLevelMetrics", shown, "Member must have length greater than or equal to 1");
    }
    if (metrics->size() > 7) {
      v.add("shardLevelMetrics", shown, "Member must have length less than or equal to 7");
    }
    if (std::any_of(metrics->begin(), metrics->end(), [](std::string_view m) {
          return std::find(kMetricNames.begin(), kMetricNames.end(), m) == kMetricNames.end();
        })) {
      v.add("shardLevelMetrics", shown,
            fmt::format("Member must satisfy constraint: [Member must satisfy enum value set: "
                        "[{}]]",
                        fmt::join(kMetricNames, ", ")));
    }
  }
  check_stream_arn(v, arn);
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  SLUICE_KINESIS_RESOLVE(key, c, name, arn);
  const std::vector<std::string> wanted(metrics->begin(), metrics->end());
  auto r = kEnable ? c.svc.enable_enhanced_monitoring(key, wanted)
                   : c.svc.disable_enhanced_monitoring(key, wanted);
  if (!r.ok()) return status_response(r.status());
  JsonWriter w;
  w.begin_object();
  w.member("StreamName", r->stream_name);
  w.key("CurrentShardLevelMetrics");
  w.begin_array();
  for (const auto& m : r->current_shard_level_metrics) w.string(m);
  w.end_array();
  w.key("DesiredShardLevelMetrics");
  w.begin_array();
  for (const auto& m : r->desired_shard_level_metrics) w.string(m);
  w.end_array();
  w.member("StreamARN", r->stream_arn);
  w.end_object();
  return json_ok(w.take());
}

// ---- Account settings (spec 9.21) ----

net::Response write_account_settings(const stream::AccountSettings& a) {
  JsonWriter w;
  w.begin_object();
  w.key("MinimumThroughputBillingCommitment");
  w.begin_object();
  w.member("Status", a.commitment_enabled ? "ENABLED" : "DISABLED");
  if (a.started_at_ms) {
    w.key("StartedAt");
    w.epoch_seconds_millis(*a.started_at_ms);
  }
  if (a.ended_at_ms) {
    w.key("EndedAt");
    w.epoch_seconds_millis(*a.ended_at_ms);
  }
  w.end_object();
  w.end_object();
  return json_ok(w.take());
}

net::Response describe_account_settings(Call& c) {
  if (c.in.failed()) return serialization_error(c.in);
  auto r = c.svc.describe_account_settings(c.id.account, c.id.region);
  if (!r.ok()) return status_response(r.status());
  return write_account_settings(*r);
}

net::Response update_account_settings(Call& c) {
  Opt status;
  bool given = false;
  if (auto commitment = c.in.structure("MinimumThroughputBillingCommitment")) {
    given = true;
    MemberReader m(*commitment);
    status = m.string("Status");
    c.in.adopt_error(m);
  }
  Validator v;
  v.required("minimumThroughputBillingCommitment", given);
  if (given) {
    v.required("minimumThroughputBillingCommitment.status", status.has_value());
    v.enumeration("minimumThroughputBillingCommitment.status", status, {"ENABLED", "DISABLED"});
  }
  SLUICE_KINESIS_CHECK_INPUT(c, v);
  auto r = c.svc.update_account_settings(c.id.account, c.id.region, *status == "ENABLED");
  if (!r.ok()) return status_response(r.status());
  return write_account_settings(*r);
}

struct OperationEntry {
  std::string_view name;
  Operation run = nullptr;
  AsyncOperation run_async = nullptr;
};

constexpr std::array<OperationEntry, 38> kOperations = {{
    {"AddTagsToStream", add_tags},
    {"CreateStream", create_stream},
    {"DecreaseStreamRetentionPeriod", change_retention<false>},
    {"DeleteResourcePolicy", delete_resource_policy},
    {"DeleteStream", delete_stream},
    {"DeregisterStreamConsumer", deregister_stream_consumer},
    {"DescribeAccountSettings", describe_account_settings},
    {"DescribeLimits", describe_limits},
    {"DescribeStream", describe_stream},
    {"DescribeStreamConsumer", describe_stream_consumer},
    {"DescribeStreamSummary", describe_stream_summary},
    {"DisableEnhancedMonitoring", change_monitoring<false>},
    {"EnableEnhancedMonitoring", change_monitoring<true>},
    {"GetRecords", get_records},
    {"GetResourcePolicy", get_resource_policy},
    {"GetShardIterator", get_shard_iterator},
    {"IncreaseStreamRetentionPeriod", change_retention<true>},
    {"ListShards", list_shards},
    {"ListStreamConsumers", list_stream_consumers},
    {"ListStreams", list_streams},
    {"ListTagsForResource", list_tags_for_resource},
    {"ListTagsForStream", list_tags},
    {"MergeShards", merge_shards},
    {"PutRecord", nullptr, put_record},
    {"PutRecords", nullptr, put_records},
    {"PutResourcePolicy", put_resource_policy},
    {"RegisterStreamConsumer", register_stream_consumer},
    {"RemoveTagsFromStream", remove_tags},
    {"SplitShard", split_shard},
    {"StartStreamEncryption", change_encryption<true>},
    {"StopStreamEncryption", change_encryption<false>},
    {"TagResource", tag_resource},
    {"UntagResource", untag_resource},
    {"UpdateAccountSettings", update_account_settings},
    {"UpdateMaxRecordSize", update_max_record_size},
    {"UpdateShardCount", update_shard_count},
    {"UpdateStreamMode", update_stream_mode},
    {"UpdateStreamWarmThroughput", update_stream_warm_throughput},
}};

// Spec 2.2: presence checks only; a failure is the modelled error to send.
std::optional<net::Response> check_authentication(const net::Request& request) {
  const std::string_view auth = request.header("Authorization");
  const bool query_form = query_param(request.query, "X-Amz-Algorithm").has_value();
  if (query_form && !auth.empty()) {
    return error_response(400, "InvalidSignatureException",
                          "Found both 'X-Amz-Algorithm' as a query-string param and "
                          "'Authorization' as HTTP header.");
  }
  if (!query_form && auth.empty()) {
    return error_response(400, "MissingAuthenticationTokenException",
                          "Missing Authentication Token");
  }
  std::string message;
  if (!auth.empty()) {
    const auto params = auth_params(auth);
    auto has = [&](std::string_view k) {
      return std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == k; });
    };
    if (!has("Credential")) message += "Authorization header requires 'Credential' parameter. ";
    if (!has("Signature")) message += "Authorization header requires 'Signature' parameter. ";
    if (!has("SignedHeaders"))
      message += "Authorization header requires 'SignedHeaders' parameter. ";
    if (!request.has_header("X-Amz-Date") && !request.has_header("Date")) {
      message +=
          "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
    }
    if (!message.empty()) message += fmt::format("Authorization={}", auth);
  } else {
    for (std::string_view p : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                               "X-Amz-SignedHeaders", "X-Amz-Date"}) {
      const Opt value = query_param(request.query, p);
      if (!value || value->empty()) {
        message += fmt::format("AWS query-string parameters must include '{}'. ", p);
      }
    }
    if (!message.empty()) message += "Re-examine the query-string parameters.";
  }
  if (!message.empty()) return error_response(400, "IncompleteSignatureException", message);
  return std::nullopt;
}

// The answer to `request`, or nullopt when an asynchronous operation took `reply` to answer
// later.
std::optional<net::Response> dispatch(const net::Request& request, const ApiOptions& options,
                                      stream::StreamService& service, const Reply& reply) {
  // 2.1 row 2 (row 1, CORS pre-flight, is not implemented).
  if (request.method != "POST") {
    return xml_error(403, "AccessDeniedException",
                     "Unable to determine service/operation name to be authorized");
  }
  const std::string_view target = request.header("X-Amz-Target");
  const size_t dot = target.find('.');
  const std::string_view svc = target.substr(0, dot);
  const std::string_view op = dot == std::string_view::npos ? "" : target.substr(dot + 1);
  const bool known = svc == kService && std::find(kKnownOperations.begin(), kKnownOperations.end(),
                                                  op) != kKnownOperations.end();
  std::string_view ct = request.header("Content-Type");
  ct = trim(ct.substr(0, ct.find(';')));
  const bool json11 = ct == "application/x-amz-json-1.1";
  const bool cbor = ct == "application/x-amz-cbor-1.1";
  const bool legacy_json = ct == "application/json";

  if (request.body.empty()) {  // row 3
    return error_response(400, known ? "SerializationException" : "UnknownOperationException", "");
  }
  if (!json11 && !cbor && !legacy_json) {  // rows 4 and 5
    if (svc.empty() || op.empty()) {
      return xml_error(403, "AccessDeniedException",
                       "Unable to determine service/operation name to be authorized");
    }
    net::Response r;
    r.status = 404;
    r.content_type = "";
    r.body = "<UnknownOperationException/>\n";
    return r;
  }
  // A CBOR body arrives here already transcoded to JSON (Api::handle, dispatch_cbor).
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  simdjson::dom::element doc;
  const bool parsed =
      parser.parse(request.body.data(), request.body.size()).get(doc) == simdjson::SUCCESS &&
      doc.get(object) == simdjson::SUCCESS;
  if (!parsed) {  // row 6
    if (legacy_json) {
      return json_ok_with_status(
          400,
          R"({"Output":{"__type":"com.amazon.coral.service#SerializationException"},"Version":"1.0"})");
    }
    return error_response(400, "SerializationException", "");
  }
  if (legacy_json) {  // row 7
    return json_ok_with_status(
        404,
        R"({"Output":{"__type":"com.amazon.coral.service#UnknownOperationException"},"Version":"1.0"})");
  }
  if (!known) return error_response(400, "UnknownOperationException", "");     // row 8
  if (auto failed = check_authentication(request)) return std::move(*failed);  // row 9

  const auto it = std::find_if(kOperations.begin(), kOperations.end(),
                               [&](const OperationEntry& e) { return e.name == op; });
  if (it == kOperations.end()) {
    if (op == "SubscribeToShard") {
      return error_response(400, "UnknownOperationException",
                            "SubscribeToShard (enhanced fan-out) is not supported by this server "
                            "yet; read shards with GetShardIterator and GetRecords.");
    }
    return error_response(400, "UnknownOperationException",
                          fmt::format("Operation {} is not implemented by this server yet.", op));
  }
  const Identity id = identity_of(request, options);
  MemberReader in(object);
  Call call{id, in, service, reply};
  if (it->run_async != nullptr) return it->run_async(call);
  return it->run(call);
}

// The media type of Content-Type: the text before ';', trimmed.
std::string_view media_type(const net::Request& request) {
  const std::string_view ct = request.header("Content-Type");
  return trim(ct.substr(0, ct.find(';')));
}

// Re-encodes a JSON 1.1 response (success or error envelope) as CBOR for the output shape of
// `op`; other responses (XML errors, the 404 without a body) pass unchanged.
net::Response to_cbor_response(net::Response r, std::string_view op) {
  if (r.content_type != kJsonContentType) return r;
  auto body = json_to_cbor(r.body, op);
  if (!body.ok()) {  // the JSON path wrote something unparseable: a bug
    logging::get("kinesis")->error("cannot encode {} response as CBOR: {}", op,
                                   body.status().to_string());
    return to_cbor_response(error_response(500, "InternalFailure", ""), "");
  }
  r.body = std::move(body).value();
  r.content_type = std::string(kCborContentType);
  return r;
}

// A CBOR 1.1 request (docs/wire/kinesis.md, "CBOR"): the body becomes the equivalent JSON,
// the JSON path answers, and the answer becomes CBOR. A body that is not one well-formed CBOR
// map is 2.1 row 6, ahead of the operation checks as for JSON.
void dispatch_cbor(const net::Request& request, const ApiOptions& options,
                   stream::StreamService& service, const Reply& reply) {
  const std::string_view target = request.header("X-Amz-Target");
  const size_t dot = target.find('.');
  const std::string_view op = dot != std::string_view::npos && target.substr(0, dot) == kService
                                  ? target.substr(dot + 1)
                                  : std::string_view();
  auto json = cbor_to_json(request.body, op);
  if (!json.ok()) {
    logging::get("kinesis")->debug("refused CBOR body: {}", json.status().to_string());
    reply(to_cbor_response(error_response(400, "SerializationException", ""), op));
    return;
  }
  net::Request as_json = request;  // views only; the body now points at the JSON text
  as_json.body = *json;
  const Reply cbor_reply = [reply, op = std::string(op)](net::Response r) {
    reply(to_cbor_response(std::move(r), op));
  };
  if (auto r = dispatch(as_json, options, service, cbor_reply)) cbor_reply(std::move(*r));
}

// The operations answered from the shard writers' callback rather than on a thread that may
// block.
bool is_write(const net::Request& request) {
  const std::string_view target = request.header("X-Amz-Target");
  return target == "Kinesis_20131202.PutRecord" || target == "Kinesis_20131202.PutRecords";
}

}  // namespace

Identity identity_of(const net::Request& request, const ApiOptions& options) {
  net::Caller caller = net::caller_of(request, options.default_account, options.default_region);
  return Identity{std::move(caller.account), std::move(caller.region)};
}

Api::Api(stream::StreamService* service, ApiOptions options)
    : service_(service), options_(std::move(options)) {}

void Api::respond(const net::Request& request, Reply reply) const {
  Reply finish = [reply = std::move(reply)](net::Response r) {
    r.headers.emplace_back("x-amzn-RequestId", random_request_id());
    r.headers.emplace_back("x-amz-id-2", random_id2());
    reply(std::move(r));
  };
  // Spec 3.2: a CBOR request is answered in CBOR, and so is an empty body of any content type
  // but JSON 1.1 (2.1 row 3). XML answers (rows 2, 4, 5) stay as they are.
  const std::string_view ct = media_type(request);
  const bool post = request.method == "POST";
  if (post && ct == kCborContentType && !request.body.empty()) {
    dispatch_cbor(request, options_, *service_, finish);
    return;
  }
  if (post && request.body.empty() && ct != kJsonContentType) {
    finish = [finish](net::Response r) { finish(to_cbor_response(std::move(r), "")); };
  }
  if (auto r = dispatch(request, options_, *service_, finish)) finish(std::move(*r));
}

net::Response Api::handle(const net::Request& request) const {
  return await_callback<net::Response>([&](Reply reply) { respond(request, std::move(reply)); });
}

void Api::handle_async(const net::Request& request, net::Responder responder) const {
  if (!is_write(request)) {
    responder.answer_blocking([this, &request] { return handle(request); });
    return;
  }
  respond(request, [responder](net::Response r) { responder.answer(std::move(r)); });
}

}  // namespace sluice::kinesis
