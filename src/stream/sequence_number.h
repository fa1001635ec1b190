#pragma once

#include "base/result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::stream {

// Sequence numbers, spec section 6. Sluice writes the version-2 layout of 6.2: a 47-hex-digit
// (188-bit) integer rendered in decimal (56 digits for present-day dates), nibbles from the
// most significant:
//
//   0      constant 2
//   1-9    shard creation time, whole seconds since the epoch
//   10     low nibble of the shard index
//   11-26  record counter, 63 bits (per stream, strictly increasing, see docs/stream.md)
//   27-28  reserved, 00
//   29-37  record arrival time, whole seconds since the epoch
//   38-45  shard index, 32-bit two's complement
//   46     format version, 2
//
// Within a shard the counter orders records, so numbers grow strictly in append order.
// A shard's StartingSequenceNumber has counter 0 (arrival = creation); a closed shard's
// EndingSequenceNumber has counter kMaxSequenceCounter (arrival = close time).

inline constexpr uint64_t kMaxSequenceCounter = 0x7fff'ffff'ffff'ffffull;
// Creation times at or above this are rejected by the parser ("date too large", 6.5).
inline constexpr int64_t kMaxSequenceCreationSeconds = 16'025'175'000;

struct SequenceFields {
  int64_t creation_s = 0;  // 0 .. 16^9 - 1
  int32_t shard_index = 0;
  uint64_t counter = 0;   // 0 .. kMaxSequenceCounter
  int64_t arrival_s = 0;  // 0 .. 16^9 - 1
};

// A decimal sequence number held inline (no heap allocation), for the read path.
class SequenceNumberText {
 public:
  std::string_view view() const { return {buf_.data(), len_}; }
  std::string str() const { return std::string(view()); }
  bool operator==(const SequenceNumberText& o) const { return view() == o.view(); }

 private:
  friend SequenceNumberText encode_sequence_number(const SequenceFields& f);
  friend class SequenceNumberEncoder;
  std::array<char, 64> buf_{};
  uint8_t len_ = 0;
};

// The version-2 number of `f`. REQUIRES: every field within the ranges above.
SequenceNumberText encode_sequence_number(const SequenceFields& f);

// encode_sequence_number() for runs: the records of one append (and of most reads) differ
// only in their counter, one apart. Such a number is the previous one plus 16^20 (the
// counter's lowest hex digit), added in decimal, instead of a full base conversion. Anything
// else is encoded in full. One per run of calls; not thread-safe.
class SequenceNumberEncoder {
 public:
  SequenceNumberText encode(const SequenceFields& f);
  // The same, written into `out` (e.g. an element of a result vector): the run case then
  // stores the new digits without reading back what it has just written.
  void encode_to(const SequenceFields& f, SequenceNumberText& out);

 private:
  bool primed_ = false;
  SequenceFields last_{};
  SequenceNumberText text_{};
};

// What a client-supplied number encodes (6.5).
struct ParsedSequenceNumber {
  // 2: the layout above; 1: the older layout (parse only); 0: the legacy short format, which
  // GetShardIterator answers with InternalFailure.
  int version = 2;
  int64_t creation_s = 0;
  int32_t shard_index = 0;
  uint64_t counter = 0;              // version 0 carries none: 0
  std::optional<int64_t> arrival_s;  // versions 1 and 2
};

// Parses a decimal sequence number by the rules of 6.5. kInvalidArgument, with the reason in
// the message ("not a decimal number", "counter too high", "date too large", "unknown
// version 3", ...), for every number the spec calls invalid; callers replace the message with
// the operation's own text. Input must match 0|([1-9][0-9]{0,128}).
Result<ParsedSequenceNumber> parse_sequence_number(std::string_view decimal);

}  // namespace sluice::stream
