#pragma once

#include "storage/catalog.h"
#include "storage/log_store.h"
#include "stream/backend.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::stream {

// The single-machine backends: shard logs are storage::Logs in a storage::LogStore, metadata
// lives in the storage::Catalog. Both borrow what they are given, which must outlive them and
// every ShardLog they hand out. Thread-safe.

// A shard's record maps onto storage::RecordIn as payload -> payload, partition key ->
// partition key, arrival -> arrival, and the sequence counter -> the explicit_hash_key slot
// as 16 lowercase hex digits (the stream layer never needs the explicit hash key back; see
// docs/formats/stream-catalog.md, "Records in shard logs").
class EmbeddedShardLogBackend final : public ShardLogBackend {
 public:
  explicit EmbeddedShardLogBackend(storage::LogStore* store) : store_(store) {}

  Result<std::shared_ptr<ShardLog>> open(std::string_view name) override;
  Status remove(std::string_view name) override;
  Result<std::vector<std::string>> list() const override;

 private:
  storage::LogStore* const store_;
};

class CatalogMetadataStore final : public MetadataStore {
 public:
  explicit CatalogMetadataStore(storage::Catalog* catalog) : catalog_(catalog) {}

  Result<std::optional<std::string>> get(std::string_view ns, std::string_view key) const override;
  Result<std::vector<std::pair<std::string, std::string>>> list(std::string_view ns) const override;
  Status apply(std::span<const Write> writes) override;

 private:
  storage::Catalog* const catalog_;
};

}  // namespace sluice::stream
