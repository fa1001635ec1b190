#include "kinesis/json_writer.h"

#include "base/check.h"

#include <charconv>
#include <cstdio>

namespace sluice::kinesis {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

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

void append_base64(std::string& out, ByteView bytes) {
  const size_t n = bytes.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v =
        uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 | uint32_t(bytes[i + 2]);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t(bytes[i]) << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (n - i == 2) {
    const uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
}

bool decode_base64(std::string_view text, std::string& out, std::string& error) {
  out.clear();
  if (text.size() % 4 != 0) {
    error = "Base64 encoded length is expected a multiple of 4 bytes but found: " +
            std::to_string(text.size());
    return false;
  }
  // Characters first: only the alphabet and '=', and nothing but '=' after an '='.
  bool seen_pad = false;
  for (const char c : text) {
    if (c == '=') {
      seen_pad = true;
    } else if (decode_char(c) < 0 || seen_pad) {
      error = std::string("Invalid Base64 character: '") + c + "'";
      return false;
    }
  }
  size_t pad = 0;
  while (pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  const std::string_view non_canonical = "Invalid last non-pad Base64 character dectected";
  if (pad > 2) {
    error = non_canonical;
    return false;
  }
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      v = v << 6 | uint32_t(c == '=' ? 0 : decode_char(c));
    }
    out.push_back(static_cast<char>(v >> 16));
    if (i + 4 < text.size() || pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (i + 4 < text.size() || pad < 1) out.push_back(static_cast<char>(v & 0xff));
    // Canonical: the bits under the padding must be zero (re-encoding gives the same text).
    if (i + 4 == text.size() &&
        ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))) {
      error = non_canonical;
      return false;
    }
  }
  return true;
}

}  // namespace sluice::kinesis
