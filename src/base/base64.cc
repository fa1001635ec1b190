#include "base/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace sluice {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The value of each byte as a base64 digit, -1 outside the alphabet: one load per character.
constexpr std::array<int8_t, 256> kValues = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}();

int value_of(char c) { return kValues[static_cast<unsigned char>(c)]; }

// The two characters of every 12-bit value: half the loads of one character per 6 bits.
constexpr std::array<std::array<char, 2>, 4096> kPairs = [] {
  std::array<std::array<char, 2>, 4096> t{};
  for (size_t v = 0; v < t.size(); ++v) t[v] = {kAlphabet[v >> 6], kAlphabet[v & 63]};
  return t;
}();

}  // namespace

char* write_base64(char* out, ByteView bytes) {
  const size_t n = bytes.size();
  const std::byte* in = bytes.data();
  size_t i = 0;
  // Whole groups, two characters per table load (12 bits each).
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = uint32_t(in[i]) << 16 | uint32_t(in[i + 1]) << 8 | uint32_t(in[i + 2]);
    std::memcpy(out, &kPairs[v >> 12], 2);
    std::memcpy(out + 2, &kPairs[v & 0xfff], 2);
    out += 4;
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t(in[i]) << 16;
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = '=';
    *out++ = '=';
  } else if (n - i == 2) {
    const uint32_t v = uint32_t(in[i]) << 16 | uint32_t(in[i + 1]) << 8;
    *out++ = kAlphabet[v >> 18];
    *out++ = kAlphabet[(v >> 12) & 63];
    *out++ = kAlphabet[(v >> 6) & 63];
    *out++ = '=';
  }
  return out;
}

void append_base64(std::string& out, ByteView bytes) {
  const size_t start = out.size();
  out.resize(start + base64_length(bytes.size()));
  write_base64(out.data() + start, bytes);
}

std::string base64_encode(ByteView bytes) {
  std::string out;
  append_base64(out, bytes);
  return out;
}

std::optional<Base64Failure> base64_decode(std::string_view text, std::string& out) {
  using Kind = Base64Failure::Kind;
  out.clear();
  if (text.size() % 4 != 0) return Base64Failure{Kind::kLength};
  bool seen_pad = false;
  for (const char c : text) {
    if (c == '=') {
      seen_pad = true;
    } else if (value_of(c) < 0 || seen_pad) {
      return Base64Failure{Kind::kCharacter, c};
    }
  }
  size_t pad = 0;
  while (pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  if (pad > 2) return Base64Failure{Kind::kNonCanonical};
  out.resize(text.size() / 4 * 3 - pad);  // written through a pointer, as in append_base64
  char* p = out.data();
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      v = v << 6 | uint32_t(c == '=' ? 0 : value_of(c));
    }
    // Canonical: the bits under the padding must be zero (re-encoding gives the same text).
    if (last && ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))) {
      out.clear();
      return Base64Failure{Kind::kNonCanonical};
    }
    *p++ = static_cast<char>(v >> 16);
    if (!last || pad < 2) *p++ = static_cast<char>((v >> 8) & 0xff);
    if (!last || pad < 1) *p++ = static_cast<char>(v & 0xff);
  }
  return std::nullopt;
}

}  // namespace sluice
