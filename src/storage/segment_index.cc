#include "storage/segment_index.h"

#include "base/bytes.h"
#include "base/checksum.h"

#include <algorithm>
#include <cstring>

namespace sluice::storage {
namespace {

constexpr char kOffsetIndexMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'I', 'X'};
constexpr char kTimeIndexMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'T', 'I'};
constexpr uint32_t kIndexVersion = 1;
constexpr size_t kOffsetHeader = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 8;  // 56
constexpr size_t kOffsetEntry = 8;
constexpr size_t kTimeHeader = 8 + 4 + 4 + 8;  // 24
constexpr size_t kTimeEntry = 12;

void put32(std::string& out, uint32_t v) {
  std::byte b[4];
  store_le32(b, v);
  out.append(reinterpret_cast<const char*>(b), 4);
}
void put64(std::string& out, uint64_t v) {
  std::byte b[8];
  store_le64(b, v);
  out.append(reinterpret_cast<const char*>(b), 8);
}
const std::byte* bytes_of(std::string_view s) {
  return reinterpret_cast<const std::byte*>(s.data());
}

void seal(std::string& out) { put64(out, checksum(as_bytes(out))); }

bool checksum_ok(std::string_view in) {
  if (in.size() < 8) return false;
  const std::string_view body = in.substr(0, in.size() - 8);
  return load_le64(bytes_of(in.substr(in.size() - 8))) == checksum(as_bytes(body));
}

}  // namespace

std::string encode_offset_index(const SegmentSummary& s) {
  std::string out(kOffsetIndexMagic, 8);
  put32(out, kIndexVersion);
  put32(out, static_cast<uint32_t>(s.entries.size()));
  put64(out, s.base_offset.value());
  put64(out, s.next_offset.value());
  put64(out, s.valid_bytes);
  put64(out, static_cast<uint64_t>(s.max_timestamp_ms));
  put64(out, static_cast<uint64_t>(s.first_timestamp_ms));
  for (const IndexEntry& e : s.entries) {
    put32(out, e.rel_offset);
    put32(out, e.position);
  }
  seal(out);
  return out;
}

std::string encode_time_index(const SegmentSummary& s) {
  std::string out(kTimeIndexMagic, 8);
  put32(out, kIndexVersion);
  put32(out, static_cast<uint32_t>(s.entries.size()));
  put64(out, s.base_offset.value());
  for (const IndexEntry& e : s.entries) {
    put64(out, static_cast<uint64_t>(e.max_ts_before));
    put32(out, e.rel_offset);
  }
  seal(out);
  return out;
}

Result<SegmentSummary> decode_indexes(std::string_view off, std::string_view tim, Offset base,
                                      uint64_t file_bytes) {
  auto bad = [](std::string_view why) {
    return Status::corruption(std::string("index: ") + std::string(why));
  };
  if (off.size() < kOffsetHeader + 8 || std::memcmp(off.data(), kOffsetIndexMagic, 8) != 0) {
    return bad("offset index header");
  }
  if (tim.size() < kTimeHeader + 8 || std::memcmp(tim.data(), kTimeIndexMagic, 8) != 0) {
    return bad("time index header");
  }
  if (!checksum_ok(off) || !checksum_ok(tim)) return bad("checksum mismatch");
  const std::byte* o = bytes_of(off);
  const std::byte* t = bytes_of(tim);
  if (load_le32(o + 8) != kIndexVersion || load_le32(t + 8) != kIndexVersion) return bad("version");
  const uint32_t count = load_le32(o + 12);
  if (load_le32(t + 12) != count) return bad("entry counts differ");
  if (off.size() != kOffsetHeader + size_t{count} * kOffsetEntry + 8 ||
      tim.size() != kTimeHeader + size_t{count} * kTimeEntry + 8) {
    return bad("size");
  }
  SegmentSummary s;
  s.base_offset = Offset(load_le64(o + 16));
  s.next_offset = Offset(load_le64(o + 24));
  s.valid_bytes = load_le64(o + 32);
  s.max_timestamp_ms = static_cast<int64_t>(load_le64(o + 40));
  s.first_timestamp_ms = static_cast<int64_t>(load_le64(o + 48));
  if (s.base_offset != base || Offset(load_le64(t + 16)) != base) return bad("base offset");
  if (s.next_offset < s.base_offset || s.valid_bytes != file_bytes) return bad("segment size");
  if ((count == 0) != (s.next_offset == s.base_offset)) return bad("entries");
  s.entries.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    IndexEntry& e = s.entries[i];
    e.rel_offset = load_le32(o + kOffsetHeader + i * kOffsetEntry);
    e.position = load_le32(o + kOffsetHeader + i * kOffsetEntry + 4);
    e.max_ts_before = static_cast<int64_t>(load_le64(t + kTimeHeader + i * kTimeEntry));
    if (load_le32(t + kTimeHeader + i * kTimeEntry + 8) != e.rel_offset)
      return bad("entries differ");
    if (e.position >= s.valid_bytes || e.rel_offset >= s.next_offset.value() - base.value()) {
      return bad("entry out of range");
    }
    if (i > 0) {
      const IndexEntry& prev = s.entries[i - 1];
      if (e.rel_offset <= prev.rel_offset || e.position <= prev.position ||
          e.max_ts_before < prev.max_ts_before) {
        return bad("entries out of order");
      }
    }
  }
  return s;
}

size_t find_entry_for_offset(const SegmentSummary& s, Offset offset) {
  const uint64_t rel = offset.value() - s.base_offset.value();
  auto it = std::upper_bound(s.entries.begin(), s.entries.end(), rel,
                             [](uint64_t r, const IndexEntry& e) { return r < e.rel_offset; });
  return it == s.entries.begin() ? 0 : static_cast<size_t>(it - s.entries.begin()) - 1;
}

size_t find_entry_for_time(const SegmentSummary& s, int64_t ts_ms) {
  // max_ts_before is non-decreasing; take the last entry whose predecessors are all < ts.
  auto it = std::lower_bound(s.entries.begin(), s.entries.end(), ts_ms,
                             [](const IndexEntry& e, int64_t ts) { return e.max_ts_before < ts; });
  return it == s.entries.begin() ? 0 : static_cast<size_t>(it - s.entries.begin()) - 1;
}

}  // namespace sluice::storage
