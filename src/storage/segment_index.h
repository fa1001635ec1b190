#pragma once

#include "base/result.h"
#include "storage/types.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

// The sparse offset index (`.index`) and time index (`.timeindex`) written beside a sealed
// segment, and the in-memory summary they describe. Formats: docs/formats/segment.md.
namespace sluice::storage {

inline constexpr int64_t kNoTimestamp = std::numeric_limits<int64_t>::min();

// One index point: the batch that starts at `position` holds offset base + rel_offset first;
// every record before it in the segment has a timestamp <= max_ts_before.
struct IndexEntry {
  uint32_t rel_offset = 0;
  uint32_t position = 0;
  int64_t max_ts_before = kNoTimestamp;
  bool operator==(const IndexEntry&) const = default;
};

// What a segment holds, without reading it: kept in memory for every segment, persisted in
// the index files of sealed ones.
struct SegmentSummary {
  Offset base_offset;
  Offset next_offset;        // one past the last record
  uint64_t valid_bytes = 0;  // header + complete batches
  int64_t max_timestamp_ms = kNoTimestamp;
  int64_t first_timestamp_ms = kNoTimestamp;
  std::vector<IndexEntry> entries;
  bool operator==(const SegmentSummary&) const = default;
};

std::string encode_offset_index(const SegmentSummary& s);
std::string encode_time_index(const SegmentSummary& s);

// Rebuilds a summary from both index files. kCorruption when either is damaged, they
// disagree, or they do not describe a segment based at `base` of `file_bytes` bytes.
Result<SegmentSummary> decode_indexes(std::string_view offset_index, std::string_view time_index,
                                      Offset base, uint64_t file_bytes);

// Index of the entry to start a scan for `offset` (the last with rel_offset <= offset - base).
// REQUIRES: entries non-empty and offset >= base.
size_t find_entry_for_offset(const SegmentSummary& s, Offset offset);
// Index of the entry to start a scan for the first record with timestamp >= ts (the last
// entry every record before which is older than ts). REQUIRES: entries non-empty.
size_t find_entry_for_time(const SegmentSummary& s, int64_t ts_ms);

}  // namespace sluice::storage
