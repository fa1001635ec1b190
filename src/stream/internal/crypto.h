#pragma once

#include "base/bytes.h"
#include "base/result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Thin wrappers over OpenSSL's libcrypto (EVP digests, HMAC, RAND) and a strict base64 codec.
// Stateless and thread-safe.
namespace sluice::stream::internal {

using Md5Digest = std::array<uint8_t, 16>;
using Sha256Mac = std::array<uint8_t, 32>;

Md5Digest md5(ByteView data);
// HMAC-SHA256 of `data` under `key`.
Sha256Mac hmac_sha256(ByteView key, ByteView data);
// True when `a` and `b` are equal, in time independent of where they differ.
bool constant_time_equal(ByteView a, ByteView b);
// `n` bytes from the OpenSSL CSPRNG; kInternal when it cannot deliver.
Result<std::string> random_bytes(size_t n);

// Standard alphabet, '=' padding, no line breaks.
std::string base64_encode(ByteView data);
// Only canonical input: length a multiple of 4, standard alphabet, correct padding, and
// unused low bits of the last symbol zero (so re-encoding reproduces the input). nullopt
// otherwise.
std::optional<std::string> base64_decode(std::string_view text);

// Lowercase hex, and its strict inverse (even length, [0-9a-f] only).
std::string hex_encode(ByteView data);
std::optional<std::string> hex_decode(std::string_view text);

}  // namespace sluice::stream::internal
