#include "server/destinations.h"

#include <fmt/format.h>

#include <optional>

namespace sluice::server {

namespace {

enum class Kind { kQueue, kBucket, kOther };

// What arn:<partition>:<service>:... names; the bucket name for S3 (esm::bucket_of_arn).
Kind kind_of(std::string_view arn, std::string_view& bucket) {
  if (const std::optional<std::string_view> name = esm::bucket_of_arn(arn)) {
    bucket = *name;
    return Kind::kBucket;
  }
  const size_t service_start = arn.find(':', 4);
  if (!arn.starts_with("arn:") || service_start == std::string_view::npos) return Kind::kOther;
  return arn.substr(service_start + 1).starts_with("sqs:") ? Kind::kQueue : Kind::kOther;
}

}  // namespace

Status ServiceDestinations::check(std::string_view arn) const {
  std::string_view bucket;
  switch (kind_of(arn, bucket)) {
    case Kind::kQueue: {
      const Status s = queues_->check_queue_arn(arn);
      if (s.code() == Code::kNotFound) {
        return Status::not_found(
            fmt::format("The OnFailure destination queue does not exist: {}", arn));
      }
      if (s.code() == Code::kInvalidArgument) {
        return Status::invalid_argument(
            fmt::format("The OnFailure destination must be a standard SQS queue; got {}: {}", arn,
                        s.message()));
      }
      return s;
    }
    case Kind::kBucket: {
      const Status s = buckets_->check_bucket(bucket);
      if (s.code() == Code::kNotFound) {
        return Status::not_found(
            fmt::format("The OnFailure destination bucket does not exist: {}", arn));
      }
      return s;
    }
    case Kind::kOther:
      break;
  }
  return Status::invalid_argument(fmt::format(
      "The OnFailure destination must be an SQS queue or an S3 bucket of this server; got {}",
      arn));
}

Status ServiceDestinations::deliver(std::string_view arn, const esm::NoticeDelivery& delivery) {
  std::string_view bucket;
  switch (kind_of(arn, bucket)) {
    case Kind::kQueue:
      return queues_->send_to_arn(arn, delivery.notice).status();
    case Kind::kBucket:
      return buckets_->put_object(bucket, delivery.object_key, delivery.object_body);
    case Kind::kOther:
      break;
  }
  return Status::invalid_argument(fmt::format("not a destination of this server: {}", arn));
}

}  // namespace sluice::server
