#include "kinesis/request_reader.h"

#include "kinesis/json_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <regex>

namespace sluice::kinesis {

namespace {
using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::string_view kNumberClass =
    "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";
constexpr std::string_view kListNotExpected = "Start of list found where not expected";
constexpr std::string_view kStructNotExpected =
    "Start of structure or map found where not expected.";

bool is_number(element_type t) {
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

double number_value(element e) {
  switch (e.type()) {
    case element_type::INT64:
      return static_cast<double>(int64_t(e));
    case element_type::UINT64:
      return static_cast<double>(uint64_t(e));
    default:
      return double(e);
  }
}

// "Start of ..." for containers where a scalar was expected; empty when `t` is a scalar.
std::string_view container_error(element_type t) {
  if (t == element_type::ARRAY) return kListNotExpected;
  if (t == element_type::OBJECT) return kStructNotExpected;
  return {};
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// 0|([1-9]\d{0,max_more})
bool matches_decimal(std::string_view text, size_t max_more) {
  if (text == "0") return true;
  return all_digits(text) && text[0] != '0' && text.size() <= max_more + 1;
}
}  // namespace

std::optional<element> MemberReader::find(std::string_view name) {
  if (failed()) return std::nullopt;
  element e;
  if (object_.at_key(name).get(e) != simdjson::SUCCESS) return std::nullopt;
  if (e.type() == element_type::NULL_VALUE) return std::nullopt;
  return e;
}

std::optional<std::string_view> MemberReader::string(std::string_view name) {
  auto e = find(name);
  if (!e) return std::nullopt;
  return string_value(*e);
}

std::optional<std::string_view> MemberReader::string_value(element e) {
  if (failed()) return std::nullopt;
  const element_type t = e.type();
  if (t == element_type::STRING) return std::string_view(e);
  if (t == element_type::BOOL) {
    fail("class java.lang.Boolean can not be converted to an String");
  } else if (is_number(t)) {
    fail(fmt::format("{} can not be converted to an String", kNumberClass));
  } else {
    fail(std::string(container_error(t)));
  }
  return std::nullopt;
}

std::optional<int64_t> MemberReader::integer(std::string_view name) {
  auto e = find(name);
  if (!e) return std::nullopt;
  const element_type t = e->type();
  if (t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE) {
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    constexpr int64_t kMin = std::numeric_limits<int32_t>::min();
    if (t == element_type::INT64) return std::clamp(int64_t(*e), kMin, kMax);
    if (t == element_type::UINT64) return kMax;
    const double d = std::floor(double(*e));
    if (std::isnan(d)) return kMax;
    return d >= double(kMax) ? kMax : d <= double(kMin) ? kMin : static_cast<int64_t>(d);
  }
  if (t == element_type::STRING) {
    fail("class java.lang.String can not be converted to an Integer");
  } else if (t == element_type::BOOL) {
    fail("class java.lang.Boolean can not be converted to an Integer");
  } else {
    fail(std::string(container_error(t)));
  }
  return std::nullopt;
}

std::optional<bool> MemberReader::boolean(std::string_view name) {
  auto e = find(name);
  if (!e) return std::nullopt;
  const element_type t = e->type();
  if (t == element_type::BOOL) return bool(*e);
  if (is_number(t)) {
    fail(fmt::format("{} can not be converted to an Boolean", kNumberClass));
  } else if (t == element_type::STRING) {
    std::string upper{std::string_view(*e)};
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    fail(fmt::format("'{}' can not be converted to an Boolean", upper));
  } else {
    fail(std::string(container_error(t)));
  }
  return std::nullopt;
}

std::optional<std::string_view> MemberReader::blob(std::string_view name, std::string& storage) {
  storage.clear();
  if (!blob_append(name, storage)) return std::nullopt;
  return std::string_view(storage);
}

std::optional<size_t> MemberReader::blob_append(std::string_view name, std::string& arena) {
  auto e = find(name);
  if (!e) return std::nullopt;
  const element_type t = e->type();
  if (t == element_type::STRING) {
    const std::string_view text(*e);
    std::string detail;
    const size_t before = arena.size();
    if (!decode_base64_append(text, arena, detail)) {
      fail(fmt::format("'{}' can not be converted to a Blob: {}", text, detail));
      return std::nullopt;
    }
    return arena.size() - before;
  }
  if (t == element_type::BOOL) {
    fail("class java.lang.Boolean can not be converted to a Blob");
  } else if (is_number(t)) {
    fail(fmt::format("{} can not be converted to a Blob", kNumberClass));
  } else {
    fail(std::string(container_error(t)));
  }
  return std::nullopt;
}

std::optional<double> MemberReader::timestamp(std::string_view name) {
  auto e = find(name);
  if (!e) return std::nullopt;
  const element_type t = e->type();
  if (is_number(t)) return number_value(*e);
  if (t == element_type::STRING) {
    fail("class java.lang.String can not be converted to milliseconds since epoch");
  } else if (t == element_type::BOOL) {
    fail("class java.lang.Boolean can not be converted to milliseconds since epoch");
  } else {
    fail(std::string(container_error(t)));
  }
  return std::nullopt;
}

std::optional<simdjson::dom::object> MemberReader::structure(std::string_view name) {
  auto e = find(name);
  if (!e) return std::nullopt;
  return structure_value(*e);
}

std::optional<simdjson::dom::object> MemberReader::structure_value(element e) {
  if (failed()) return std::nullopt;
  const element_type t = e.type();
  if (t == element_type::OBJECT) return simdjson::dom::object(e);
  fail(std::string(t == element_type::ARRAY ? kListNotExpected : "Expected null"));
  return std::nullopt;
}

std::optional<simdjson::dom::array> MemberReader::list(std::string_view name) {
  auto e = find(name);
  if (!e) return std::nullopt;
  const element_type t = e->type();
  if (t == element_type::ARRAY) return simdjson::dom::array(*e);
  fail(std::string(t == element_type::OBJECT ? kStructNotExpected : "Expected list or null"));
  return std::nullopt;
}

std::optional<simdjson::dom::object> MemberReader::map(std::string_view name) {
  auto e = find(name);
  if (!e) return std::nullopt;
  const element_type t = e->type();
  if (t == element_type::OBJECT) return simdjson::dom::object(*e);
  fail(std::string(t == element_type::ARRAY ? kListNotExpected : "Expected map or null"));
  return std::nullopt;
}

// ---- Validator ----

void Validator::add(std::string_view path, std::optional<std::string_view> rendered,
                    std::string_view rule) {
  ++count_;
  if (clauses_.size() >= 10) return;
  clauses_.push_back(fmt::format("Value {} at '{}' failed to satisfy constraint: {}",
                                 rendered ? fmt::format("'{}'", *rendered) : std::string("null"),
                                 path, rule));
}

void Validator::required(std::string_view path, bool present) {
  if (!present) add(path, std::nullopt, "Member must not be null");
}

void Validator::int_range(std::string_view path, std::optional<int64_t> value,
                          std::optional<int64_t> min, std::optional<int64_t> max) {
  if (!value) return;
  const std::string shown = std::to_string(*value);
  if (min && *value < *min) {
    add(path, shown, fmt::format("Member must have value greater than or equal to {}", *min));
  }
  if (max && *value > *max) {
    add(path, shown, fmt::format("Member must have value less than or equal to {}", *max));
  }
}

void Validator::string(std::string_view path, std::optional<std::string_view> value,
                       Pattern pattern, std::optional<size_t> min_len,
                       std::optional<size_t> max_len) {
  if (!value) return;
  bool pattern_ok = true;
  std::string_view pattern_text;
  switch (pattern) {
    case Pattern::kNone:
      break;
    case Pattern::kName:
      pattern_ok = matches_name(*value);
      pattern_text = "[a-zA-Z0-9_.-]+";
      break;
    case Pattern::kHashKey:
      pattern_ok = matches_hash_key(*value);
      pattern_text = "0|([1-9]\\d{0,38})";
      break;
    case Pattern::kSequenceNumber:
      pattern_ok = matches_sequence_number(*value);
      pattern_text = "0|([1-9]\\d{0,128})";
      break;
    case Pattern::kStreamArn:
      pattern_ok = matches_stream_arn(*value);
      pattern_text = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";
      break;
    case Pattern::kConsumerArn:
      pattern_ok = matches_consumer_arn(*value);
      pattern_text =
          "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/"
          "[a-zA-Z0-9_.-]+:[0-9]+";
      break;
    case Pattern::kResourceArn:
      pattern_ok = matches_resource_arn(*value);
      pattern_text = "arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+";
      break;
  }
  if (!pattern_ok) {
    add(path, *value,
        fmt::format("Member must satisfy regular expression pattern: {}", pattern_text));
  }
  const size_t len = utf16_length(*value);
  if (min_len && len < *min_len) {
    add(path, *value, fmt::format("Member must have length greater than or equal to {}", *min_len));
  }
  if (max_len && len > *max_len) {
    add(path, *value, fmt::format("Member must have length less than or equal to {}", *max_len));
  }
}

void Validator::enumeration(std::string_view path, std::optional<std::string_view> value,
                            const std::vector<std::string_view>& allowed) {
  if (!value) return;
  if (std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return;
  add(path, *value,
      fmt::format("Member must satisfy enum value set: [{}]", fmt::join(allowed, ", ")));
}

void Validator::blob_max(std::string_view path, std::optional<size_t> decoded_len, size_t max_len) {
  if (!decoded_len || *decoded_len <= max_len) return;
  add(path, fmt::format("java.nio.HeapByteBuffer[pos=0 lim={} cap={}]", *decoded_len, *decoded_len),
      fmt::format("Member must have length less than or equal to {}", max_len));
}

std::string Validator::message() const {
  const size_t n = clauses_.size();
  return fmt::format("{} validation error{} detected: {}", n, n == 1 ? "" : "s",
                     fmt::join(clauses_, "; "));
}

bool matches_name(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool matches_hash_key(std::string_view text) { return matches_decimal(text, 38); }
bool matches_sequence_number(std::string_view text) { return matches_decimal(text, 128); }

bool matches_stream_arn(std::string_view text) {
  static const std::regex re(R"(arn:aws.*:kinesis:.*:\d{12}:stream/\S+)");
  return std::regex_match(text.begin(), text.end(), re);
}

bool matches_consumer_arn(std::string_view text) {
  static const std::regex re(
      R"(^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+)");
  return std::regex_match(text.begin(), text.end(), re);
}

bool matches_resource_arn(std::string_view text) {
  static const std::regex re(R"(arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+)");
  return std::regex_match(text.begin(), text.end(), re);
}

size_t utf16_length(std::string_view text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t step = 1;
    size_t units = 1;
    if (c >= 0xF0 && c < 0xF8) {
      step = 4;
      units = 2;  // outside the BMP: a surrogate pair
    } else if (c >= 0xE0) {
      step = 3;
    } else if (c >= 0xC0) {
      step = 2;
    }
    if (i + step > text.size()) step = 1;
    n += units;
    i += step;
  }
  return n;
}

}  // namespace sluice::kinesis
