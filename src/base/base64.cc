#include "base/base64.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <endian.h>

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

// The value of each byte as the digit at position `pos` (0-3) of a group, already shifted to
// its place in the group's 24 bits; a byte outside the alphabet sets bit 24 instead (no valid
// group reaches it). OR-ing four loads gives a group's bits and whether all four were valid.
constexpr uint32_t kBad = 1u << 24;
constexpr std::array<std::array<uint32_t, 256>, 4> kPlaced = [] {
  std::array<std::array<uint32_t, 256>, 4> t{};
  for (int pos = 0; pos < 4; ++pos) {
    for (int c = 0; c < 256; ++c) {
      const int v = kValues[static_cast<size_t>(c)];
      t[static_cast<size_t>(pos)][static_cast<size_t>(c)] =
          v < 0 ? kBad : static_cast<uint32_t>(v) << (18 - 6 * pos);
    }
  }
  return t;
}();

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

namespace {

// Every check, character by character, in the order of Base64Failure: the reference decoder,
// and the one that finds which failure a rejected text has. Appends to `out`; on failure
// `out` is cut back to its size on entry.
std::optional<Base64Failure> decode_checked(std::string_view text, std::string& out) {
  using Kind = Base64Failure::Kind;
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
  const size_t start = out.size();
  out.resize(start + text.size() / 4 * 3 - pad);  // written through a pointer
  char* p = out.data() + start;
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      v = v << 6 | uint32_t(c == '=' ? 0 : value_of(c));
    }
    // Canonical: the bits under the padding must be zero (re-encoding gives the same text).
    if (last && ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))) {
      out.resize(start);
      return Base64Failure{Kind::kNonCanonical};
    }
    *p++ = static_cast<char>(v >> 16);
    if (!last || pad < 2) *p++ = static_cast<char>((v >> 8) & 0xff);
    if (!last || pad < 1) *p++ = static_cast<char>(v & 0xff);
  }
  return std::nullopt;
}

}  // namespace

std::optional<Base64Failure> base64_decode_append(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0 || text.empty()) return decode_checked(text, out);
  // Every group but the last holds four alphabet characters in any valid text (a '=' there
  // is followed by a non-'=' character, which is kCharacter). They are decoded in one pass
  // with one table load per character (kPlaced), OR-ing the groups to detect anything outside
  // the alphabet (kBad); the last group, where padding may sit, follows. Only a text that
  // fails either check is scanned again, by decode_checked() from the start, so that the
  // failure reported is the one the character-by-character order finds.
  const size_t start = out.size();
  const size_t body = text.size() - 4;
  const size_t body_bytes = body / 4 * 3;
  // One spare byte: each group is stored as four bytes, the fourth overwritten by the next.
  out.resize(start + body_bytes + 1);
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  char* p = out.data() + start;
  uint32_t bad = 0;
  for (size_t i = 0; i < body; i += 4, p += 3) {
    const uint32_t v =
        kPlaced[0][in[i]] | kPlaced[1][in[i + 1]] | kPlaced[2][in[i + 2]] | kPlaced[3][in[i + 3]];
    bad |= v;
    // The group's three bytes, most significant first, then one that the next overwrites.
    const uint32_t be = htobe32(v << 8);
    std::memcpy(p, &be, 4);
  }
  out.resize(start + body_bytes);
  if ((bad & kBad) != 0) {
    out.resize(start);
    return decode_checked(text, out);
  }
  // The last group: four alphabet characters, or two or three and then padding whose bits
  // are zero. Anything else (a failure, or "=" in an odd place) is left to decode_checked().
  const unsigned char* last = in + body;
  const uint32_t pad = (last[3] == '=' ? 1u : 0u) + (last[3] == '=' && last[2] == '=' ? 1u : 0u);
  const uint32_t v = kPlaced[0][last[0]] | kPlaced[1][last[1]] |
                     (pad < 2 ? kPlaced[2][last[2]] : 0) | (pad < 1 ? kPlaced[3][last[3]] : 0);
  const uint32_t under_pad = pad == 0 ? 0 : pad == 1 ? (v & 0xff) : (v & 0xffff);
  if ((v & kBad) != 0 || under_pad != 0) {
    out.resize(start);
    return decode_checked(text, out);
  }
  const char group[3] = {static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
  out.append(group, 3 - pad);
  return std::nullopt;
}

std::optional<Base64Failure> base64_decode(std::string_view text, std::string& out) {
  out.clear();
  return base64_decode_append(text, out);
}

}  // namespace sluice
