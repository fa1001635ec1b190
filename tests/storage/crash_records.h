#pragma once

// What the crash test's child appends and how the parent checks it (crash_child.cc,
// log_crash_test.cc). Every payload describes itself, so any record found after a crash,
// acknowledged or not, can be checked on its own; an acknowledged batch is also reported
// with a digest of all its records, so the parent can check it bit for bit.

#include "base/bytes.h"
#include "base/checksum.h"

#include <cstdint>
#include <span>
#include <string>

namespace sluice::storage::crash_test {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// `size` bytes: the first 8 hold `tag` (little-endian), the rest a splitmix64 stream seeded
// by the tag. Payloads shorter than 8 bytes are the tag's low bytes.
inline std::string make_payload(uint64_t tag, size_t size) {
  std::string out(size, '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  std::byte tag_bytes[8];
  store_le64(tag_bytes, tag);
  for (size_t i = 0; i < size && i < 8; ++i) p[i] = tag_bytes[i];
  uint64_t state = tag;
  for (size_t i = 8; i < size; i += 8) {
    std::byte word[8];
    store_le64(word, splitmix64(state));
    for (size_t j = 0; j < 8 && i + j < size; ++j) p[i + j] = word[j];
  }
  return out;
}

// True when `payload` is what make_payload() makes of its own first 8 bytes.
inline bool payload_is_consistent(ByteView payload) {
  if (payload.size() < 8) return true;  // nothing to check against
  const uint64_t tag = load_le64(payload.data());
  const std::string want = make_payload(tag, payload.size());
  return as_string_view(payload) == want;
}

// Digest of a batch as the child appended it and the parent read it back. `Record` is
// RecordIn or RecordView: both have payload, partition_key, explicit_hash_key, arrival_ms.
template <typename Record>
uint64_t batch_digest(std::span<const Record> records) {
  std::string buf;
  for (const Record& r : records) {
    std::byte head[20];
    store_le64(head, static_cast<uint64_t>(r.arrival_ms));
    store_le32(head + 8, static_cast<uint32_t>(r.payload.size()));
    store_le32(head + 12, static_cast<uint32_t>(r.partition_key.size()));
    store_le32(head + 16, static_cast<uint32_t>(r.explicit_hash_key.size()));
    buf.append(reinterpret_cast<const char*>(head), sizeof head);
    buf.append(r.partition_key);
    buf.append(r.explicit_hash_key);
    buf.append(as_string_view(r.payload));
  }
  return checksum(as_bytes(buf));
}

}  // namespace sluice::storage::crash_test
