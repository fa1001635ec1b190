#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::stream {

// A point of the 128-bit hash-key space that shards divide among themselves (spec 5.2-5.4).
// On the wire hash keys are decimal strings; no floating point anywhere.
using HashKey = unsigned __int128;
inline constexpr HashKey kMaxHashKey = ~HashKey{0};  // 2^128 - 1

// The inclusive range [starting, ending] of one shard.
struct HashKeyRange {
  HashKey starting = 0;
  HashKey ending = 0;
  bool contains(HashKey k) const { return starting <= k && k <= ending; }
  bool operator==(const HashKeyRange&) const = default;
};

// Decimal, no leading zeros ("0" for zero).
std::string format_hash_key(HashKey k);
// ASCII decimal digits only (leading zeros accepted), value <= 2^128 - 1; nullopt otherwise
// (empty, a sign, another character, or a value too large).
std::optional<HashKey> parse_hash_key(std::string_view decimal);

// MD5 of the partition key's bytes read as a big-endian unsigned 128-bit integer (5.4).
HashKey partition_key_hash(std::string_view partition_key);

// The even division of the hash space among `n` shards (5.3): step = floor(2^128 / n);
// shard i is [i*step, (i+1)*step - 1], the last one ends at 2^128 - 1.
// REQUIRES: n >= 1.
std::vector<HashKeyRange> divide_hash_space(uint32_t n);

}  // namespace sluice::stream
