#include "esm/mapping.h"

#include "base/check.h"
#include "base/json_writer.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <simdjson.h>
#include <utility>

namespace sluice::esm {

namespace {

// Stored form: docs/formats/esm-catalog.md. Bump on any change a reader of version 1 would
// misread; members added with a default may keep the version (readers ignore unknown ones).
constexpr int64_t kRecordVersion = 1;

constexpr std::array<std::pair<StartingPosition, std::string_view>, 3> kPositions = {{
    {StartingPosition::kTrimHorizon, "TRIM_HORIZON"},
    {StartingPosition::kLatest, "LATEST"},
    {StartingPosition::kAtTimestamp, "AT_TIMESTAMP"},
}};

constexpr std::array<std::pair<MappingState, std::string_view>, 7> kStates = {{
    {MappingState::kCreating, "Creating"},
    {MappingState::kEnabling, "Enabling"},
    {MappingState::kEnabled, "Enabled"},
    {MappingState::kDisabling, "Disabling"},
    {MappingState::kDisabled, "Disabled"},
    {MappingState::kUpdating, "Updating"},
    {MappingState::kDeleting, "Deleting"},
}};

// The shortest text that reads back as exactly `v` (std::to_chars without a precision).
// REQUIRES: `v` is finite (JSON has no NaN or infinity; the control plane only ever stores
// what it parsed from a JSON number).
void write_double(JsonWriter& w, double v) {
  SLUICE_CHECK(std::isfinite(v), "esm mapping: non-finite timestamp");
  char buf[40];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  SLUICE_CHECK(ec == std::errc(), "to_chars(double) failed");
  w.raw(std::string_view(buf, static_cast<size_t>(end - buf)));
}

void write_strings(JsonWriter& w, std::string_view name, const std::vector<std::string>& items) {
  w.key(name);
  w.begin_array();
  for (const std::string& s : items) w.string(s);
  w.end_array();
}

}  // namespace

std::string_view to_string(StartingPosition p) {
  for (const auto& [value, text] : kPositions) {
    if (value == p) return text;
  }
  SLUICE_CHECK(false, "unknown StartingPosition {}", static_cast<int>(p));
  return {};
}

std::optional<StartingPosition> parse_starting_position(std::string_view text) {
  for (const auto& [value, name] : kPositions) {
    if (name == text) return value;
  }
  return std::nullopt;
}

std::string_view to_string(MappingState s) {
  for (const auto& [value, text] : kStates) {
    if (value == s) return text;
  }
  SLUICE_CHECK(false, "unknown MappingState {}", static_cast<int>(s));
  return {};
}

std::optional<MappingState> parse_mapping_state(std::string_view text) {
  for (const auto& [value, name] : kStates) {
    if (name == text) return value;
  }
  return std::nullopt;
}

// arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]. The name is the
// seventh field; anything after it is the qualifier. A text that is not such an ARN is
// returned whole (unqualified) or cut at its first ':' (name).
std::string unqualified_function_arn(std::string_view function_arn) {
  size_t colons = 0;
  for (size_t i = 0; i < function_arn.size(); ++i) {
    if (function_arn[i] == ':' && ++colons == 7) return std::string(function_arn.substr(0, i));
  }
  return std::string(function_arn);
}

std::string function_name_of(std::string_view function_arn) {
  if (function_arn.starts_with("arn:")) {
    size_t colons = 0;
    size_t start = std::string_view::npos;
    for (size_t i = 0; i < function_arn.size(); ++i) {
      if (function_arn[i] != ':') continue;
      ++colons;
      if (colons == 6) start = i + 1;
      if (colons == 7) return std::string(function_arn.substr(start, i - start));
    }
    if (start != std::string_view::npos) return std::string(function_arn.substr(start));
    return std::string(function_arn);
  }
  return std::string(function_arn.substr(0, function_arn.find(':')));
}

std::string encode_mapping(const Mapping& m) {
  JsonWriter w;
  w.begin_object();
  w.member_int("v", kRecordVersion);
  w.member("uuid", m.uuid);
  w.member("account", m.account);
  w.member("region", m.region);
  w.member("function_arn", m.function_arn);
  w.member("event_source_arn", m.event_source_arn);
  w.member("starting_position", to_string(m.starting_position));
  if (m.starting_position_timestamp) {
    w.key("starting_position_timestamp");
    write_double(w, *m.starting_position_timestamp);
  }
  w.member_int("batch_size", m.batch_size);
  w.member_int("maximum_batching_window_s", m.maximum_batching_window_s);
  w.member_int("parallelization_factor", m.parallelization_factor);
  w.member_bool("bisect_batch_on_function_error", m.bisect_batch_on_function_error);
  w.member_int("maximum_retry_attempts", m.maximum_retry_attempts);
  w.member_int("maximum_record_age_s", m.maximum_record_age_s);
  w.member("on_failure_destination", m.on_failure_destination);
  w.member_bool("report_batch_item_failures", m.report_batch_item_failures);
  w.member_int("tumbling_window_s", m.tumbling_window_s);
  write_strings(w, "filter_patterns", m.filter_patterns);
  write_strings(w, "metrics", m.metrics);
  w.member("kms_key_arn", m.kms_key_arn);
  w.member_bool("enabled", m.enabled);
  w.member("state", to_string(m.state));
  w.member("state_transition_reason", m.state_transition_reason);
  w.member("last_processing_result", m.last_processing_result);
  w.member_int("last_modified_ms", m.last_modified_ms);
  w.member_int("created_ms", m.created_ms);
  w.end_object();
  return w.take();
}

Result<Mapping> decode_mapping(std::string_view json, std::string_view key) {
  auto bad = [&](std::string_view what) {
    return Status::corruption(fmt::format("esm mapping entry {}: {}", key, what));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return bad("not a JSON object");
  }
  int64_t version = 0;
  if (root["v"].get_int64().get(version) != simdjson::SUCCESS || version != kRecordVersion) {
    return bad("unknown record version");
  }

  // Each reader names the member it failed on; unknown members are never looked at.
  Mapping m;
  std::string_view sv;
  std::string failed;
  auto str = [&](const char* name, std::string& out) {
    if (root[name].get_string().get(sv) != simdjson::SUCCESS) {
      failed = name;
      return false;
    }
    out = std::string(sv);
    return true;
  };
  auto i64 = [&](const char* name, int64_t& out) {
    if (root[name].get_int64().get(out) != simdjson::SUCCESS) {
      failed = name;
      return false;
    }
    return true;
  };
  auto i32 = [&](const char* name, int32_t& out) {
    int64_t v = 0;
    if (!i64(name, v)) return false;
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
      failed = name;
      return false;
    }
    out = static_cast<int32_t>(v);
    return true;
  };
  auto flag = [&](const char* name, bool& out) {
    if (root[name].get_bool().get(out) != simdjson::SUCCESS) {
      failed = name;
      return false;
    }
    return true;
  };
  auto strings = [&](const char* name, std::vector<std::string>& out) {
    simdjson::dom::array arr;
    if (root[name].get_array().get(arr) != simdjson::SUCCESS) {
      failed = name;
      return false;
    }
    for (simdjson::dom::element item : arr) {
      if (item.get_string().get(sv) != simdjson::SUCCESS) {
        failed = name;
        return false;
      }
      out.emplace_back(sv);
    }
    return true;
  };
  auto enumeration = [&](const char* name, auto parse, auto& out) {
    if (root[name].get_string().get(sv) != simdjson::SUCCESS) {
      failed = name;
      return false;
    }
    auto parsed = parse(sv);
    if (!parsed) {
      failed = name;
      return false;
    }
    out = *parsed;
    return true;
  };

