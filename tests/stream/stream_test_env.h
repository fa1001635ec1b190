#pragma once

// Shared fixtures of the stream tests: an in-memory MetadataStore with switchable failures,
// and a StreamService over the embedded log backend on a MemFileSystem with a ManualClock,
// which a test can "restart" (drop the service and the log store, reopen both over the same
// files and metadata).

#include "storage/log_store.h"
#include "stream/embedded_backend.h"
#include "stream/stream_service.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::stream::testing {

// A MetadataStore in a std::map. apply() is all or nothing; fail_applies(true) makes every
// apply() fail with kIOError and change nothing. Thread-safe.
class MemMetadataStore final : public MetadataStore {
 public:
  Result<std::optional<std::string>> get(std::string_view ns, std::string_view key) const override {
    std::lock_guard lock(mu_);
    auto it = data_.find({std::string(ns), std::string(key)});
    if (it == data_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<std::vector<std::pair<std::string, std::string>>> list(
      std::string_view ns) const override {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [k, v] : data_) {
      if (k.first == ns) out.emplace_back(k.second, v);
    }
    return out;
  }
  Status apply(std::span<const Write> writes) override {
    std::lock_guard lock(mu_);
    ++applies_;
    if (fail_) return Status::io_error("metadata store: injected failure");
    for (const Write& w : writes) {
      if (w.value) {
        data_[{w.ns, w.key}] = *w.value;
      } else {
        data_.erase({w.ns, w.key});
      }
    }
    return Status();
  }

  void fail_applies(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  size_t applies() const {
    std::lock_guard lock(mu_);
    return applies_;
  }
  size_t size(std::string_view ns) const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [k, v] : data_) n += k.first == ns ? 1 : 0;
    return n;
  }
  void put_raw(std::string ns, std::string key, std::string value) {
    std::lock_guard lock(mu_);
    data_[{std::move(ns), std::move(key)}] = std::move(value);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::string> data_;
  bool fail_ = false;
  size_t applies_ = 0;
};

inline StreamServiceOptions instant_options() {
  StreamServiceOptions o;
  o.creating_delay_ms = 0;
  o.updating_delay_ms = 0;
  o.deleting_delay_ms = 0;
  return o;
}

// A StreamService with everything it needs, in memory. `account`/`region` name the default
// key of key().
class ServiceEnv {
 public:
  explicit ServiceEnv(StreamServiceOptions options = instant_options()) : options_(options) {
    open();
  }
  // Over `faults` (a FaultInjectionFileSystem on `fs`), to test crashes.
  ServiceEnv(StreamServiceOptions options, bool with_faults)
      : faults(with_faults ? std::make_unique<FaultInjectionFileSystem>(&fs) : nullptr),
        options_(options) {
    open();
  }
  ~ServiceEnv() { close(); }

  void open() {
    FileSystem* files = faults ? static_cast<FileSystem*>(faults.get()) : &fs;
    auto store = storage::LogStore::open(files, "/data/logs", storage::LogOptions{}, &clock);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    backend_ = std::make_unique<EmbeddedShardLogBackend>(store_.get());
    auto svc = StreamService::open(backend_.get(), &metadata, &clock, options_);
    ASSERT_TRUE(svc.ok()) << svc.status();
    service_ = std::move(*svc);
  }
  void close() {
    service_.reset();
    backend_.reset();
    if (store_) {
      EXPECT_TRUE(store_->close_all().ok());
    }
    store_.reset();
  }
  // A process restart: everything in memory goes, files and metadata stay.
  void restart() {
    close();
    open();
  }

  StreamService& svc() { return *service_; }
  storage::LogStore& store() { return *store_; }
  ShardLogBackend& backend() { return *backend_; }
  const StreamServiceOptions& options() const { return options_; }

  static StreamKey key(std::string name, std::string account = "000000000000",
                       std::string region = "us-east-1") {
    return StreamKey{std::move(account), std::move(region), std::move(name)};
  }

  // Creates an ACTIVE provisioned stream (with the instant options).
  void create(const std::string& name, int32_t shards) {
    CreateStreamRequest req;
    req.stream = key(name);
    req.shard_count = shards;
    ASSERT_TRUE(service_->create_stream(req).ok());
  }

  Result<PutRecordResult> put(const std::string& name, std::string_view partition_key,
                              std::string_view data,
                              std::optional<std::string_view> explicit_hash_key = {}) {
    PutRecordRequest req;
    req.stream = key(name);
    req.partition_key = partition_key;
    req.data = as_bytes(data);
    req.explicit_hash_key = explicit_hash_key;
    return service_->put_record(req);
  }

  Result<std::string> iterator(const std::string& name, std::string shard_id, IteratorType type,
                               std::optional<std::string> seq = {},
                               std::optional<double> ts_ms = {}) {
    GetShardIteratorRequest req;
    req.stream = key(name);
    req.shard_id = std::move(shard_id);
    req.type = type;
    req.starting_sequence_number = std::move(seq);
    req.timestamp_ms = ts_ms;
    return service_->get_shard_iterator(req);
  }

  Result<GetRecordsResult> get(std::string_view iterator, std::optional<int32_t> limit = {}) {
    GetRecordsRequest req;
    req.shard_iterator = iterator;
    req.limit = limit;
    return service_->get_records(req);
  }

  // Every record data of a shard from TRIM_HORIZON to now, following NextShardIterator.
  std::vector<std::string> drain(const std::string& name, std::string shard_id) {
    std::vector<std::string> out;
    auto it = iterator(name, std::move(shard_id), IteratorType::kTrimHorizon);
    EXPECT_TRUE(it.ok()) << it.status();
    if (!it.ok()) return out;
    std::string cur = *it;
    for (int i = 0; i < 1000; ++i) {
      auto r = get(cur);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      for (const RecordOut& rec : r->records) out.emplace_back(as_string_view(rec.data));
      if (!r->next_shard_iterator || r->records.empty()) break;
      cur = *r->next_shard_iterator;
    }
    return out;
  }

  MemFileSystem fs;
  std::unique_ptr<FaultInjectionFileSystem> faults;
  ManualClock clock;
  MemMetadataStore metadata;

 private:
  StreamServiceOptions options_;
  std::unique_ptr<storage::LogStore> store_;
  std::unique_ptr<EmbeddedShardLogBackend> backend_;
  std::unique_ptr<StreamService> service_;
};

}  // namespace sluice::stream::testing
