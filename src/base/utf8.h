#pragma once

#include <string_view>

namespace sluice {

// Whether `s` is well-formed UTF-8: no overlong forms, surrogates or code points past
// U+10FFFF (simdjson's validator, SIMD-fast).
bool valid_utf8(std::string_view s);

// The replacement character U+FFFD in UTF-8, for bytes of text that is not UTF-8. Where
// client bytes are echoed into a JSON or XML document, Sluice replaces every byte >= 0x80 of
// text that fails valid_utf8() with it: the document stays well-formed and the ASCII stays
// readable.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

}  // namespace sluice
