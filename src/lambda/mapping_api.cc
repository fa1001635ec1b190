#include "lambda/mapping_api.h"

#include "base/base64.h"
#include "esm/filter.h"
#include "function/function.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <regex>
#include <simdjson.h>

namespace sluice::lambda {

namespace {

using Dom = simdjson::dom::element;

constexpr std::string_view kNotFound = "The resource you requested does not exist.";
constexpr std::string_view kFunctionDoesNotExist = "Function does not exist";

// The API model's patterns, quoted in ValidationException messages.
constexpr std::string_view kEventSourceArnPattern =
    "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)";
constexpr std::string_view kDestinationPattern =
    "^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)";
constexpr std::string_view kKmsKeyArnPattern = "(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()";

constexpr size_t kMaxFunctionNameLength = 140;  // FunctionName of the ESM operations
constexpr size_t kMaxEventSourceArnLength = 1024;
constexpr size_t kMaxDestinationLength = 350;
constexpr size_t kMaxPatternLength = 4096;
constexpr size_t kMaxKmsKeyArnLength = 2048;
// The default quota of filters per mapping (spec 11.1); AWS raises it on request only.
constexpr size_t kMaxFilters = 5;

// Parameters of other source types (spec 1.2, last paragraph). `update`: also a member of
// UpdateEventSourceMapping; the others are not, and an Update ignores them as it ignores
// any member the operation does not have.
struct ForeignMember {
  std::string_view name;
  bool update;
};
constexpr std::array<ForeignMember, 9> kForeignMembers = {{
    {"Queues", false},
    {"Topics", false},
    {"SelfManagedEventSource", false},
    {"ScalingConfig", true},
    {"SourceAccessConfigurations", true},
    {"AmazonManagedKafkaEventSourceConfig", true},
    {"SelfManagedKafkaEventSourceConfig", true},
    {"DocumentDBEventSourceConfig", true},
    {"ProvisionedPollerConfig", true},
}};

bool matches(std::string_view text, std::string_view pattern) {
  const std::regex re{std::string(pattern)};
  return std::regex_match(text.begin(), text.end(), re);
}

std::string pattern_rule(std::string_view pattern) {
  return fmt::format("Member must satisfy regular expression pattern: {}", pattern);
}

ApiError invalid_parameter(std::string message) {
  return ApiError{ErrorType::kInvalidParameterValue, std::move(message)};
}

ApiError type_error(std::string_view member, std::string_view expected) {
  return ApiError{ErrorType::kInvalidRequestContent,
                  fmt::format("Could not parse request body into json: member '{}' must be {}",
                              member, expected)};
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" as epoch seconds (no zone means UTC).
std::optional<double> parse_iso8601(std::string_view s) {
  auto number = [&](size_t pos, size_t len, int& out) {
    if (pos + len > s.size()) return false;
    const char* first = s.data() + pos;
    auto [ptr, ec] = std::from_chars(first, first + len, out);
    return ec == std::errc() && ptr == first + len;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':' || !number(0, 4, year) || !number(5, 2, month) ||
      !number(8, 2, day) || !number(11, 2, hour) || !number(14, 2, minute) ||
      !number(17, 2, second) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  double fraction = 0;
  if (pos < s.size() && s[pos] == '.') {
    double scale = 0.1;
    ++pos;
    const size_t digits_start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      fraction += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == digits_start) return std::nullopt;
  }
  int64_t offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      pos = s.size();
    } else if ((s[pos] == '+' || s[pos] == '-') && s.size() == pos + 6 && s[pos + 3] == ':') {
      int oh = 0, om = 0;
      if (!number(pos + 1, 2, oh) || !number(pos + 4, 2, om)) return std::nullopt;
      offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
  }
  const int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return static_cast<double>(seconds) + fraction;
}

// Reads the members of one request body. Type errors stop at the first; constraint
// violations are collected as Coral clauses.
class FieldReader {
 public:
  FieldReader(simdjson::dom::object root, std::vector<std::string>& clauses)
      : root_(root), clauses_(clauses) {}

