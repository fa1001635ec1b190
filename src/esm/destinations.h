#pragma once

#include "base/status.h"

#include <optional>
#include <string>
#include <string_view>

namespace sluice::esm {

// One failure notice on its way to an on-failure destination (docs/esm.md).
struct NoticeDelivery {
  std::string notice;       // the spec 9.2 document: a queue's message body
  std::string object_key;   // for a bucket: where the object goes (notice_object_key)
  std::string object_body;  // for a bucket: the notice with its payload (notice_object_json)
};

// Where the engine stores failure notices: the seam between the mapping engine and whatever
// holds queues and buckets. server/ implements it over Sluice's own SQS- and S3-compatible
// services; tests use a fake. Borrowed by the engine, it must outlive it. Thread-safe; calls
// may block on disk I/O.
class FailureDestinations {
 public:
  virtual ~FailureDestinations() = default;

  // OK when notices can be delivered to `arn` now. Errors carry the client text:
  // kInvalidArgument when `arn` is of a kind that is not provided (SNS topics, FIFO queues);
  // kNotFound when the queue or bucket does not exist.
  virtual Status check(std::string_view arn) const = 0;

  // Stores one notice; when it returns OK the notice is durable. A queue ARN receives
  // `delivery.notice` as one message; a bucket ARN receives `delivery.object_body` at
  // `delivery.object_key`. Any error leaves nothing half-stored that a reader would see;
  // the engine keeps the records and tries again later.
  virtual Status deliver(std::string_view arn, const NoticeDelivery& delivery) = 0;
};

// The bucket name of an S3 bucket ARN (arn:<partition>:s3:::<name>); nullopt for any other
// ARN.
inline std::optional<std::string_view> bucket_of_arn(std::string_view arn) {
  const size_t service = arn.find(':', 4);  // after "arn:<partition>"
  if (!arn.starts_with("arn:") || service == std::string_view::npos) return std::nullopt;
  const std::string_view rest = arn.substr(service);
  if (!rest.starts_with(":s3:::")) return std::nullopt;
  return rest.substr(6);
}

// Whether `arn` names an S3 bucket: its notices carry the records' payload (spec 9.3).
inline bool is_bucket_arn(std::string_view arn) { return bucket_of_arn(arn).has_value(); }

}  // namespace sluice::esm
