#pragma once

#include "base/bytes.h"

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// Standard base64 (RFC 4648 alphabet, '=' padding), the one codec every layer uses.

// Characters of the base64 text of `n` bytes: four per started group of three.
constexpr size_t base64_length(size_t n) { return (n + 2) / 3 * 4; }
// Writes the base64 text of `bytes` at `out` and returns one past its end.
// REQUIRES: room for base64_length(bytes.size()) characters at `out`.
char* write_base64(char* out, ByteView bytes);
// Appends the base64 text of `bytes` to `out`.
void append_base64(std::string& out, ByteView bytes);
std::string base64_encode(ByteView bytes);

// Why a text is not strict base64. Checked in this order: the length, then every character
// (the alphabet, and nothing but '=' after the first '='), then the padding (at most two
// '=', and zero bits under it, so that only the canonical text of some bytes decodes).
struct Base64Failure {
  enum class Kind { kLength, kCharacter, kNonCanonical };
  Kind kind;
  char character = 0;  // the offending character, for kCharacter
};

// Decodes strict base64 into `out` (cleared first). Returns the failure, or nullopt.
std::optional<Base64Failure> base64_decode(std::string_view text, std::string& out);
// Decodes strict base64 and appends the bytes to `out`, leaving what `out` held before in
// place: many blobs can share one buffer (one allocation for a whole request). On failure
// `out` is as it was (its size; its capacity may have grown). Same checks, same order, as
// base64_decode().
std::optional<Base64Failure> base64_decode_append(std::string_view text, std::string& out);

}  // namespace sluice
