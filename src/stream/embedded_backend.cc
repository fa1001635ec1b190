#include "stream/embedded_backend.h"

#include <fmt/format.h>

#include <array>

namespace sluice::stream {
namespace {

constexpr size_t kCounterChars = 16;

void encode_counter(uint64_t counter, std::array<char, kCounterChars>& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < kCounterChars; ++i) {
    out[kCounterChars - 1 - i] = kDigits[counter & 15];
    counter >>= 4;
  }
}

std::optional<uint64_t> decode_counter(std::string_view text) {
  if (text.size() != kCounterChars) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

class EmbeddedShardLog final : public ShardLog {
 public:
  explicit EmbeddedShardLog(std::shared_ptr<storage::Log> log) : log_(std::move(log)) {}

  Result<LogOffset> append(std::span<const LogRecordIn> records) override {
    // One buffer per call for the counters' text; payloads are not copied.
    std::vector<std::array<char, kCounterChars>> counters(records.size());
    std::vector<storage::RecordIn> in(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      encode_counter(records[i].counter, counters[i]);
      in[i].payload = records[i].payload;
      in[i].partition_key = records[i].partition_key;
      in[i].explicit_hash_key = std::string_view(counters[i].data(), kCounterChars);
      in[i].arrival_ms = records[i].arrival_ms;
    }
    SLUICE_ASSIGN_OR_RETURN(storage::AppendResult r, log_->append(in));
    return LogOffset(r.base_offset.value());
  }

  Result<LogRead> read(LogOffset from, LogReadLimits limits) const override {
    SLUICE_ASSIGN_OR_RETURN(storage::ReadResult r,
                            log_->read(storage::Offset(from.value()),
                                       storage::ReadLimits{.max_records = limits.max_records,
                                                           .max_bytes = limits.max_bytes}));
    // Views stay valid when the ReadResult moves (storage/log.h).
    auto owned = std::make_shared<storage::ReadResult>(std::move(r));
    LogRead out;
    out.next_offset = LogOffset(owned->next_offset.value());
    out.records.reserve(owned->records.size());
    for (const storage::RecordView& v : owned->records) {
      const std::optional<uint64_t> counter = decode_counter(v.explicit_hash_key);
      if (!counter) {
        return Status::corruption(fmt::format(
            "log {} offset {}: the sequence counter slot holds {} bytes that are not 16 hex "
            "digits",
            log_->dir(), v.offset, v.explicit_hash_key.size()));
      }
      out.records.push_back(LogRecord{.offset = LogOffset(v.offset.value()),
                                      .counter = *counter,
                                      .arrival_ms = v.arrival_ms,
                                      .partition_key = v.partition_key,
                                      .payload = v.payload});
    }
    out.keepalive = std::move(owned);
    return out;
  }

  Result<LogOffset> offset_at_time(int64_t ts_ms) const override {
    SLUICE_ASSIGN_OR_RETURN(storage::Offset o, log_->offset_at_time(ts_ms));
    return LogOffset(o.value());
  }
  Result<LogOffset> start_offset() const override {
    return LogOffset(log_->start_offset().value());
  }
  Result<LogOffset> end_offset() const override { return LogOffset(log_->end_offset().value()); }
  Status trim_before_time(int64_t cutoff_ms) override {
    auto r = log_->trim_before_time(cutoff_ms);
    return r.ok() ? Status() : r.status();
  }

 private:
  const std::shared_ptr<storage::Log> log_;
};

}  // namespace

Result<std::shared_ptr<ShardLog>> EmbeddedShardLogBackend::open(std::string_view name) {
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<storage::Log> log, store_->open_log(name));
  return std::shared_ptr<ShardLog>(std::make_shared<EmbeddedShardLog>(std::move(log)));
}

Status EmbeddedShardLogBackend::remove(std::string_view name) {
  Status s = store_->remove_log(name);
  if (s.is_not_found()) return Status();
  return s;
}

Result<std::vector<std::string>> EmbeddedShardLogBackend::list() const {
  return store_->log_names();
}

Result<std::optional<std::string>> CatalogMetadataStore::get(std::string_view ns,
                                                             std::string_view key) const {
  return catalog_->get(ns, key);
}

Result<std::vector<std::pair<std::string, std::string>>> CatalogMetadataStore::list(
    std::string_view ns) const {
  return catalog_->list(ns);
}

Status CatalogMetadataStore::apply(std::span<const Write> writes) {
  std::vector<storage::Catalog::Mutation> mutations;
  mutations.reserve(writes.size());
  for (const Write& w : writes) mutations.push_back({w.ns, w.key, w.value});
  return catalog_->apply(mutations);
}

}  // namespace sluice::stream
