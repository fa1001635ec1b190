#include "stream/sequence_number.h"

#include "base/check.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <endian.h>

namespace sluice::stream {
namespace {

// Just enough of a 256-bit unsigned integer for sequence numbers: four little-endian limbs.
struct U256 {
  uint64_t w[4] = {0, 0, 0, 0};

  static U256 pow2(int bit) {
    U256 v;
    v.w[bit / 64] = uint64_t{1} << (bit % 64);
    return v;
  }
  // this = this * 10 + d; false on overflow past 2^256.
  bool mul10_add(uint32_t d) {
    unsigned __int128 carry = d;
    for (uint64_t& limb : w) {
      const unsigned __int128 t = static_cast<unsigned __int128>(limb) * 10 + carry;
      limb = static_cast<uint64_t>(t);
      carry = t >> 64;
    }
    return carry == 0;
  }
  // REQUIRES: no overflow (callers add powers of two far below 2^255).
  void add(const U256& o) {
    unsigned __int128 carry = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned __int128 t = static_cast<unsigned __int128>(w[i]) + o.w[i] + carry;
      w[i] = static_cast<uint64_t>(t);
      carry = t >> 64;
    }
  }
  // Divides in place by `d` and returns the remainder.
  uint64_t divmod(uint64_t d) {
    unsigned __int128 rem = 0;
    for (int i = 3; i >= 0; --i) {
      const unsigned __int128 cur = (rem << 64) | w[i];
      w[i] = static_cast<uint64_t>(cur / d);
      rem = cur % d;
    }
    return static_cast<uint64_t>(rem);
  }
  bool is_zero() const { return (w[0] | w[1] | w[2] | w[3]) == 0; }
  int bit_length() const {
    for (int i = 3; i >= 0; --i) {
      if (w[i] != 0) return i * 64 + 64 - __builtin_clzll(w[i]);
    }
    return 0;
  }
  // Nibble `i` counted from the least significant.
  uint32_t nibble(int i) const { return static_cast<uint32_t>((w[i / 16] >> (i % 16 * 4)) & 15); }
  void set_nibble(int i, uint32_t v) {
    w[i / 16] &= ~(uint64_t{15} << (i % 16 * 4));
    w[i / 16] |= uint64_t{v & 15} << (i % 16 * 4);
  }
  auto operator<=>(const U256& o) const {
    for (int i = 3; i >= 0; --i) {
      if (w[i] != o.w[i]) return w[i] <=> o.w[i];
    }
    return std::strong_ordering::equal;
  }
  bool operator==(const U256& o) const = default;
};

constexpr int kDigits = 47;  // hex digits of a version-1/2 number

// The value of hex digits [pos, pos + width) of a `len`-digit number, counted from the most
// significant digit.
uint64_t field(const U256& v, int len, int pos, int width) {
  uint64_t out = 0;
  for (int j = pos; j < pos + width; ++j) out = (out << 4) | v.nibble(len - 1 - j);
  return out;
}

void set_field(U256& v, int pos, int width, uint64_t value) {
  for (int j = pos + width - 1; j >= pos; --j) {
    v.set_nibble(kDigits - 1 - j, static_cast<uint32_t>(value & 15));
    value >>= 4;
  }
}

Status invalid(std::string_view why) { return Status::invalid_argument(why); }

}  // namespace

