#include "esm/failure_notice.h"

#include "base/json_writer.h"

#include <fmt/format.h>

#include <ctime>

namespace sluice::esm {

namespace {

struct Utc {
  std::tm tm{};
  int millis = 0;
};

Utc utc(int64_t unix_ms) {
  // Floor division: times before 1970 keep a millisecond part in 0..999.
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  Utc u;
  const std::time_t t = static_cast<std::time_t>(secs);
  gmtime_r(&t, &u.tm);
  u.millis = static_cast<int>(ms);
  return u;
}

void write_members(JsonWriter& w, const FailureNotice& n) {
  w.key("requestContext");
  w.begin_object();
  w.member("requestId", n.request_id);
  w.member("functionArn", n.function_arn);
  w.member("condition", n.condition == FailureNotice::Condition::kRetryAttemptsExhausted
                            ? "RetryAttemptsExhausted"
                            : "RecordAgeExceeded");
  w.member_int("approximateInvokeCount", n.approximate_invoke_count);
  w.end_object();
  if (n.response) {
    w.key("responseContext");
    w.begin_object();
    w.member_int("statusCode", n.response->status_code);
    w.member("executedVersion", n.response->executed_version);
    w.key("functionError");
    if (n.response->function_error) {
      w.string(*n.response->function_error);
    } else {
      w.null();
    }
    w.end_object();
  }
  w.member("version", "1.0");
  w.member("timestamp", iso8601_millis(n.timestamp_ms));
  w.key("KinesisBatchInfo");
  w.begin_object();
  w.member("shardId", n.shard_id);
  w.member("startSequenceNumber", n.start_sequence_number);
  w.member("endSequenceNumber", n.end_sequence_number);
  w.member("approximateArrivalOfFirstRecord", iso8601_millis(n.first_arrival_ms));
  w.member("approximateArrivalOfLastRecord", iso8601_millis(n.last_arrival_ms));
  w.member_int("batchSize", n.batch_size);
  w.member("streamArn", n.stream_arn);
  w.end_object();
}

}  // namespace

std::string iso8601_millis(int64_t unix_ms) {
  const Utc u = utc(unix_ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", u.tm.tm_year + 1900,
                     u.tm.tm_mon + 1, u.tm.tm_mday, u.tm.tm_hour, u.tm.tm_min, u.tm.tm_sec,
                     u.millis);
}

std::string notice_json(const FailureNotice& notice) {
  JsonWriter w;
  w.begin_object();
  write_members(w, notice);
  w.end_object();
  return w.take();
}

std::string notice_object_json(const FailureNotice& notice, std::string_view event) {
  JsonWriter w;
  w.reserve(event.size() + 1024);
  w.begin_object();
  write_members(w, notice);
  w.key("payload");
  w.raw(event);
  w.end_object();
  return w.take();
}

std::string notice_object_key(std::string_view mapping_uuid, const FailureNotice& notice,
                              std::string_view unique) {
  const Utc u = utc(notice.timestamp_ms);
  const int year = u.tm.tm_year + 1900;
  const int month = u.tm.tm_mon + 1;
  return fmt::format("aws/lambda/{}/{}/{:04}/{:02}/{:02}/{:04}-{:02}-{:02}T{:02}.{:02}.{:02}-{}",
                     mapping_uuid, notice.shard_id, year, month, u.tm.tm_mday, year, month,
                     u.tm.tm_mday, u.tm.tm_hour, u.tm.tm_min, u.tm.tm_sec, unique);
}

}  // namespace sluice::esm
