#pragma once

#include "esm/destinations.h"
#include "s3/object_store.h"
#include "sqs/queue_service.h"

namespace sluice::server {

// The on-failure destinations of event source mappings (docs/esm.md) over Sluice's own
// queues and buckets: an SQS queue ARN gets the notice as a message, an S3 bucket ARN gets it
// as an object. Created by the composition root with borrowed services that must outlive it.
// Thread-safe (the services are).
class ServiceDestinations final : public esm::FailureDestinations {
 public:
  ServiceDestinations(sqs::QueueService* queues, s3::ObjectStore* buckets)
      : queues_(queues), buckets_(buckets) {}

  Status check(std::string_view arn) const override;
  Status deliver(std::string_view arn, const esm::NoticeDelivery& delivery) override;

 private:
  sqs::QueueService* const queues_;
  s3::ObjectStore* const buckets_;
};

}  // namespace sluice::server
