#include "base/json_writer.h"

#include "base/base64.h"
#include "base/check.h"

#include <array>
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

namespace {
// Bytes that JSON requires escaped: control characters, '"' and '\\'.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = true;
  t['\\'] = true;
  return t;
}();
}  // namespace

void JsonWriter::append_escaped(std::string_view value) {
  // Runs of bytes that need no escaping (nearly always the whole value) are appended whole:
  // one append per run rather than one push_back per byte.
  out_.push_back('"');
  const char* p = value.data();
  const char* const end = p + value.size();
  while (p != end) {
    const char* run = p;
    while (p != end && !kNeedsEscape[static_cast<unsigned char>(*p)]) ++p;
    out_.append(run, p);
    if (p == end) break;
    const char c = *p++;
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
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        out_ += buf;
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
