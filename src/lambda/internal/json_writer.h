#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::lambda::internal {

// Writes one JSON document straight into a std::string, without a DOM. The caller calls
// begin/end and key in a well-formed order; commas are placed here. Not thread-safe.
//
// A near copy of kinesis/json_writer.h (without its Kinesis-specific timestamp and base64
// helpers, plus raw()): lambda/ may not include kinesis/. Both should move to base/ in one
// change once nobody is editing the Kinesis copy.
class JsonWriter {
 public:
  JsonWriter() { out_.reserve(512); }

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

}  // namespace sluice::lambda::internal
