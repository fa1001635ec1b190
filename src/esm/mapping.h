#pragma once

#include "base/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::esm {

// StartingPosition of a Kinesis mapping (spec 1.2, 3.1).
enum class StartingPosition { kTrimHorizon, kLatest, kAtTimestamp };
std::string_view to_string(StartingPosition p);  // "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"
std::optional<StartingPosition> parse_starting_position(std::string_view text);

// The State of a mapping (spec 1.3, 1.4).
enum class MappingState {
  kCreating,
  kEnabling,
  kEnabled,
  kDisabling,
  kDisabled,
  kUpdating,
  kDeleting
};
std::string_view to_string(MappingState s);  // "Creating", "Enabling", ...
std::optional<MappingState> parse_mapping_state(std::string_view text);

inline constexpr std::string_view kUserAction = "User action";
inline constexpr std::string_view kNoRecordsProcessed = "No records processed";
inline constexpr std::string_view kResultOk = "OK";
inline constexpr std::string_view kResultFunctionFailed = "PROBLEM: Function call failed";

// One event source mapping of a Kinesis stream to a function: the configuration of spec 1.2
// as the control plane accepted it, plus the status fields of 1.3. A plain value; the
// engine (engine.h) owns the stored copy.
struct Mapping {
  std::string uuid;     // lowercase UUID v4
  std::string account;  // 12 digits, the caller's
  std::string region;
  // As echoed in FunctionArn: the resolved ARN, with the request's qualifier if it gave one
  // ("...:function:fn:$LATEST", "...:function:fn:1").
  std::string function_arn;
  std::string event_source_arn;  // a stream ARN (or an enhanced fan-out consumer ARN)
  StartingPosition starting_position = StartingPosition::kLatest;
  // AT_TIMESTAMP only: epoch seconds exactly as the request gave them (echoed verbatim).
  std::optional<double> starting_position_timestamp;
  int32_t batch_size = 100;
  int32_t maximum_batching_window_s = 0;
  int32_t parallelization_factor = 1;
  bool bisect_batch_on_function_error = false;
  int32_t maximum_retry_attempts = -1;       // -1: until the records expire
  int32_t maximum_record_age_s = -1;         // -1: no limit
  std::string on_failure_destination;        // ARN; empty: none
  bool report_batch_item_failures = false;   // FunctionResponseTypes ["ReportBatchItemFailures"]
  int32_t tumbling_window_s = 0;             // 0: off
  std::vector<std::string> filter_patterns;  // FilterCriteria.Filters[].Pattern, verbatim
  std::vector<std::string> metrics;          // MetricsConfig.Metrics
  std::string kms_key_arn;                   // empty: none
  bool enabled = true;                       // what the user asked for

  MappingState state = MappingState::kCreating;
  std::string state_transition_reason = std::string(kUserAction);
  std::string last_processing_result = std::string(kNoRecordsProcessed);
  int64_t last_modified_ms = 0;  // Unix ms of the last change of configuration or state
  int64_t created_ms = 0;        // Unix ms of creation (List order)

  bool operator==(const Mapping&) const = default;
};

// The unqualified function ARN of `mapping.function_arn` (the qualifier dropped), which is
// what an invocation names, and the bare function name (for messages).
std::string unqualified_function_arn(std::string_view function_arn);
std::string function_name_of(std::string_view function_arn);

// The stored form of a mapping (JSON, version 1; docs/formats/esm-catalog.md) and its
// inverse. decode_mapping() returns kCorruption naming `key` for anything it cannot read.
std::string encode_mapping(const Mapping& mapping);
Result<Mapping> decode_mapping(std::string_view json, std::string_view key);

}  // namespace sluice::esm
