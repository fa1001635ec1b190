#pragma once

#include "base/bytes.h"
#include "base/named_type.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::storage {

// Position of a record in one log: 0, 1, 2, ... assigned at append, never reused.
using Offset = NamedType<uint64_t, struct OffsetTag>;
// Byte position inside one segment file.
using FilePos = NamedType<uint64_t, struct FilePosTag>;

// Limits of what one record may hold (the largest Kinesis record is 10 MiB of data with a
// 256-character partition key and a 39-digit explicit hash key).
inline constexpr size_t kMaxPayloadBytes = 10 * 1024 * 1024;
inline constexpr size_t kMaxPartitionKeyBytes = 1024;
inline constexpr size_t kMaxExplicitHashKeyBytes = 64;

// One record to append. All views are borrowed and must stay valid until append() returns.
struct RecordIn {
  ByteView payload;
  std::string_view partition_key;
  std::string_view explicit_hash_key;  // empty when absent
  int64_t arrival_ms = 0;
};

// One record read back. The views point into the ReadResult that returned it and stay valid
// as long as that ReadResult lives (moving it keeps them valid).
struct RecordView {
  Offset offset;
  int64_t arrival_ms = 0;
  std::string_view partition_key;
  std::string_view explicit_hash_key;
  ByteView payload;
};

// When an append is acknowledged (docs/formats/segment.md, "Durability").
enum class FsyncPolicy : uint8_t {
  kAlways,  // every append is written and fdatasync'ed on its own before it is acknowledged
  kGroup,   // appends queued together share one write and one fdatasync, then are acknowledged
  kNever,   // acknowledged after the write; lost on power failure (not on a process crash)
};

std::string_view fsync_policy_name(FsyncPolicy p);
std::optional<FsyncPolicy> parse_fsync_policy(std::string_view name);

}  // namespace sluice::storage