SequenceNumberText encode_sequence_number(const SequenceFields& f) {
  SLUICE_CHECK(f.creation_s >= 0 && f.creation_s < (int64_t{1} << 36) && f.arrival_s >= 0 &&
                   f.arrival_s < (int64_t{1} << 36) && f.counter <= kMaxSequenceCounter,
               "sequence fields out of range: creation={} counter={} arrival={}", f.creation_s,
               f.counter, f.arrival_s);
  const auto index = static_cast<uint32_t>(f.shard_index);
  U256 v;
  set_field(v, 0, 1, 2);
  set_field(v, 1, 9, static_cast<uint64_t>(f.creation_s));
  set_field(v, 10, 1, index & 15);
  set_field(v, 11, 16, f.counter);
  set_field(v, 27, 2, 0);
  set_field(v, 29, 9, static_cast<uint64_t>(f.arrival_s));
  set_field(v, 38, 8, index);
  set_field(v, 46, 1, 2);

  // Decimal in chunks of 19 digits, least significant first.
  constexpr uint64_t kChunk = 10'000'000'000'000'000'000ull;
  uint64_t chunks[4];
  int n = 0;
  do {
    chunks[n++] = v.divmod(kChunk);
  } while (!v.is_zero());
  // Straight into the fixed buffer (this runs once per record written or read): the most
  // significant chunk without leading zeros, the others as 19 digits each.
  SequenceNumberText out;
  char* p = out.buf_.data();
  char* const end = p + out.buf_.size();
  const auto [first_end, ec] = std::to_chars(p, end, chunks[n - 1]);
  SLUICE_CHECK(ec == std::errc() && end - first_end >= 19 * (n - 1),
               "sequence number does not fit {} digits", out.buf_.size());
  p = first_end;
  for (int i = n - 2; i >= 0; --i) {
    uint64_t chunk = chunks[i];
    for (int k = 18; k >= 0; --k) {
      p[k] = static_cast<char>('0' + chunk % 10);
      chunk /= 10;
    }
    p += 19;
  }
  out.len_ = static_cast<uint8_t>(p - out.buf_.data());
  return out;
}

namespace {

// Decimal addition on ASCII digits, eight at a time (one uint64_t, most significant digit
// first in memory). Each byte of `digit_values` is 0-9.
uint64_t load_digits(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return be64toh(w);  // the last digit in the low byte
}

void store_digits(char* p, uint64_t w) {
  w = htobe64(w);
  std::memcpy(p, &w, 8);
}

// `ascii` + `digit_values` + `carry` (0/1) in decimal; sets `carry` to the carry out.
uint64_t add_digits(uint64_t ascii, uint64_t digit_values, uint64_t& carry) {
  constexpr uint64_t kZeros = 0x3030'3030'3030'3030ull;  // '0' in every byte
  constexpr uint64_t kBias = 0xf6f6'f6f6'f6f6'f6f6ull;   // 256 - 10 in every byte
  constexpr uint64_t kHigh = 0x8080'8080'8080'8080ull;
  // With 246 added, a byte whose digit sum (at most 9 + 9 + 1) reaches 10 overflows into the
  // next byte: the binary carry is the decimal one, and that byte is left holding sum - 10
  // (0-9). A byte that did not overflow holds sum + 246 (246-255, high bit set): take the
  // bias back out of those alone, which borrows nothing.
  const uint64_t s = (ascii - kZeros) + digit_values + kBias + carry;
  carry = (s >> 63) ^ 1;  // the top byte overflowed iff it is now 0-9
  const uint64_t unbiased = s - ((s & kHigh) >> 7) * 0xf6;
  return unbiased + kZeros;
}

// 16^20 (the counter's least significant hex digit in the 47-digit layout) in decimal,
// "1208925819614629174706176", as four words of digit values, least significant word first.
constexpr std::string_view kCounterStep = "1208925819614629174706176";
constexpr size_t kWindow = 32;  // the digits the run case rewrites: four words
constexpr std::array<uint64_t, 4> kStepWords = [] {
  std::array<char, kWindow> digits{};
  const size_t pad = kWindow - kCounterStep.size();
  for (size_t i = 0; i < kWindow; ++i) digits[i] = i < pad ? 0 : char(kCounterStep[i - pad] - '0');
  std::array<uint64_t, 4> w{};
  for (size_t k = 0; k < 4; ++k) {  // word k holds digits [kWindow - 8(k+1), kWindow - 8k)
    for (size_t j = 0; j < 8; ++j) {
      w[k] = w[k] << 8 | uint64_t(uint8_t(digits[kWindow - 8 * (k + 1) + j]));
    }
  }
  return w;
}();

}  // namespace

SequenceNumberText SequenceNumberEncoder::encode(const SequenceFields& f) {
  SequenceNumberText out;
  encode_to(f, out);
  return out;
}