  const bool ok = str("uuid", m.uuid) && str("account", m.account) && str("region", m.region) &&
                  str("function_arn", m.function_arn) &&
                  str("event_source_arn", m.event_source_arn) &&
                  enumeration("starting_position", parse_starting_position, m.starting_position) &&
                  i32("batch_size", m.batch_size) &&
                  i32("maximum_batching_window_s", m.maximum_batching_window_s) &&
                  i32("parallelization_factor", m.parallelization_factor) &&
                  flag("bisect_batch_on_function_error", m.bisect_batch_on_function_error) &&
                  i32("maximum_retry_attempts", m.maximum_retry_attempts) &&
                  i32("maximum_record_age_s", m.maximum_record_age_s) &&
                  str("on_failure_destination", m.on_failure_destination) &&
                  flag("report_batch_item_failures", m.report_batch_item_failures) &&
                  i32("tumbling_window_s", m.tumbling_window_s) &&
                  strings("filter_patterns", m.filter_patterns) && strings("metrics", m.metrics) &&
                  str("kms_key_arn", m.kms_key_arn) && flag("enabled", m.enabled) &&
                  enumeration("state", parse_mapping_state, m.state) &&
                  str("state_transition_reason", m.state_transition_reason) &&
                  str("last_processing_result", m.last_processing_result) &&
                  i64("last_modified_ms", m.last_modified_ms) && i64("created_ms", m.created_ms);
  if (!ok) return bad(fmt::format("missing or mistyped member \"{}\"", failed));

  // Optional: present only for AT_TIMESTAMP mappings. simdjson reads numbers correctly
  // rounded, so the shortest text written by encode_mapping() gives back the same double.
  simdjson::dom::element ts;
  if (root["starting_position_timestamp"].get(ts) == simdjson::SUCCESS && !ts.is_null()) {
    double v = 0;
    if (ts.get_double().get(v) != simdjson::SUCCESS) {
      return bad("missing or mistyped member \"starting_position_timestamp\"");
    }
    m.starting_position_timestamp = v;
  }
  if (m.uuid.empty()) return bad("empty uuid");
  return m;
}

}  // namespace sluice::esm
