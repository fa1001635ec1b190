#pragma once

#include "base/bytes.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sluice::esm {

// The largest event an event source mapping sends in one invocation (spec 2.3): UTF-8 JSON
// bytes of the serialized event.
inline constexpr size_t kMaxEventBytes = 6'291'456;

// What every record of one shard's events shares (spec 2.1).
struct EventSource {
  std::string_view shard_id;          // "shardId-000000000002"
  std::string_view event_source_arn;  // the stream ARN
  std::string_view region;            // awsRegion
  std::string_view role_arn;          // invokeIdentityArn: the function's execution role
};

// One record as read from the shard. Views are borrowed for the call.
struct EventRecord {
  std::string_view sequence_number;
  int64_t arrival_ms = 0;
  std::string_view partition_key;
  ByteView data;
};

// Sizes and writes the events of one source's records. What every record of the source
// shares (the eventID's shard prefix, invokeIdentityArn, awsRegion, eventSourceARN and the
// literal text between them) is escaped once, here; a record then costs its own fields.
// Copies what it needs from `source`: it does not keep the views. Immutable once built:
// any thread may call it.
class EventBuilder {
 public:
  explicit EventBuilder(const EventSource& source);

  // Exactly the bytes `record` takes inside an event built by build():
  // own_bytes(record) + shared_bytes().
  size_t record_bytes(const EventRecord& record) const {
    return own_bytes(record) + shared_bytes();
  }
  // The part of record_bytes() that depends on the record's fields alone.
  static size_t own_bytes(const EventRecord& record);
  // The part of record_bytes() that is the same for every record of this source.
  size_t shared_bytes() const { return shared_bytes_; }

  // {"Records":[...]} with every record in the nested shape and key order of spec 2.1:
  // kinesis {kinesisSchemaVersion, partitionKey, sequenceNumber, data (base64),
  // approximateArrivalTimestamp (seconds with a 3-digit fraction)}, eventSource,
  // eventVersion, eventID (<shardId>:<sequenceNumber>), eventName, invokeIdentityArn,
  // awsRegion, eventSourceARN. Keys and strings are escaped as JsonWriter escapes them
  // (base/json_writer.h). The result is sized once and written in place.
  std::string build(std::span<const EventRecord> records) const;

 private:
  // '"' + escaped shard id + ':': the eventID up to the sequence number.
  std::string event_id_prefix_;
  // From the eventID's closing quote to the record's closing brace.
  std::string record_tail_;
  size_t shared_bytes_ = 0;
};

// Bytes of {"Records":[]}: an event is event_overhead_bytes() + the sum of
// record_event_bytes() of its records + one comma between each two records.
size_t event_overhead_bytes();
// Exactly the bytes `record` takes inside an event built by build_event().
// EventBuilder(source).record_bytes(record); callers with many records keep the builder.
size_t record_event_bytes(const EventRecord& record, const EventSource& source);
// EventBuilder(source).build(records).
std::string build_event(std::span<const EventRecord> records, const EventSource& source);

}  // namespace sluice::esm