void SequenceNumberEncoder::encode_to(const SequenceFields& f, SequenceNumberText& out) {
  // The run case adds 16^20 to the previous number in decimal, on its last kWindow digits
  // (a carry out of them is rare: encoded in full then). Those digits are read from text_
  // as the words the previous call stored, and stored both to text_ and to `out`; the rest
  // of `out` is copied from text_, where only a full encoding writes it.
  if (primed_ && f.creation_s == last_.creation_s && f.shard_index == last_.shard_index &&
      f.arrival_s == last_.arrival_s && last_.counter < kMaxSequenceCounter &&
      f.counter == last_.counter + 1 && text_.len_ >= kWindow) {
    char* const window = text_.buf_.data() + text_.len_ - kWindow;
    uint64_t carry = 0;
    std::array<uint64_t, 4> sum{};
    for (size_t k = 0; k < 4; ++k) {
      sum[k] = add_digits(load_digits(window + kWindow - 8 * (k + 1)), kStepWords[k], carry);
    }
    if (carry == 0) {
      const size_t head = text_.len_ - kWindow;
      std::memcpy(out.buf_.data(), text_.buf_.data(), head);
      for (size_t k = 0; k < 4; ++k) {
        store_digits(window + kWindow - 8 * (k + 1), sum[k]);
        store_digits(out.buf_.data() + head + kWindow - 8 * (k + 1), sum[k]);
      }
      out.len_ = text_.len_;
      // Only the counter differs. (Copying all of `f`, which callers have just built field
      // by field, stalls on store forwarding.)
      last_.counter = f.counter;
      return;
    }
  }
  last_ = f;
  text_ = encode_sequence_number(f);
  primed_ = true;
  out = text_;
}

Result<ParsedSequenceNumber> parse_sequence_number(std::string_view decimal) {
  if (decimal.empty() || decimal.size() > 129 || (decimal.size() > 1 && decimal[0] == '0')) {
    return invalid("not a decimal number");
  }
  U256 v;
  for (char c : decimal) {
    if (c < '0' || c > '9') return invalid("not a decimal number");
    if (!v.mul10_add(static_cast<uint32_t>(c - '0'))) return invalid("out of range");
  }
  // Step 1: small values are read as if 2^124 had been added (legacy numbers).
  if (v < U256::pow2(124)) v.add(U256::pow2(124));

  auto legacy = [&](const U256& x, int len) -> Result<ParsedSequenceNumber> {
    ParsedSequenceNumber p;
    p.version = 0;
    p.creation_s = static_cast<int64_t>(field(x, len, 1, 9));
    p.shard_index = static_cast<int32_t>(field(x, len, 28, 4));
    if (p.creation_s >= kMaxSequenceCreationSeconds) return invalid("date too large");
    return p;
  };

  if (v < U256::pow2(129)) return legacy(v, (v.bit_length() + 3) / 4);  // step 3: format 0

  U256 upper = U256::pow2(184);
  upper.add(U256::pow2(185));  // 3 * 2^184
  if (!(U256::pow2(185) < v && v < upper)) return invalid("out of range");

  // 47 hex digits, the first one 2 (step 4).
  const auto version = static_cast<int>(field(v, kDigits, 46, 1));
  if (version == 0) return legacy(v, kDigits);
  if (version != 1 && version != 2) return invalid(fmt::format("unknown version {}", version));

  ParsedSequenceNumber p;
  p.version = version;
  p.creation_s = static_cast<int64_t>(field(v, kDigits, 1, 9));
  p.shard_index = static_cast<int32_t>(static_cast<uint32_t>(field(v, kDigits, 38, 8)));
  if (version == 2) {
    if (field(v, kDigits, 11, 1) > 7) return invalid("counter too high");
    p.counter = field(v, kDigits, 11, 16);
    p.arrival_s = static_cast<int64_t>(field(v, kDigits, 29, 9));
  } else {
    // Version 1: creation 1-9, reserved 11-12, arrival 13-21, random 22-35, counter 36-37,
    // shard index 38-45.
    p.counter = field(v, kDigits, 36, 2);
    p.arrival_s = static_cast<int64_t>(field(v, kDigits, 13, 9));
  }
  if (p.creation_s >= kMaxSequenceCreationSeconds) return invalid("date too large");
  return p;
}

}  // namespace sluice::stream
