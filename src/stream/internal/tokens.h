#pragma once

#include "base/bytes.h"
#include "base/result.h"
#include "stream/types.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Shard iterators and NextTokens: opaque strings that carry a position, authenticated with
// HMAC-SHA256 under the data dir's secret so that a client can neither forge nor alter one.
// Layouts: docs/stream.md ("Shard iterators"). Pure functions; thread-safe.
namespace sluice::stream::internal {

inline constexpr int64_t kIteratorTtlMs = 300'000;
inline constexpr std::string_view kInvalidIteratorMessage = "Invalid ShardIterator.";

struct IteratorPayload {
  int64_t issued_ms = 0;
  StreamKey stream;
  uint64_t incarnation = 0;
  int32_t shard_index = 0;
  LogOffset position;  // the next record to return
  bool operator==(const IteratorPayload&) const = default;
};

// base64(00 00 00 00 00 00 00 01 || body || zero padding || HMAC-SHA256(secret, all before)),
// the decoded size 152 + 16k bytes (152 at least, 384 at most: <= 512 characters), as the
// structural checks of spec 7.2 expect.
// REQUIRES: account and region <= 64 bytes, name <= 128 bytes (validate_stream_key).
std::string encode_shard_iterator(const IteratorPayload& p, ByteView secret);

// Strips one pair of surrounding double quotes, then checks the base64 (canonical only), the
// size, the prefix, the MAC, the field layout and the padding. Any failure is
// kInvalidArgument "Invalid ShardIterator." (spec 7.3 step 2). Time checks are the caller's.
Result<IteratorPayload> decode_shard_iterator(std::string_view text, ByteView secret);

// A NextToken: `kind` and `fields` (none may contain '\0') sealed with a MAC, in base64.
std::string seal_token(std::string_view kind, const std::vector<std::string>& fields,
                       ByteView secret);
// The fields of a token sealed with the same kind and secret; kInvalidArgument otherwise.
Result<std::vector<std::string>> open_token(std::string_view kind, std::string_view token,
                                            ByteView secret);

// Java's Date.toString() in UTC: "Thu Jan 22 01:22:02 UTC 2015" (spec 7.3 step 3).
std::string java_utc_date(int64_t ms);

}  // namespace sluice::stream::internal