  std::optional<Dom> get(std::string_view name) const {
    Dom v;
    if (root_[name].get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
    return v;
  }

  std::optional<std::string> string(std::string_view name) {
    auto v = get(name);
    if (!v) return std::nullopt;
    std::string_view s;
    if (v->get_string().get(s) != simdjson::SUCCESS) {
      fail(name, "a string");
      return std::nullopt;
    }
    return std::string(s);
  }

  std::optional<bool> boolean(std::string_view name) {
    auto v = get(name);
    if (!v) return std::nullopt;
    bool b = false;
    if (v->get_bool().get(b) != simdjson::SUCCESS) {
      fail(name, "a boolean");
      return std::nullopt;
    }
    return b;
  }

  // An integer in [lo, hi]; outside it, a clause naming `member`.
  std::optional<int64_t> integer(std::string_view name, std::string_view member, int64_t lo,
                                 int64_t hi) {
    auto v = get(name);
    if (!v) return std::nullopt;
    int64_t i = 0;
    if (v->get_int64().get(i) != simdjson::SUCCESS) {
      fail(name, "an integer");
      return std::nullopt;
    }
    if (i < lo) {
      clauses_.push_back(
          validation_clause(std::to_string(i), member,
                            fmt::format("Member must have value greater than or equal to {}", lo)));
    } else if (i > hi) {
      clauses_.push_back(
          validation_clause(std::to_string(i), member,
                            fmt::format("Member must have value less than or equal to {}", hi)));
    }
    return i;
  }

  std::optional<std::vector<std::string>> string_list(Dom v, std::string_view name) {
    simdjson::dom::array arr;
    if (v.get_array().get(arr) != simdjson::SUCCESS) {
      fail(name, "a list");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (Dom item : arr) {
      std::string_view s;
      if (item.get_string().get(s) != simdjson::SUCCESS) {
        fail(name, "a list of strings");
        return std::nullopt;
      }
      out.emplace_back(s);
    }
    return out;
  }

  // Epoch seconds as a number, or an ISO-8601 string (lenient with hand-written clients).
  std::optional<double> timestamp(std::string_view name) {
    auto v = get(name);
    if (!v) return std::nullopt;
    double d = 0;
    if (v->get_double().get(d) == simdjson::SUCCESS) return d;
    int64_t i = 0;
    if (v->get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
    uint64_t u = 0;
    if (v->get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
    std::string_view s;
    if (v->get_string().get(s) == simdjson::SUCCESS) {
      if (auto parsed = parse_iso8601(s)) return parsed;
    }
    fail(name, "a timestamp (epoch seconds or ISO-8601)");
    return std::nullopt;
  }

  void fail(std::string_view name, std::string_view expected) {
    if (!failure_) failure_ = type_error(name, expected);
  }
  const std::optional<ApiError>& failure() const { return failure_; }
  std::vector<std::string>& clauses() { return clauses_; }

 private:
  simdjson::dom::object root_;
  std::vector<std::string>& clauses_;
  std::optional<ApiError> failure_;
};

std::string show_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out + "]";
}

// DestinationConfig: {"OnFailure":{"Destination":"..."}, "OnSuccess":{...}}.
void read_destination_config(FieldReader& r, MappingFields& out) {
  auto v = r.get("DestinationConfig");
  if (!v) return;
  simdjson::dom::object obj;
  if (v->get_object().get(obj) != simdjson::SUCCESS) {
    r.fail("DestinationConfig", "an object");
    return;
  }
  out.destination_config_given = true;
  Dom on_success;
  out.on_success_given =
      obj["OnSuccess"].get(on_success) == simdjson::SUCCESS && !on_success.is_null();
  Dom on_failure;
  if (obj["OnFailure"].get(on_failure) != simdjson::SUCCESS || on_failure.is_null()) return;
  simdjson::dom::object failure;
  if (on_failure.get_object().get(failure) != simdjson::SUCCESS) {
    r.fail("DestinationConfig.OnFailure", "an object");
    return;
  }
  Dom destination;
  if (failure["Destination"].get(destination) != simdjson::SUCCESS || destination.is_null()) {
    return;
  }
  std::string_view s;
  if (destination.get_string().get(s) != simdjson::SUCCESS) {
    r.fail("DestinationConfig.OnFailure.Destination", "a string");
    return;
  }
  out.on_failure_destination = std::string(s);
  if (s.size() > kMaxDestinationLength) {
    r.clauses().push_back(validation_clause(
        s, "destinationConfig.onFailure.destination",
        fmt::format("Member must have length less than or equal to {}", kMaxDestinationLength)));
  } else if (!matches(s, kDestinationPattern)) {
    r.clauses().push_back(validation_clause(s, "destinationConfig.onFailure.destination",
                                            pattern_rule(kDestinationPattern)));
  }
}

// FilterCriteria: {"Filters":[{"Pattern":"..."}]}; {} and {"Filters":[]} mean none.
void read_filter_criteria(FieldReader& r, MappingFields& out) {
  auto v = r.get("FilterCriteria");
  if (!v) return;
  simdjson::dom::object obj;
  if (v->get_object().get(obj) != simdjson::SUCCESS) {
    r.fail("FilterCriteria", "an object");
    return;
  }
  out.filter_patterns.emplace();
  Dom filters;
  if (obj["Filters"].get(filters) != simdjson::SUCCESS || filters.is_null()) return;
  simdjson::dom::array arr;
  if (filters.get_array().get(arr) != simdjson::SUCCESS) {
    r.fail("FilterCriteria.Filters", "a list");
    return;
  }
  size_t index = 0;
  for (Dom filter : arr) {
    ++index;
    simdjson::dom::object f;
    if (filter.get_object().get(f) != simdjson::SUCCESS) {
      r.fail("FilterCriteria.Filters", "a list of objects");
      return;
    }
    Dom pattern;
    std::string_view s;
    if (f["Pattern"].get(pattern) == simdjson::SUCCESS && !pattern.is_null()) {
      if (pattern.get_string().get(s) != simdjson::SUCCESS) {
        r.fail("FilterCriteria.Filters.Pattern", "a string");
        return;
      }
    }
    if (s.size() > kMaxPatternLength) {
      r.clauses().push_back(validation_clause(
          s, fmt::format("filterCriteria.filters.{}.member.pattern", index),
          fmt::format("Member must have length less than or equal to {}", kMaxPatternLength)));
    }
    out.filter_patterns->emplace_back(s);
  }
}

void read_metrics_config(FieldReader& r, MappingFields& out) {
  auto v = r.get("MetricsConfig");
  if (!v) return;
  simdjson::dom::object obj;
  if (v->get_object().get(obj) != simdjson::SUCCESS) {
    r.fail("MetricsConfig", "an object");
    return;
  }
  Dom metrics;
  if (obj["Metrics"].get(metrics) != simdjson::SUCCESS || metrics.is_null()) {
    out.metrics.emplace();
    return;
  }
  out.metrics = r.string_list(metrics, "MetricsConfig.Metrics");
  if (!out.metrics) return;
  if (std::any_of(out.metrics->begin(), out.metrics->end(),
                  [](const std::string& m) { return m != "EventCount"; })) {
    r.clauses().push_back(
        validation_clause(show_list(*out.metrics), "metricsConfig.metrics",
                          "Member must satisfy constraint: [Member must satisfy enum value set: "
                          "[EventCount]]"));
  }
}

// The ResourceConflictException text of spec 1.5 step 10.
std::string conflict_message(const esm::Mapping& existing) {
  return fmt::format(
      "The event source arn (\" {} \") and function (\" {} \") provided mapping already exists. "
      "Please update or delete the existing mapping with UUID {}",
      existing.event_source_arn, esm::function_name_of(existing.function_arn), existing.uuid);
}

// Checks shared by Create and Update after the function is known (spec 1.5 steps 8-9) and
// the destination.
std::optional<ApiError> check_common(const MappingFields& f) {
  if (f.maximum_record_age_s && *f.maximum_record_age_s >= 0 && *f.maximum_record_age_s < 60) {
    return invalid_parameter(
        "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 "
        "(inclusive)");
  }
  if (f.filter_patterns) {
    for (const std::string& p : *f.filter_patterns) {
      if (!valid_filter_pattern(p)) return invalid_parameter("Invalid filter pattern definition.");
    }
    if (f.filter_patterns->size() > kMaxFilters) {
      return invalid_parameter(
          fmt::format("A mapping may have at most {} filters; this request has {}.", kMaxFilters,
                      f.filter_patterns->size()));
    }
  }
  if (!f.on_failure_destination.empty() &&
      !valid_on_failure_destination(f.on_failure_destination)) {
    return invalid_parameter(fmt::format(
        "The OnFailure destination must be the ARN of a standard SQS queue, a standard SNS topic "
        "or an S3 bucket; got {}",
        f.on_failure_destination));
  }
  if (f.on_failure_destination.find(":sns:") != std::string::npos) {
    return invalid_parameter(fmt::format(
        "Sluice does not provide SNS topics; the OnFailure destination must be an SQS queue or an "
        "S3 bucket of this server; got {}",
        f.on_failure_destination));
  }
  return std::nullopt;
}

// The foreign members and OnSuccess (spec 1.5 step 3 and 1.2's last paragraph).
std::optional<ApiError> check_source_type(const MappingFields& f) {
  if (f.on_success_given) {
    return invalid_parameter(
        "Unsupported DestinationConfig parameter for given event source mapping type.");
  }
  if (!f.foreign_members.empty()) {
    return invalid_parameter(
        fmt::format("Unsupported {} parameter for given event source mapping type.",
                    f.foreign_members.front()));
  }
  return std::nullopt;
}

bool has_response_type(const std::vector<std::string>& types) {
  return std::find(types.begin(), types.end(), "ReportBatchItemFailures") != types.end();
}

// The opaque List marker: base64 of "1:<created_ms>:<uuid>", the last mapping of a page.
std::string encode_marker(const esm::Mapping& m) {
  const std::string plain = fmt::format("1:{}:{}", m.created_ms, m.uuid);
  return base64_encode(ByteView(reinterpret_cast<const std::byte*>(plain.data()), plain.size()));
}

std::optional<std::pair<int64_t, std::string>> decode_marker(std::string_view marker) {
  std::string plain;
  if (base64_decode(marker, plain)) return std::nullopt;
  if (!plain.starts_with("1:")) return std::nullopt;
  const size_t colon = plain.find(':', 2);
  if (colon == std::string::npos) return std::nullopt;
  int64_t created = 0;
  const char* first = plain.data() + 2;
  const char* last = plain.data() + colon;
  auto [ptr, ec] = std::from_chars(first, last, created);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return std::make_pair(created, plain.substr(colon + 1));
}

net::Response json(int status, std::string body) {
  return net::Response::json(status, std::move(body));
}

}  // namespace

std::optional<ApiError> parse_mapping_fields(std::string_view body, MappingRequestKind kind,
                                             MappingFields& out) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) body = "{}";
  simdjson::dom::parser parser;
  Dom root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return ApiError{ErrorType::kInvalidRequestContent,
                    "Could not parse request body into json: the body is not valid JSON"};
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return ApiError{ErrorType::kInvalidRequestContent,
                    "Could not parse request body into json: the body is not a JSON object"};
  }
  const bool create = kind == MappingRequestKind::kCreate;
  std::vector<std::string> clauses;
  FieldReader r(obj, clauses);

