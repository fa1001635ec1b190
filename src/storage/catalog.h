#pragma once

#include "base/result.h"

#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct sqlite3;

namespace sluice::storage {

// The server's metadata (streams, shards and their hash ranges and states, later mapping
// checkpoints) in one SQLite database in WAL mode with full syncs: every apply() is one
// transaction, durable when it returns. Values are opaque strings owned by the layer that
// writes them, grouped in namespaces ("stream", "shard", ...). Schema: docs/formats/catalog.md.
// Thread-safe (one connection behind a mutex; metadata changes are rare).
class Catalog {
 public:
  struct Mutation {
    std::string ns;
    std::string key;
    std::optional<std::string> value;  // nullopt deletes the key
  };

  static constexpr int kSchemaVersion = 1;

  // Opens or creates the database at `path`. kInvalidArgument when it was written by an
  // incompatible schema version; kIOError/kCorruption when SQLite cannot use it.
  static Result<std::unique_ptr<Catalog>> open(const std::string& path);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  Result<std::optional<std::string>> get(std::string_view ns, std::string_view key) const;
  // Every key and value of `ns`, ordered by key.
  Result<std::vector<std::pair<std::string, std::string>>> list(std::string_view ns) const;
  // All mutations, or none of them.
  Status apply(std::span<const Mutation> mutations);
  Status put(std::string_view ns, std::string_view key, std::string_view value);
  Status erase(std::string_view ns, std::string_view key);

 private:
  explicit Catalog(sqlite3* db) : db_(db) {}
  Status exec(const char* sql) const;
  Result<int> get_meta_version() const;

  mutable std::mutex mu_;
  sqlite3* const db_;  // GUARDED_BY(mu_)
};

}  // namespace sluice::storage
