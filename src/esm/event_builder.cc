#include "esm/event_builder.h"

#include "base/base64.h"
#include "base/check.h"

#include <array>
#include <charconv>
#include <cstring>
#include <vector>

namespace sluice::esm {

namespace {

// The literal text around each variable field of one record, in the order build() writes it
// (spec 2.1). own_bytes() and shared_bytes() add these lengths to the lengths of the variable
// fields; build() checks that each record's bytes agree with them.
constexpr std::string_view kBeforePartitionKey =
    R"({"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":)";
constexpr std::string_view kBeforeSequenceNumber = R"(,"sequenceNumber":)";
constexpr std::string_view kBeforeData = R"(,"data":)";
constexpr std::string_view kBeforeArrival = R"(,"approximateArrivalTimestamp":)";
constexpr std::string_view kBeforeEventId =
    R"(},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":)";
constexpr std::string_view kBeforeRole =
    R"(,"eventName":"aws:kinesis:record","invokeIdentityArn":)";
constexpr std::string_view kBeforeRegion = R"(,"awsRegion":)";
constexpr std::string_view kBeforeStreamArn = R"(,"eventSourceARN":)";
constexpr std::string_view kRecordEnd = "}";
constexpr std::string_view kEventHead = R"({"Records":[)";
constexpr std::string_view kEventEnd = "]}";

// Literal bytes of a record that own_bytes() counts: everything up to the eventID.
constexpr size_t kOwnLiteralBytes = kBeforePartitionKey.size() + kBeforeSequenceNumber.size() +
                                    kBeforeData.size() + kBeforeArrival.size() +
                                    kBeforeEventId.size();

// Output bytes per input byte of JsonWriter::string (base/json_writer.cc): '"' and '\\' and
// the short escapes \n \r \t take two; other control characters take six (\u00XX); every
// other byte, UTF-8 included, passes through.
constexpr std::array<uint8_t, 256> kEscapedBytes = [] {
  std::array<uint8_t, 256> t{};
  for (size_t c = 0; c < t.size(); ++c) t[c] = 1;
  for (size_t c = 0; c < 0x20; ++c) t[c] = 6;
  t['\n'] = 2;
  t['\r'] = 2;
  t['\t'] = 2;
  t['"'] = 2;
  t['\\'] = 2;
  return t;
}();

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// True when some byte of `v` is a control character, '"' or '\\': one that escaping
// changes. Exact as a whole (the classic "has a zero byte" and "has a byte less than n"
// tests, exact for n <= 128), though it does not say which byte.
bool any_needs_escape(uint64_t v) {
  const uint64_t quote = v ^ (kOnes * '"');
  const uint64_t backslash = v ^ (kOnes * '\\');
  const uint64_t control = (v - kOnes * 0x20) & ~v;
  return (((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | control) & kHighBits;
}

// Length of the longest prefix of [p, end) that escaping leaves as it is. Eight bytes at a
// time: keys, sequence numbers and ARNs rarely hold a byte to escape.
size_t clean_prefix(const char* p, const char* end) {
  const char* const start = p;
  while (end - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    if (any_needs_escape(v)) break;
    p += 8;
  }
  while (p != end && kEscapedBytes[static_cast<unsigned char>(*p)] == 1) ++p;
  return static_cast<size_t>(p - start);
}

// Bytes of `s` written by JsonWriter::string without its quotes.
size_t escaped_body_bytes(std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
  size_t n = 0;
  while (p != end) {
    const size_t clean = clean_prefix(p, end);
    n += clean;
    p += clean;
    if (p == end) break;
    n += kEscapedBytes[static_cast<unsigned char>(*p++)];
  }
  return n;
}

size_t quoted_bytes(std::string_view s) { return 2 + escaped_body_bytes(s); }

size_t decimal_digits(uint64_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

uint64_t magnitude(int64_t v) {
  return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
}

// Bytes of JsonWriter::epoch_seconds_millis(ms): an optional '-', the whole seconds, '.',
// three digits.
size_t epoch_seconds_millis_bytes(int64_t ms) {
  return (ms < 0 ? 1 : 0) + decimal_digits(magnitude(ms) / 1000) + 4;
}

// Quoted standard base64 with padding.
size_t quoted_base64_bytes(size_t n) { return 2 + base64_length(n); }

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// `s` escaped as JsonWriter::string escapes it, without quotes. Runs that need no escaping
// (nearly always the whole text) are copied whole.
char* put_escaped_body(char* p, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* in = s.data();
  const char* const end = in + s.size();
  while (in != end) {
    const size_t clean = clean_prefix(in, end);
    std::memcpy(p, in, clean);
    p += clean;
    in += clean;
    if (in == end) break;
    const auto c = static_cast<unsigned char>(*in++);
    *p++ = '\\';
    switch (c) {
      case '"':
      case '\\':
        *p++ = static_cast<char>(c);
        break;
      case '\n':
        *p++ = 'n';
        break;
      case '\r':
        *p++ = 'r';
        break;
      case '\t':
        *p++ = 't';
        break;
      default:  // another control character
        p = put(p, "u00");
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 15];
    }
  }
  return p;
}

char* put_quoted(char* p, std::string_view s) {
  *p++ = '"';
  p = put_escaped_body(p, s);
  *p++ = '"';
  return p;
}

// As JsonWriter::epoch_seconds_millis: 1700000005123 -> 1700000005.123.
char* put_epoch_seconds_millis(char* p, int64_t ms) {
  if (ms < 0) *p++ = '-';
  const uint64_t m = magnitude(ms);
  p = std::to_chars(p, p + 20, m / 1000).ptr;  // 20 digits hold any uint64_t
  const auto frac = static_cast<unsigned>(m % 1000);
  *p++ = '.';
  *p++ = static_cast<char>('0' + frac / 100);
  *p++ = static_cast<char>('0' + frac / 10 % 10);
  *p++ = static_cast<char>('0' + frac % 10);
  return p;
}

}  // namespace

EventBuilder::EventBuilder(const EventSource& source) {
  event_id_prefix_.resize(1 + escaped_body_bytes(source.shard_id) + 1);
  char* p = event_id_prefix_.data();
  *p++ = '"';
  p = put_escaped_body(p, source.shard_id);
  *p++ = ':';

  record_tail_.resize(1 + kBeforeRole.size() + quoted_bytes(source.role_arn) +
                      kBeforeRegion.size() + quoted_bytes(source.region) + kBeforeStreamArn.size() +
                      quoted_bytes(source.event_source_arn) + kRecordEnd.size());
  p = record_tail_.data();
  *p++ = '"';  // closes the eventID
  p = put(p, kBeforeRole);
  p = put_quoted(p, source.role_arn);
  p = put(p, kBeforeRegion);
  p = put_quoted(p, source.region);
  p = put(p, kBeforeStreamArn);
  p = put_quoted(p, source.event_source_arn);
  p = put(p, kRecordEnd);
  SLUICE_CHECK(p == record_tail_.data() + record_tail_.size(), "record tail of {} bytes, sized {}",
               p - record_tail_.data(), record_tail_.size());
  shared_bytes_ = event_id_prefix_.size() + record_tail_.size();
}

namespace {

// The escaped lengths of a record's strings, found while sizing and used again while writing:
// a string that escaping leaves as it is (nearly every one) is then copied without a look.
struct EscapedSizes {
  size_t partition_key = 0;
  size_t sequence_number = 0;
};

EscapedSizes escaped_sizes(const EventRecord& r) {
  return {escaped_body_bytes(r.partition_key), escaped_body_bytes(r.sequence_number)};
}

// own_bytes() from the escaped sizes. The sequence number is written twice: as itself and
// inside the eventID (whose shard prefix and closing quote are shared). Escaping works byte
// by byte, so the parts' lengths add up.
size_t own_bytes_of(const EventRecord& r, const EscapedSizes& e) {
  return kOwnLiteralBytes + 2 + e.partition_key + 2 + 2 * e.sequence_number +
         quoted_base64_bytes(r.data.size()) + epoch_seconds_millis_bytes(r.arrival_ms);
}

// put_escaped_body() when the escaped length is known: a plain copy when escaping changes
// nothing.
char* put_escaped_body_sized(char* p, std::string_view s, size_t escaped) {
  return escaped == s.size() ? put(p, s) : put_escaped_body(p, s);
}

}  // namespace

size_t EventBuilder::own_bytes(const EventRecord& record) {
  return own_bytes_of(record, escaped_sizes(record));
}

std::string EventBuilder::build(std::span<const EventRecord> records) const {
  std::vector<EscapedSizes> sizes;
  sizes.reserve(records.size());
  size_t expected = kEventHead.size() + kEventEnd.size();
  for (const EventRecord& r : records) {
    sizes.push_back(escaped_sizes(r));
    expected += own_bytes_of(r, sizes.back()) + shared_bytes_;
  }
  if (records.size() > 1) expected += records.size() - 1;

  // Sized once; every byte is written in place below. Each record is checked against its
  // computed size as soon as it is written, before the next one starts: the batcher packs
  // events to kMaxEventBytes with these sizes, so a wrong one must stop the server rather
  // than let an event past the limit.
  std::string out(expected, '\0');
  char* p = out.data();
  p = put(p, kEventHead);
  for (size_t i = 0; i < records.size(); ++i) {
    const EventRecord& r = records[i];
    const EscapedSizes& e = sizes[i];
    if (i > 0) *p++ = ',';
    char* const start = p;
    p = put(p, kBeforePartitionKey);
    *p++ = '"';
    p = put_escaped_body_sized(p, r.partition_key, e.partition_key);
    *p++ = '"';
    p = put(p, kBeforeSequenceNumber);
    *p++ = '"';
    p = put_escaped_body_sized(p, r.sequence_number, e.sequence_number);
    *p++ = '"';
    p = put(p, kBeforeData);
    *p++ = '"';
    p = write_base64(p, r.data);
    *p++ = '"';
    p = put(p, kBeforeArrival);
    p = put_epoch_seconds_millis(p, r.arrival_ms);
    p = put(p, kBeforeEventId);
    p = put(p, event_id_prefix_);
    p = put_escaped_body_sized(p, r.sequence_number, e.sequence_number);
    p = put(p, record_tail_);
    const size_t want = own_bytes_of(r, e) + shared_bytes_;
    SLUICE_CHECK(static_cast<size_t>(p - start) == want,
                 "record of {} bytes in an event, sized as {}", p - start, want);
  }
  p = put(p, kEventEnd);
  SLUICE_CHECK(p == out.data() + out.size(), "event of {} bytes, sized as {}", p - out.data(),
               out.size());
  return out;
}

size_t event_overhead_bytes() { return kEventHead.size() + kEventEnd.size(); }

size_t record_event_bytes(const EventRecord& record, const EventSource& source) {
  return EventBuilder(source).record_bytes(record);
}

std::string build_event(std::span<const EventRecord> records, const EventSource& source) {
  return EventBuilder(source).build(records);
}

}  // namespace sluice::esm