  out = MappingFields{};
  out.function_name = r.string("FunctionName");
  if (out.function_name) {
    if (out.function_name->size() > kMaxFunctionNameLength) {
      clauses.push_back(validation_clause(
          *out.function_name, "functionName",
          fmt::format("Member must have length less than or equal to {}", kMaxFunctionNameLength)));
    } else if (!matches(*out.function_name, kWriteNamePattern)) {
      clauses.push_back(
          validation_clause(*out.function_name, "functionName", pattern_rule(kWriteNamePattern)));
    }
  } else if (create && !r.failure()) {
    clauses.push_back(validation_clause("null", "functionName", "Member must not be null", false));
  }
  if (create) {
    out.event_source_arn = r.string("EventSourceArn");
    if (out.event_source_arn) {
      if (out.event_source_arn->size() > kMaxEventSourceArnLength) {
        clauses.push_back(
            validation_clause(*out.event_source_arn, "eventSourceArn",
                              fmt::format("Member must have length less than or equal to {}",
                                          kMaxEventSourceArnLength)));
      } else if (!matches(*out.event_source_arn, kEventSourceArnPattern)) {
        clauses.push_back(validation_clause(*out.event_source_arn, "eventSourceArn",
                                            pattern_rule(kEventSourceArnPattern)));
      }
    }
    out.starting_position = r.string("StartingPosition");
    if (out.starting_position && !esm::parse_starting_position(*out.starting_position)) {
      clauses.push_back(
          validation_clause(*out.starting_position, "startingPosition",
                            "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, "
                            "TRIM_HORIZON]"));
    }
    out.starting_position_timestamp = r.timestamp("StartingPositionTimestamp");
  }
  out.enabled = r.boolean("Enabled");
  out.batch_size = r.integer("BatchSize", "batchSize", 1, 10'000);
  out.maximum_batching_window_s =
      r.integer("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0, 300);
  out.parallelization_factor = r.integer("ParallelizationFactor", "parallelizationFactor", 1, 10);
  out.bisect_batch_on_function_error = r.boolean("BisectBatchOnFunctionError");
  out.maximum_retry_attempts =
      r.integer("MaximumRetryAttempts", "maximumRetryAttempts", -1, 10'000);
  out.maximum_record_age_s =
      r.integer("MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds", -1, 604'800);
  out.tumbling_window_s = r.integer("TumblingWindowInSeconds", "tumblingWindowInSeconds", 0, 900);
  read_destination_config(r, out);
  if (auto v = r.get("FunctionResponseTypes")) {
    out.function_response_types = r.string_list(*v, "FunctionResponseTypes");
    if (out.function_response_types) {
      const std::vector<std::string>& types = *out.function_response_types;
      if (types.size() > 1) {
        clauses.push_back(validation_clause(show_list(types), "functionResponseTypes",
                                            "Member must have length less than or equal to 1"));
      } else if (!types.empty() && types[0] != "ReportBatchItemFailures") {
        clauses.push_back(validation_clause(
            show_list(types), "functionResponseTypes",
            "Member must satisfy constraint: [Member must satisfy enum value set: "
            "[ReportBatchItemFailures]]"));
      }
    }
  }
  read_filter_criteria(r, out);
  read_metrics_config(r, out);
  out.kms_key_arn = r.string("KMSKeyArn");
  if (out.kms_key_arn) {
    if (out.kms_key_arn->size() > kMaxKmsKeyArnLength) {
      clauses.push_back(validation_clause(
          *out.kms_key_arn, "kMSKeyArn",
          fmt::format("Member must have length less than or equal to {}", kMaxKmsKeyArnLength)));
    } else if (!matches(*out.kms_key_arn, kKmsKeyArnPattern)) {
      clauses.push_back(
          validation_clause(*out.kms_key_arn, "kMSKeyArn", pattern_rule(kKmsKeyArnPattern)));
    }
  }
  for (const ForeignMember& m : kForeignMembers) {
    if ((create || m.update) && r.get(m.name)) out.foreign_members.emplace_back(m.name);
  }
  if (r.failure()) return r.failure();
  if (!clauses.empty()) return ApiError{ErrorType::kValidation, validation_message(clauses)};
  return std::nullopt;
}

std::optional<ApiError> resolve_mapping_function(std::string_view raw, const Identity& id,
                                                 const FunctionLookup& lookup,
                                                 std::string& function_arn) {
  FunctionRef ref;
  if (auto e = resolve_function_name(raw, id, std::nullopt, NameUse::kWrite, ref)) {
    // Another region's ARN names a function this region cannot use.
    if (e->type == ErrorType::kResourceNotFound) {
      return invalid_parameter(std::string(kFunctionDoesNotExist));
    }
    return e;
  }
  if (ref.name.empty()) return invalid_parameter(std::string(kFunctionDoesNotExist));
  const std::optional<std::string> arn = lookup(FunctionKey{id.account, id.region, ref.name});
  if (!arn) return invalid_parameter(std::string(kFunctionDoesNotExist));
  // Versions and aliases are not modelled yet: any well-formed qualifier of an existing
  // function is kept as given (spec 14 case 20).
  function_arn = ref.qualifier ? *arn + ":" + *ref.qualifier : *arn;
  return std::nullopt;
}

std::optional<ApiError> build_create_draft(const MappingFields& f, const Identity& id,
                                           int64_t now_ms, const FunctionLookup& lookup,
                                           esm::Mapping& draft, const SourceCheck& source_check) {
  // Step 2.
  if (!f.event_source_arn) return invalid_parameter("Unrecognized event source.");
  // Sluice polls Kinesis only; an ARN of another service is refused before anything else
  // about it is checked.
  {
    const std::string_view arn = *f.event_source_arn;
    const size_t service_start = arn.find(':', 4) + 1;  // after "arn:<partition>:"
    if (arn.substr(service_start, arn.find(':', service_start) - service_start) != "kinesis") {
      return invalid_parameter(fmt::format(
          "Sluice supports event source mappings of Kinesis streams only; got {}", arn));
    }
  }
  // Step 3, and the members of other source types.
  if (auto e = check_source_type(f)) return e;
  // Step 4 (parse_mapping_fields() refused a Create without FunctionName).
  if (!f.function_name) return invalid_parameter(std::string(kFunctionDoesNotExist));
  std::string function_arn;
  if (auto e = resolve_mapping_function(*f.function_name, id, lookup, function_arn)) return e;
  // Step 5.
  if (source_check) {
    if (Status st = source_check(f.event_source_arn ? *f.event_source_arn : ""); !st.ok()) {
      return invalid_parameter(std::string(st.message()));
    }
  }
  // Steps 6-7.
  if (!f.starting_position) {
    return invalid_parameter(validation_message({validation_clause(
                                 "null", "startingPosition", "Member must not be null", false)}) +
                             ".");
  }
  const esm::StartingPosition position = *esm::parse_starting_position(*f.starting_position);
  if (position == esm::StartingPosition::kAtTimestamp) {
    if (!f.starting_position_timestamp) return invalid_parameter("Need to specify a timestamp");
    if (*f.starting_position_timestamp * 1000.0 > static_cast<double>(now_ms)) {
      return invalid_parameter("StartingPositionTimestamp must not be in the future.");
    }
  } else if (f.starting_position_timestamp) {
    return invalid_parameter(
        "StartingPositionTimestamp is only valid with StartingPosition AT_TIMESTAMP.");
  }
  // Steps 8-9 and the destination.
  if (auto e = check_common(f)) return e;

  draft = esm::Mapping{};
  draft.account = id.account;
  draft.region = id.region;
  draft.function_arn = std::move(function_arn);
  draft.event_source_arn = *f.event_source_arn;
  draft.starting_position = position;
  draft.starting_position_timestamp = f.starting_position_timestamp;
  apply_update(f, std::nullopt, draft);
  return std::nullopt;
}

std::optional<ApiError> check_update(const MappingFields& f, const Identity& id,
                                     const FunctionLookup& lookup,
                                     std::optional<std::string>& function_arn) {
  if (auto e = check_source_type(f)) return e;
  function_arn.reset();
  if (f.function_name) {
    std::string arn;
    if (auto e = resolve_mapping_function(*f.function_name, id, lookup, arn)) return e;
    function_arn = std::move(arn);
  }
  return check_common(f);
}

void apply_update(const MappingFields& f, const std::optional<std::string>& function_arn,
                  esm::Mapping& m) {
  if (function_arn) m.function_arn = *function_arn;
  // Ranges were checked by parse_mapping_fields(), so the narrowing casts are exact.
  if (f.batch_size) m.batch_size = static_cast<int32_t>(*f.batch_size);
  if (f.maximum_batching_window_s) {
    m.maximum_batching_window_s = static_cast<int32_t>(*f.maximum_batching_window_s);
  }
  if (f.parallelization_factor) {
    m.parallelization_factor = static_cast<int32_t>(*f.parallelization_factor);
  }
  if (f.maximum_retry_attempts) {
    m.maximum_retry_attempts = static_cast<int32_t>(*f.maximum_retry_attempts);
  }
  if (f.maximum_record_age_s)
    m.maximum_record_age_s = static_cast<int32_t>(*f.maximum_record_age_s);
  if (f.tumbling_window_s) m.tumbling_window_s = static_cast<int32_t>(*f.tumbling_window_s);
  if (f.bisect_batch_on_function_error) {
    m.bisect_batch_on_function_error = *f.bisect_batch_on_function_error;
  }
  if (f.enabled) m.enabled = *f.enabled;
  if (f.destination_config_given) m.on_failure_destination = f.on_failure_destination;
  if (f.function_response_types) {
    m.report_batch_item_failures = has_response_type(*f.function_response_types);
  }
  if (f.filter_patterns) m.filter_patterns = *f.filter_patterns;
  if (f.metrics) m.metrics = *f.metrics;
  if (f.kms_key_arn) m.kms_key_arn = *f.kms_key_arn;
}

bool valid_filter_pattern(std::string_view pattern) {
  return esm::FilterSet::validate(pattern).ok();  // the whole grammar of spec 11.3
}

bool valid_on_failure_destination(std::string_view arn) {
  // arn:<partition>:sqs:<region>:<account>:<queue>, the same for sns, arn:<partition>:s3:::<b>.
  static const std::regex queue_or_topic{
      "arn:aws[a-zA-Z-]*:(sqs|sns):[a-z]{2}(-gov)?-[a-z]+-\\d:\\d{12}:[A-Za-z0-9_-]{1,256}"};
  static const std::regex bucket{"arn:aws[a-zA-Z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"};
  return std::regex_match(arn.begin(), arn.end(), queue_or_topic) ||
         std::regex_match(arn.begin(), arn.end(), bucket);
}

std::string mapping_arn(const esm::Mapping& m) {
  return fmt::format("arn:aws:lambda:{}:{}:event-source-mapping:{}", m.region, m.account, m.uuid);
}

void write_mapping(JsonWriter& w, const esm::Mapping& m) {
  w.begin_object();
  w.member("UUID", m.uuid);
  w.member("EventSourceMappingArn", mapping_arn(m));
  w.member("EventSourceArn", m.event_source_arn);
  w.member("FunctionArn", m.function_arn);
  w.member("StartingPosition", esm::to_string(m.starting_position));
  if (m.starting_position == esm::StartingPosition::kAtTimestamp && m.starting_position_timestamp) {
    // Shortest text that reads back as the same double: the value as the client sent it.
    w.key("StartingPositionTimestamp");
    w.raw(fmt::format("{}", *m.starting_position_timestamp));
  }
  w.member_int("BatchSize", m.batch_size);
  w.member_int("MaximumBatchingWindowInSeconds", m.maximum_batching_window_s);
  w.member_int("ParallelizationFactor", m.parallelization_factor);
  w.member_bool("BisectBatchOnFunctionError", m.bisect_batch_on_function_error);
  w.member_int("MaximumRetryAttempts", m.maximum_retry_attempts);
  w.member_int("MaximumRecordAgeInSeconds", m.maximum_record_age_s);
  w.member_int("TumblingWindowInSeconds", m.tumbling_window_s);
  w.key("FunctionResponseTypes");
  w.begin_array();
  if (m.report_batch_item_failures) w.string("ReportBatchItemFailures");
  w.end_array();
  w.key("DestinationConfig");
  w.begin_object();
  w.key("OnFailure");
  w.begin_object();
  if (!m.on_failure_destination.empty()) w.member("Destination", m.on_failure_destination);
  w.end_object();
  w.end_object();
  if (!m.filter_patterns.empty()) {
    w.key("FilterCriteria");
    w.begin_object();
    w.key("Filters");
    w.begin_array();
    for (const std::string& p : m.filter_patterns) {
      w.begin_object();
      w.member("Pattern", p);
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  if (!m.metrics.empty()) {
    w.key("MetricsConfig");
    w.begin_object();
    w.key("Metrics");
    w.begin_array();
    for (const std::string& metric : m.metrics) w.string(metric);
    w.end_array();
    w.end_object();
  }
  if (!m.kms_key_arn.empty()) w.member("KMSKeyArn", m.kms_key_arn);
  w.key("LastModified");
  w.epoch_seconds_millis(m.last_modified_ms);
  w.member("LastProcessingResult", m.last_processing_result);
  w.member("State", esm::to_string(m.state));
  w.member("StateTransitionReason", m.state_transition_reason);
  w.end_object();
}

std::string render_mapping(const esm::Mapping& m) {
  JsonWriter w;
  write_mapping(w, m);
  return w.take();
}

std::optional<ApiError> list_mappings(const std::vector<esm::Mapping>& all, const Identity& id,
                                      const MappingListQuery& q, MappingPage& out) {
  out = MappingPage{};
  size_t page_size = kMappingsPerPage;
  if (q.max_items) {
    int64_t n = 0;
    const std::string& text = *q.max_items;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      return invalid_parameter(fmt::format("MaxItems must be an integer; got {}", text));
    }
    if (n < 1) {
      return ApiError{ErrorType::kValidation,
                      validation_message({validation_clause(
                          text, "maxItems", "Member must have value greater than or equal to 1")})};
    }
    if (n > 10'000) {
      return ApiError{
          ErrorType::kValidation,
          validation_message({validation_clause(
              text, "maxItems", "Member must have value less than or equal to 10000")})};
    }
    page_size = std::min(page_size, static_cast<size_t>(n));
  }
  std::optional<std::pair<int64_t, std::string>> after;
  if (q.marker && !q.marker->empty()) {
    after = decode_marker(*q.marker);
    if (!after) return invalid_parameter("The Marker is not one this server returned.");
  }
  // FunctionName: a name, partial ARN or ARN; with a qualifier only that qualified ARN
  // matches, without one every mapping of the function does.
  std::optional<std::string> function_arn;
  bool function_qualified = false;
  if (q.function_name) {
    FunctionRef ref;
    if (resolve_function_name(*q.function_name, id, std::nullopt, NameUse::kRead, ref) ||
        ref.name.empty()) {
      return std::nullopt;  // refers to nothing: an empty page
    }
    function_arn = function::function_arn(id.region, id.account, ref.name);
    if (ref.qualifier) {
      *function_arn += ":" + *ref.qualifier;
      function_qualified = true;
    }
  }
  std::vector<const esm::Mapping*> matching;
  for (const esm::Mapping& m : all) {
    if (m.account != id.account || m.region != id.region) continue;
    if (q.event_source_arn && m.event_source_arn != *q.event_source_arn) continue;
    if (function_arn) {
      const std::string have =
          function_qualified ? m.function_arn : esm::unqualified_function_arn(m.function_arn);
      if (have != *function_arn) continue;
    }
    if (after && std::make_pair(m.created_ms, m.uuid) <= *after) continue;
    matching.push_back(&m);
  }
  for (size_t i = 0; i < matching.size() && i < page_size; ++i) {
    out.mappings.push_back(*matching[i]);
  }
  if (matching.size() > page_size) out.next_marker = encode_marker(out.mappings.back());
  return std::nullopt;
}

std::string render_page(const MappingPage& page) {
  JsonWriter w;
  w.begin_object();
  w.key("EventSourceMappings");
  w.begin_array();
  for (const esm::Mapping& m : page.mappings) write_mapping(w, m);
  w.end_array();
  if (page.next_marker) w.member("NextMarker", *page.next_marker);
  w.end_object();
  return w.take();
}

ApiError to_mapping_error(const Status& status) {
  // The mapping operations differ from the function ones in two answers only.
  switch (status.code()) {
    case Code::kNotFound:
      return {ErrorType::kResourceNotFound, std::string(kNotFound)};
    case Code::kInUse:
      return {ErrorType::kResourceInUse, std::string(status.message())};
    default:
      return to_api_error(status);
  }
}

// ---- MappingApi ----

FunctionLookup MappingApi::lookup() const {
  return [registry = registry_](const FunctionKey& key) -> std::optional<std::string> {
    auto r = registry->get(key);
    if (!r.ok()) return std::nullopt;
    return r->spec.arn;
  };
}

std::optional<ApiError> MappingApi::owned(std::string_view uuid, const Identity& id,
                                          esm::Mapping& out) const {
  auto r = engine_->get(uuid);
  if (!r.ok()) return to_mapping_error(r.status());
  if (r->account != id.account || r->region != id.region) {
    return ApiError{ErrorType::kResourceNotFound, std::string(kNotFound)};
  }
  out = std::move(*r);
  return std::nullopt;
}

net::Response MappingApi::route(std::string_view method, const std::vector<std::string>& segments,
                                const std::vector<std::pair<std::string, std::string>>& query,
                                std::string_view body, const Identity& id) const {
  const size_t n = segments.size();
  if (n == 1 && method == "POST") return create(body, id);
  if (n == 1 && method == "GET") {
    MappingListQuery q;
    for (const auto& [k, v] : query) {
      if (k == "EventSourceArn") q.event_source_arn = v;
      if (k == "FunctionName") q.function_name = v;
      if (k == "Marker") q.marker = v;
      if (k == "MaxItems") q.max_items = v;
    }
    return list(q, id);
  }
  if (n == 2 && method == "GET") return get(segments[1], id);
  if (n == 2 && method == "PUT") return update(segments[1], body, id);
  if (n == 2 && method == "DELETE") return remove(segments[1], id);
  return error_response({ErrorType::kResourceNotFound, std::string(kNotFound)});
}

net::Response MappingApi::create(std::string_view body, const Identity& id) const {
  MappingFields fields;
  if (auto e = parse_mapping_fields(body, MappingRequestKind::kCreate, fields)) {
    return error_response(*e);
  }
  esm::Mapping draft;
  const SourceCheck source_check = [this](std::string_view arn) {
    return engine_->check_event_source(arn);
  };
  if (auto e = build_create_draft(fields, id, clock_->now_ms(), lookup(), draft, source_check)) {
    return error_response(*e);
  }
  if (auto e = check_destination(draft.on_failure_destination)) return error_response(*e);
  auto created = engine_->create(std::move(draft));
  if (!created.ok()) return error_response(to_mapping_error(created.status()));
  return json(202, render_mapping(*created));
}

std::optional<ApiError> MappingApi::check_destination(std::string_view arn) const {
  if (arn.empty()) return std::nullopt;  // none, or cleared
  if (Status s = engine_->check_destination(arn); !s.ok()) {
    return invalid_parameter(std::string(s.message()));
  }
  return std::nullopt;
}

net::Response MappingApi::get(std::string_view uuid, const Identity& id) const {
  esm::Mapping m;
  if (auto e = owned(uuid, id, m)) return error_response(*e);
  return json(200, render_mapping(m));
}

net::Response MappingApi::update(std::string_view uuid, std::string_view body,
                                 const Identity& id) const {
  esm::Mapping current;
  if (auto e = owned(uuid, id, current)) return error_response(*e);
  MappingFields fields;
  if (auto e = parse_mapping_fields(body, MappingRequestKind::kUpdate, fields)) {
    return error_response(*e);
  }
  std::optional<std::string> function_arn;
  if (auto e = check_update(fields, id, lookup(), function_arn)) return error_response(*e);
  if (fields.destination_config_given) {
    if (auto e = check_destination(fields.on_failure_destination)) return error_response(*e);
  }
  // A new function must not make this mapping a duplicate of another (spec 1.5 step 10).
  if (function_arn && *function_arn != current.function_arn) {
    for (const esm::Mapping& other : engine_->list()) {
      if (other.uuid != current.uuid && other.account == current.account &&
          other.region == current.region && other.event_source_arn == current.event_source_arn &&
          other.function_arn == *function_arn) {
        return error_response({ErrorType::kResourceConflict, conflict_message(other)});
      }
    }
  }
  auto updated = engine_->update(uuid, [&](esm::Mapping& m) {
    apply_update(fields, function_arn, m);
    return Status();
  });
  if (!updated.ok()) return error_response(to_mapping_error(updated.status()));
  return json(202, render_mapping(*updated));
}

net::Response MappingApi::remove(std::string_view uuid, const Identity& id) const {
  esm::Mapping current;
  if (auto e = owned(uuid, id, current)) return error_response(*e);
  auto removed = engine_->remove(uuid);
  if (!removed.ok()) return error_response(to_mapping_error(removed.status()));
  return json(202, render_mapping(*removed));
}

net::Response MappingApi::list(const MappingListQuery& query, const Identity& id) const {
  MappingPage page;
  if (auto e = list_mappings(engine_->list(), id, query, page)) return error_response(*e);
  return json(200, render_page(page));
}

}  // namespace sluice::lambda
