#include "base/json_writer.h"

#include "base/base64.h"
#include "base/check.h"

#include <charconv>
#include <cstdio>

namespace sluice {

namespace {
void append_int(std::string& out, int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  SLUICE_CHECK(ec == std::errc(), "to_chars failed");
  out.append(buf, end);
}
}  // namespace

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_members_.empty()) {
    if (has_members_.back()) out_.push_back(',');
    has_members_.back() = true;
  }
}

void JsonWriter::begin_object() {
  before_value();
  out_.push_back('{');
  has_members_.push_back(false);
}

void JsonWriter::end_object() {
  SLUICE_CHECK(!has_members_.empty() && !after_key_, "unbalanced JSON object");
  has_members_.pop_back();
  out_.push_back('}');
}

void JsonWriter::begin_array() {
  before_value();
  out_.push_back('[');
  has_members_.push_back(false);
}

void JsonWriter::end_array() {
  SLUICE_CHECK(!has_members_.empty() && !after_key_, "unbalanced JSON array");
  has_members_.pop_back();
  out_.push_back(']');
}

void JsonWriter::key(std::string_view name) {
  before_value();
  append_escaped(name);
  out_.push_back(':');
  after_key_ = true;
}

void JsonWriter::string(std::string_view value) {
  before_value();
  append_escaped(value);
}

void JsonWriter::append_escaped(std::string_view value) {
  out_.push_back('"');
  for (const char c : value) {
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out_ += buf;
        } else {
          out_.push_back(c);
        }
    }
  }
  out_.push_back('"');
}

void JsonWriter::integer(int64_t value) {
  before_value();
  append_int(out_, value);
}

void JsonWriter::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
}

void JsonWriter::null() {
  before_value();
  out_ += "null";
}

void JsonWriter::raw(std::string_view json) {
  before_value();
  out_ += json;
}

void JsonWriter::base64(ByteView bytes) {
  before_value();
  out_.push_back('"');
  append_base64(out_, bytes);
  out_.push_back('"');
}

void JsonWriter::epoch_seconds_millis(int64_t ms) {
  before_value();
  if (ms < 0) {
    out_.push_back('-');
    ms = -ms;
  }
  append_int(out_, ms / 1000);
  const int64_t frac = ms % 1000;
  out_.push_back('.');
  out_.push_back(static_cast<char>('0' + frac / 100));
  out_.push_back(static_cast<char>('0' + frac / 10 % 10));
  out_.push_back(static_cast<char>('0' + frac % 10));
}

void JsonWriter::epoch_seconds(int64_t ms) {
  before_value();
  append_int(out_, ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
}

}  // namespace sluice
