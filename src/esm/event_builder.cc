#include "esm/event_builder.h"

#include "base/check.h"
#include "base/json_writer.h"

#include <array>

namespace sluice::esm {

namespace {

// The literal text around each variable field of one record, in the order build_event()
// writes it (spec 2.1). record_event_bytes() adds these lengths to the lengths of the
// variable fields; build_event() checks that the two agree.
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
constexpr std::string_view kEventShell = R"({"Records":[]})";

constexpr size_t kRecordLiteralBytes =
    kBeforePartitionKey.size() + kBeforeSequenceNumber.size() + kBeforeData.size() +
    kBeforeArrival.size() + kBeforeEventId.size() + kBeforeRole.size() + kBeforeRegion.size() +
    kBeforeStreamArn.size() + kRecordEnd.size();

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

// Bytes of `s` written by JsonWriter::string without its quotes.
size_t escaped_body_bytes(std::string_view s) {
  size_t n = 0;
  for (const char c : s) n += kEscapedBytes[static_cast<unsigned char>(c)];
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

// Bytes of JsonWriter::epoch_seconds_millis(ms): an optional '-', the whole seconds, '.',
// three digits.
size_t epoch_seconds_millis_bytes(int64_t ms) {
  const uint64_t magnitude = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  return (ms < 0 ? 1 : 0) + decimal_digits(magnitude / 1000) + 4;
}

// Quoted standard base64 with padding: four characters per started group of three bytes.
size_t quoted_base64_bytes(size_t n) { return 2 + 4 * ((n + 2) / 3); }

void write_record(JsonWriter& w, const EventRecord& r, const EventSource& source,
                  std::string& event_id) {
  w.begin_object();
  w.key("kinesis");
  w.begin_object();
  w.member("kinesisSchemaVersion", "1.0");
  w.member("partitionKey", r.partition_key);
  w.member("sequenceNumber", r.sequence_number);
  w.key("data");
  w.base64(r.data);
  w.key("approximateArrivalTimestamp");
  w.epoch_seconds_millis(r.arrival_ms);
  w.end_object();
  w.member("eventSource", "aws:kinesis");
  w.member("eventVersion", "1.0");
  // Reused across the records of one event: grows once, not per record.
  event_id.assign(source.shard_id);
  event_id.push_back(':');
  event_id.append(r.sequence_number);
  w.member("eventID", event_id);
  w.member("eventName", "aws:kinesis:record");
  w.member("invokeIdentityArn", source.role_arn);
  w.member("awsRegion", source.region);
  w.member("eventSourceARN", source.event_source_arn);
  w.end_object();
}

}  // namespace

size_t event_overhead_bytes() { return kEventShell.size(); }

size_t record_event_bytes(const EventRecord& record, const EventSource& source) {
  // eventID is "<shardId>:<sequenceNumber>" escaped as one string; escaping works byte by
  // byte, so its length is the two parts' escaped lengths plus the colon and the quotes.
  return kRecordLiteralBytes + quoted_bytes(record.partition_key) +
         quoted_bytes(record.sequence_number) + quoted_base64_bytes(record.data.size()) +
         epoch_seconds_millis_bytes(record.arrival_ms) + 3 + escaped_body_bytes(source.shard_id) +
         escaped_body_bytes(record.sequence_number) + quoted_bytes(source.role_arn) +
         quoted_bytes(source.region) + quoted_bytes(source.event_source_arn);
}

std::string build_event(std::span<const EventRecord> records, const EventSource& source) {
  size_t expected = event_overhead_bytes();
  for (const EventRecord& r : records) expected += record_event_bytes(r, source);
  if (records.size() > 1) expected += records.size() - 1;

  JsonWriter w;
  w.reserve(expected);
  std::string event_id;
  w.begin_object();
  w.key("Records");
  w.begin_array();
  for (const EventRecord& r : records) write_record(w, r, source, event_id);
  w.end_array();
  w.end_object();
  std::string out = w.take();
  // The batcher packs events to kMaxEventBytes with record_event_bytes(); a wrong size
  // would let an event past the limit.
  SLUICE_CHECK(out.size() == expected, "event of {} bytes, sized as {}", out.size(), expected);
  return out;
}

}  // namespace sluice::esm
