#pragma once

#include "base/named_type.h"

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::stream {

// Where a stream lives. Streams are namespaced by (account, region): the same name may exist
// in two regions (spec section 4). Account and region are 1-64 characters of
// [A-Za-z0-9_.-]; the name 1-128 characters of the same set.
struct StreamKey {
  std::string account;
  std::string region;
  std::string name;
  auto operator<=>(const StreamKey&) const = default;
};

// Position of a record in one shard's log: 0, 1, 2, ... in append order, never reused. What a
// ShardLogBackend calls an offset (the embedded backend's storage::Offset, a Kafka offset).
using LogOffset = NamedType<uint64_t, struct LogOffsetTag>;

// Lifecycle of a stream (spec 5.1): CREATING -> ACTIVE <-> UPDATING; any -> DELETING -> gone.
enum class StreamStatus : uint8_t { kCreating, kActive, kUpdating, kDeleting };
enum class StreamMode : uint8_t { kProvisioned, kOnDemand };
// Lifecycle of an enhanced fan-out consumer (spec 9.22): CREATING -> ACTIVE -> DELETING -> gone.
enum class ConsumerStatus : uint8_t { kCreating, kActive, kDeleting };
enum class EncryptionType : uint8_t { kNone, kKms };
enum class IteratorType : uint8_t {
  kTrimHorizon,
  kLatest,
  kAtSequenceNumber,
  kAfterSequenceNumber,
  kAtTimestamp,
};
// ListShards ShardFilter.Type (spec 9.6).
enum class ShardFilterType : uint8_t {
  kAfterShardId,
  kAtTrimHorizon,
  kFromTrimHorizon,
  kAtLatest,
  kAtTimestamp,
  kFromTimestamp,
};

// Wire names ("ACTIVE", "ON_DEMAND", "KMS", "AT_SEQUENCE_NUMBER", "AT_TRIM_HORIZON") and their
// inverses; the parsers return nullopt for anything else (names are case-sensitive).
std::string_view stream_status_name(StreamStatus s);
std::string_view stream_mode_name(StreamMode m);
std::string_view consumer_status_name(ConsumerStatus s);
std::optional<StreamMode> parse_stream_mode(std::string_view name);
std::string_view encryption_type_name(EncryptionType e);
std::optional<EncryptionType> parse_encryption_type(std::string_view name);
std::string_view iterator_type_name(IteratorType t);
std::optional<IteratorType> parse_iterator_type(std::string_view name);
std::string_view shard_filter_type_name(ShardFilterType t);
std::optional<ShardFilterType> parse_shard_filter_type(std::string_view name);

}  // namespace sluice::stream
