#pragma once

#include "base/base64.h"  // append_base64
#include "base/bytes.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::kinesis {

// Writes one JSON document straight into a std::string, without building a DOM (STYLE.md 6:
// GetRecords JSON goes straight into the response). The caller calls begin/end and key in a
// well-formed order; commas are placed here. Not thread-safe; one writer per response.
class JsonWriter {
 public:
  JsonWriter() { out_.reserve(256); }

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  // A member name; the next value call is its value.
  void key(std::string_view name);

  void string(std::string_view value);  // escaped; UTF-8 passes through
  void integer(int64_t value);
  void boolean(bool value);
  // Standard base64 with '=' padding (spec 3.1 blobs).
  void base64(ByteView bytes);
  // Unix milliseconds as seconds with a 3-digit fraction: 1700000005123 -> 1700000005.123.
  void epoch_seconds_millis(int64_t ms);
  // Unix milliseconds as whole seconds (StreamCreationTimestamp is integer-valued).
  void epoch_seconds(int64_t ms);

  // Convenience: key + value.
  void member(std::string_view name, std::string_view value) {
    key(name);
    string(value);
  }
  void member_int(std::string_view name, int64_t value) {
    key(name);
    integer(value);
  }
  void member_bool(std::string_view name, bool value) {
    key(name);
    boolean(value);
  }

  std::string take() { return std::move(out_); }
  const std::string& text() const { return out_; }

 private:
  void before_value();
  void append_escaped(std::string_view value);

  std::string out_;
  std::vector<bool> has_members_;  // per open container: something was written into it
  bool after_key_ = false;
};

// Base64 (RFC 4648 standard alphabet, padded) of `bytes`, appended to `out`.

// Strict base64 decoding with the SerializationException texts of spec 3.3 (without the
// leading "'<v>' can not be converted to a Blob: "): returns false and sets `error` when
// `text` is not canonical padded base64. `out` receives the decoded bytes.
bool decode_base64(std::string_view text, std::string& out, std::string& error);

}  // namespace sluice::kinesis
