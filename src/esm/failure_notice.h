#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::esm {

// What a discarded run of records amounted to: the facts of the failure notice (spec 9.2,
// docs/esm.md "On-failure destinations"). Built by a reader when policy discards records.
struct FailureNotice {
  // Why the records were given up: the notice's requestContext.condition.
  enum class Condition { kRetryAttemptsExhausted, kRecordAgeExceeded };
  // The last invocation's answer: responseContext. Present for kRetryAttemptsExhausted after
  // an invocation (absent for kRecordAgeExceeded, spec 9.2).
  struct Response {
    int32_t status_code = 200;
    std::string executed_version = "$LATEST";
    // "Unhandled" / "Handled"; nullopt (JSON null) when a partial batch response failed.
    std::optional<std::string> function_error;
  };

  std::string request_id;  // the last invocation's id, or a fresh one when there was none
  std::string function_arn;
  Condition condition = Condition::kRetryAttemptsExhausted;
  int32_t approximate_invoke_count = 1;
  std::optional<Response> response;
  int64_t timestamp_ms = 0;  // when the notice was made
  std::string shard_id;
  std::string start_sequence_number;
  std::string end_sequence_number;
  int64_t first_arrival_ms = 0;
  int64_t last_arrival_ms = 0;
  int64_t batch_size = 0;
  std::string stream_arn;
};

// The notice as the JSON document SQS destinations receive, members in the order AWS
// writes them: requestContext, responseContext, version, timestamp, KinesisBatchInfo.
std::string notice_json(const FailureNotice& notice);

// The S3 object of a notice: the same members, then "payload" holding `event`, the
// invocation event {"Records":[...]} of the discarded records (spec 9.3).
// REQUIRES: `event` is one complete JSON object.
std::string notice_object_json(const FailureNotice& notice, std::string_view event);

// The S3 key of a notice:
// aws/lambda/<mapping uuid>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<unique>, the date and
// time from the notice's timestamp in UTC (spec 9.3).
std::string notice_object_key(std::string_view mapping_uuid, const FailureNotice& notice,
                              std::string_view unique);

// Unix milliseconds as "2026-01-01T00:05:17.482Z" (ISO-8601 UTC, milliseconds).
std::string iso8601_millis(int64_t unix_ms);

}  // namespace sluice::esm
