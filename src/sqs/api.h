#pragma once

#include "net/http_message.h"
#include "sqs/queue_service.h"

namespace sluice::sqs {

// The SQS JSON protocol (X-Amz-Target "AmazonSQS.<Op>", docs/wire/sqs.md) over a
// QueueService. Created by the composition root; `service` is borrowed. Thread-safe.
class Api {
 public:
  explicit Api(QueueService* service);

  // Registered on the router for the "AmazonSQS." target prefix.
  net::Response handle(const net::Request& request) const;

 private:
  QueueService* const service_;
};

}  // namespace sluice::sqs
