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

// Bytes of {"Records":[]}: an event is event_overhead_bytes() + the sum of
// record_event_bytes() of its records + one comma between each two records.
size_t event_overhead_bytes();
// Exactly the bytes `record` takes inside an event built by build_event().
size_t record_event_bytes(const EventRecord& record, const EventSource& source);

// {"Records":[...]} with every record in the nested shape and key order of spec 2.1:
// kinesis {kinesisSchemaVersion, partitionKey, sequenceNumber, data (base64),
// approximateArrivalTimestamp (seconds with a 3-digit fraction)}, eventSource, eventVersion,
// eventID (<shardId>:<sequenceNumber>), eventName, invokeIdentityArn, awsRegion,
// eventSourceARN.
std::string build_event(std::span<const EventRecord> records, const EventSource& source);

}  // namespace sluice::esm
