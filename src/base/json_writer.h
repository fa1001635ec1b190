#pragma once

#include "base/bytes.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Writes one JSON document straight into a std::string, without building a DOM (STYLE.md 6:
// GetRecords JSON goes straight into the response). Shared by the Kinesis and Lambda APIs. The
// caller calls begin/end and key in a well-formed order; commas are placed here. Not thread-safe;
// one writer per response.
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
  void null();
  // REQUIRES: `json` is one complete, valid JSON value (e.g. minified by simdjson).
  void raw(std::string_view json);
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

  // Room for `bytes` more output, for callers that can estimate a large document's size.
  void reserve(size_t bytes) { out_.reserve(out_.size() + bytes); }
  std::string take() { return std::move(out_); }
  const std::string& text() const { return out_; }

 private:
  void before_value();
  void append_escaped(std::string_view value);

  std::string out_;
  std::vector<bool> has_members_;  // per open container: something was written into it
  bool after_key_ = false;
};

}  // namespace sluice
