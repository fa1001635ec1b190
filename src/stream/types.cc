#include "stream/types.h"

#include <array>
#include <utility>

namespace sluice::stream {
namespace {

template <typename E, size_t N>
std::optional<E> find_by_name(const std::array<std::pair<E, std::string_view>, N>& table,
                              std::string_view name) {
  for (const auto& [value, text] : table) {
    if (text == name) return value;
  }
  return std::nullopt;
}

template <typename E, size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, text] : table) {
    if (v == value) return text;
  }
  return "UNKNOWN";
}

constexpr std::array<std::pair<StreamStatus, std::string_view>, 4> kStatusNames{{
    {StreamStatus::kCreating, "CREATING"},
    {StreamStatus::kActive, "ACTIVE"},
    {StreamStatus::kUpdating, "UPDATING"},
    {StreamStatus::kDeleting, "DELETING"},
}};
constexpr std::array<std::pair<ConsumerStatus, std::string_view>, 3> kConsumerStatusNames{{
    {ConsumerStatus::kCreating, "CREATING"},
    {ConsumerStatus::kActive, "ACTIVE"},
    {ConsumerStatus::kDeleting, "DELETING"},
}};
constexpr std::array<std::pair<StreamMode, std::string_view>, 2> kModeNames{{
    {StreamMode::kProvisioned, "PROVISIONED"},
    {StreamMode::kOnDemand, "ON_DEMAND"},
}};
constexpr std::array<std::pair<EncryptionType, std::string_view>, 2> kEncryptionNames{{
    {EncryptionType::kNone, "NONE"},
    {EncryptionType::kKms, "KMS"},
}};
constexpr std::array<std::pair<IteratorType, std::string_view>, 5> kIteratorNames{{
    {IteratorType::kTrimHorizon, "TRIM_HORIZON"},
    {IteratorType::kLatest, "LATEST"},
    {IteratorType::kAtSequenceNumber, "AT_SEQUENCE_NUMBER"},
    {IteratorType::kAfterSequenceNumber, "AFTER_SEQUENCE_NUMBER"},
    {IteratorType::kAtTimestamp, "AT_TIMESTAMP"},
}};
constexpr std::array<std::pair<ShardFilterType, std::string_view>, 6> kFilterNames{{
    {ShardFilterType::kAfterShardId, "AFTER_SHARD_ID"},
    {ShardFilterType::kAtTrimHorizon, "AT_TRIM_HORIZON"},
    {ShardFilterType::kFromTrimHorizon, "FROM_TRIM_HORIZON"},
    {ShardFilterType::kAtLatest, "AT_LATEST"},
    {ShardFilterType::kAtTimestamp, "AT_TIMESTAMP"},
    {ShardFilterType::kFromTimestamp, "FROM_TIMESTAMP"},
}};

}  // namespace

std::string_view stream_status_name(StreamStatus s) { return name_of(kStatusNames, s); }
std::string_view stream_mode_name(StreamMode m) { return name_of(kModeNames, m); }
std::string_view consumer_status_name(ConsumerStatus s) { return name_of(kConsumerStatusNames, s); }
std::optional<StreamMode> parse_stream_mode(std::string_view name) {
  return find_by_name(kModeNames, name);
}
std::string_view encryption_type_name(EncryptionType e) { return name_of(kEncryptionNames, e); }
std::optional<EncryptionType> parse_encryption_type(std::string_view name) {
  return find_by_name(kEncryptionNames, name);
}
std::string_view iterator_type_name(IteratorType t) { return name_of(kIteratorNames, t); }
std::optional<IteratorType> parse_iterator_type(std::string_view name) {
  return find_by_name(kIteratorNames, name);
}
std::string_view shard_filter_type_name(ShardFilterType t) { return name_of(kFilterNames, t); }
std::optional<ShardFilterType> parse_shard_filter_type(std::string_view name) {
  return find_by_name(kFilterNames, name);
}

}  // namespace sluice::stream
