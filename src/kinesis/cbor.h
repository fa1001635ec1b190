#pragma once

#include "base/result.h"

#include <cstddef>
#include <string>
#include <string_view>

// The CBOR 1.1 protocol of the Kinesis API (spec 3.2; docs/wire/kinesis.md, "CBOR"), done as
// a transcoding layer at the protocol boundary: a CBOR request body becomes the JSON 1.1 text
// the JSON path already understands, and the JSON response that path writes becomes CBOR.
// Blob and timestamp members are the only places where the two encodings differ in more than
// syntax, so each operation has a small table of where they sit (kOperationShapes in cbor.cc,
// derived from the service model). Pure functions; thread-safe (json_to_cbor() uses a
// per-thread parser).
namespace sluice::kinesis {

inline constexpr std::string_view kCborContentType = "application/x-amz-cbor-1.1";

struct CborLimits {
  // Nesting of maps and arrays; the Kinesis shapes nest four deep at most.
  size_t max_depth = 32;
};

// Decodes `body`, which must be exactly one CBOR map with text-string keys (definite or
// indefinite lengths, RFC 8949), into equivalent JSON text for the input shape of `operation`
// (an unknown operation has no blob or timestamp members):
//  - a byte string at a blob member becomes its base64 text; elsewhere its bytes are read as
//    a UTF-8 text string (the JSON parser rejects invalid UTF-8 later);
//  - an integer at a timestamp member, tagged 1 or not, is epoch milliseconds and becomes
//    epoch seconds with a 3-digit fraction (1700000005123 -> 1700000005.123); a float there
//    is epoch seconds already;
//  - tags are otherwise ignored; null and undefined become null; other values keep their
//    type, so the type coercion of spec 3.3 reports the same SerializationException texts.
// Returns kInvalidArgument (the reason is for logs, not for clients) when the body is not
// well-formed CBOR, is truncated or has trailing bytes, the top item is not a map, a key is
// not a text string, nesting exceeds `limits.max_depth`, a definite length is more than the
// remaining bytes could hold, a float is not finite (NaN, infinities), or an item is one
// libcbor refuses (unassigned simple values, the one-byte tags 6-20).
Result<std::string> cbor_to_json(std::string_view body, std::string_view operation,
                                 const CborLimits& limits = {});

// Encodes the JSON text of a response (`json` as the JSON path wrote it, or an error
// envelope) as CBOR for the output shape of `operation`: objects become definite-length maps,
// a base64 string at a blob member becomes a byte string, a number at a timestamp member
// (epoch seconds) becomes tag 1 wrapping integer epoch milliseconds, integers stay integers.
// An empty `json` gives an empty body (operations without output). kInvalidArgument when
// `json` does not parse (a bug of the caller: the JSON path writes valid JSON).
Result<std::string> json_to_cbor(std::string_view json, std::string_view operation);

}  // namespace sluice::kinesis
