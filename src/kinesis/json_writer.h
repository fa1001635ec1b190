#pragma once

#include "base/base64.h"  // append_base64
#include "base/bytes.h"
#include "base/json_writer.h"

#include <string>
#include <string_view>

namespace sluice::kinesis {

using sluice::JsonWriter;  // base/json_writer.h

// Strict base64 decoding with the SerializationException texts of spec 3.3 (without the
// leading "'<v>' can not be converted to a Blob: "): returns false and sets `error` when
// `text` is not canonical padded base64. `out` receives the decoded bytes.
bool decode_base64(std::string_view text, std::string& out, std::string& error);
// The same, appending the decoded bytes to `out` and keeping what it held (base64_decode_append
// in base/base64.h); on failure `out` keeps its size.
bool decode_base64_append(std::string_view text, std::string& out, std::string& error);

}  // namespace sluice::kinesis
