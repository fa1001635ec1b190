#pragma once

#include <cstdint>
#include <optional>
#include <simdjson.h>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::kinesis {

// Reads the members of one JSON 1.1 request object with the type coercion of spec 3.3.
// Each getter returns nullopt for an absent or null member; a member of the wrong type also
// gives nullopt and records the SerializationException message of 3.3 (the first one wins;
// later getters then return nullopt). Callers read members in the shape's canonical order.
// Views point into the parser's buffer and stay valid while the parsed document does.
class MemberReader {
 public:
  explicit MemberReader(simdjson::dom::object object) : object_(object) {}

  std::optional<std::string_view> string(std::string_view name);
  // Integer: a number is floored and clamped to the int32 range (no error).
  std::optional<int64_t> integer(std::string_view name);
  std::optional<bool> boolean(std::string_view name);
  // Blob: strict base64 (3.3), decoded into `storage` (which must outlive the use).
  std::optional<std::string_view> blob(std::string_view name, std::string& storage);
  // Blob appended to `arena` (earlier contents stay, but may move when it grows): returns
  // the decoded length, the bytes being the last that many of `arena`. Absent, null or
  // failed: nullopt, `arena` keeps its size. For many blobs in one buffer (PutRecords).
  std::optional<size_t> blob_append(std::string_view name, std::string& arena);
  // Timestamp: epoch seconds (integers and decimals).
  std::optional<double> timestamp(std::string_view name);
  std::optional<simdjson::dom::object> structure(std::string_view name);
  std::optional<simdjson::dom::array> list(std::string_view name);
  std::optional<simdjson::dom::object> map(std::string_view name);

  // Coercion of one list element / map value read elsewhere (same rules, same first-error
  // bookkeeping). `elem` is never null here: null elements are the caller's business.
  std::optional<std::string_view> string_value(simdjson::dom::element elem);
  std::optional<simdjson::dom::object> structure_value(simdjson::dom::element elem);

  bool failed() const { return !error_.empty(); }
  // The SerializationException message (key "Message").
  const std::string& error() const { return error_; }
  // Shares the error slot with a nested reader (for list elements and structures).
  void adopt_error(const MemberReader& nested) {
    if (error_.empty()) error_ = nested.error_;
  }

 private:
  std::optional<simdjson::dom::element> find(std::string_view name);
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  simdjson::dom::object object_;
  std::string error_;
};

// Collects the constraint violations of spec 3.4 in the order they are checked and renders
// the ValidationException message. At most 10 are kept.
class Validator {
 public:
  // `rendered`: the value as the message shows it, without quotes; nullopt renders `null`.
  void add(std::string_view path, std::optional<std::string_view> rendered, std::string_view rule);

  void required(std::string_view path, bool present);
  // Numeric min/max (either may be absent).
  void int_range(std::string_view path, std::optional<int64_t> value, std::optional<int64_t> min,
                 std::optional<int64_t> max);
  // The checks of a string member after not-null, in the canonical order: regex, length min,
  // length max. `pattern` is the regex as printed (empty: none); lengths are in UTF-16 code
  // units, as the service (Java) counts them.
  enum class Pattern {
    kNone,
    kName,
    kHashKey,
    kSequenceNumber,
    kStreamArn,
    kConsumerArn,
    kResourceArn,
  };
  void string(std::string_view path, std::optional<std::string_view> value, Pattern pattern,
              std::optional<size_t> min_len, std::optional<size_t> max_len);
  void enumeration(std::string_view path, std::optional<std::string_view> value,
                   const std::vector<std::string_view>& allowed);
  // A blob's decoded length against a maximum.
  void blob_max(std::string_view path, std::optional<size_t> decoded_len, size_t max_len);

  bool ok() const { return count_ == 0; }
  // "N validation error(s) detected: v1; v2; ..."
  std::string message() const;

 private:
  std::vector<std::string> clauses_;
  size_t count_ = 0;
};

// Whether `text` matches the regexes of spec 3.4 (anchored).
bool matches_name(std::string_view text);             // [a-zA-Z0-9_.-]+
bool matches_hash_key(std::string_view text);         // 0|([1-9]\d{0,38})
bool matches_sequence_number(std::string_view text);  // 0|([1-9]\d{0,128})
bool matches_stream_arn(std::string_view text);       // arn:aws.*:kinesis:.*:\d{12}:stream/\S+
// ^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+
bool matches_consumer_arn(std::string_view text);
bool matches_resource_arn(std::string_view text);  // arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+
// Length in UTF-16 code units of UTF-8 `text` (invalid bytes count one each).
size_t utf16_length(std::string_view text);

}  // namespace sluice::kinesis
