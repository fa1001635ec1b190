#pragma once

#include "base/bytes.h"
#include "base/result.h"
#include "stream/types.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The seams between the stream layer and what keeps its bytes. Everything above them (the
// data model, sequence numbers, iterators, the Kinesis and ESM layers) is backend-neutral; a
// second backend (Apache Kafka is the likely one: a topic-partition per shard, a compacted
// topic or an external store for metadata) implements these three interfaces and nothing
// else. The embedded implementations are in embedded_backend.h.

namespace sluice::stream {

// One record handed to ShardLog::append(). The views are borrowed until append() returns.
struct LogRecordIn {
  ByteView payload;
  std::string_view partition_key;
  // The record's sequence counter (sequence_number.h). The stream layer appends strictly
  // increasing counters to each log; the backend stores the value and returns it on read.
  uint64_t counter = 0;
  int64_t arrival_ms = 0;  // never decreases within a log
};

// One record read back; the views point into the LogRead that holds it.
struct LogRecord {
  LogOffset offset;
  uint64_t counter = 0;
  int64_t arrival_ms = 0;
  std::string_view partition_key;
  ByteView payload;
};

struct LogReadLimits {
  size_t max_records = 10000;
  // Payload bytes; the first record is returned even when it alone is larger.
  size_t max_bytes = 10 * 1024 * 1024;
};

// Records read from a log. `keepalive` owns the bytes the views point into: they stay valid
// while this object, a copy of it, or a copy of `keepalive` lives.
struct LogRead {
  std::vector<LogRecord> records;  // consecutive offsets in order (gaps only after repair)
  LogOffset next_offset;           // where a following read continues
  std::shared_ptr<const void> keepalive;
};

// The log of one shard: records at offsets start_offset() .. end_offset() - 1.
// Created by ShardLogBackend::open(); shared between the stream layer's writer and readers.
// Thread-safe. The stream layer appends to a log from one thread at a time, in counter order.
class ShardLog {
 public:
  virtual ~ShardLog() = default;
  // Appends `records` with consecutive offsets, all or none, and returns the first offset
  // once they are durable under the backend's policy (then readers see them). After a
  // failure the backend may refuse further appends; reads go on.
  virtual Result<LogOffset> append(std::span<const LogRecordIn> records) = 0;
  // Records from max(from, start_offset()) on, within `limits`. Empty, with next_offset ==
  // end_offset(), when there is nothing yet. kCorruption when stored bytes fail validation.
  virtual Result<LogRead> read(LogOffset from, LogReadLimits limits) const = 0;
  // Offset of the first record whose arrival_ms >= ts_ms, or end_offset() when none is.
  virtual Result<LogOffset> offset_at_time(int64_t ts_ms) const = 0;
  virtual Result<LogOffset> start_offset() const = 0;  // oldest record still kept
  virtual Result<LogOffset> end_offset() const = 0;    // the offset the next record gets
  // May delete records that arrived before cutoff_ms (at the backend's granularity: the
  // stream layer hides them from readers itself). Never deletes newer ones.
  virtual Status trim_before_time(int64_t cutoff_ms) = 0;
};

// Creates, opens and deletes shard logs by name. Thread-safe. Names are 1-200 characters of
// [A-Za-z0-9._-] chosen by the stream layer (docs/formats/stream-catalog.md).
class ShardLogBackend {
 public:
  virtual ~ShardLogBackend() = default;
  // The log called `name`, created empty when it does not exist.
  virtual Result<std::shared_ptr<ShardLog>> open(std::string_view name) = 0;
  // Deletes the log and its records; ok when there is none. Readers still holding the
  // ShardLog may see reads fail afterwards.
  virtual Status remove(std::string_view name) = 0;
  // Names of every log, for sweeping those no shard refers to.
  virtual Result<std::vector<std::string>> list() const = 0;
};

// Durable key/value metadata, grouped in namespaces, with all-or-nothing batches. The stream
// layer keeps streams, shards, counters and its iterator secret here; the encoding of each
// value is in docs/formats/stream-catalog.md. Thread-safe.
class MetadataStore {
 public:
  struct Write {
    std::string ns;
    std::string key;
    std::optional<std::string> value;  // nullopt erases the key
  };
  virtual ~MetadataStore() = default;
  virtual Result<std::optional<std::string>> get(std::string_view ns,
                                                 std::string_view key) const = 0;
  // Every key and value of `ns`, ordered by key.
  virtual Result<std::vector<std::pair<std::string, std::string>>> list(
      std::string_view ns) const = 0;
  // All writes, durably, or none of them.
  virtual Status apply(std::span<const Write> writes) = 0;
};

}  // namespace sluice::stream
