#pragma once

#include "net/http_message.h"
#include "net/router.h"
#include "stream/stream_service.h"

#include <functional>
#include <string>
#include <string_view>

namespace sluice::kinesis {

struct ApiOptions {
  std::string default_account = "000000000000";
  std::string default_region = "us-east-1";
};

// Who is calling (spec section 4): from the SigV4 credential scope, else the defaults.
struct Identity {
  std::string account;
  std::string region;
};

// The Kinesis JSON 1.1 API (docs/wire/kinesis.md), and CBOR 1.1 transcoded to it (cbor.h):
// dispatch on X-Amz-Target "Kinesis_20131202.<Op>", authentication presence checks, type
// coercion and constraint validation, then one StreamService call per operation, and the
// response written without a DOM. Created by the composition root; `service` is borrowed and
// must outlive every call.
//
// Thread-safe: nothing is kept between calls (the JSON parser is per thread), so any number
// of threads may call at once.
class Api {
 public:
  Api(stream::StreamService* service, ApiOptions options);

  // Registered on the router for the "Kinesis_20131202." target prefix. PutRecord and
  // PutRecords are parsed and validated on the calling (event-loop) thread and answered from
  // the shard writers' callback once their group is durable, so no thread waits for a sync;
  // every other operation goes to the handler pool (Responder::answer_blocking).
  void handle_async(const net::Request& request, net::Responder responder) const;
  // The same answer, waiting for it: for callers that may block.
  net::Response handle(const net::Request& request) const;

 private:
  using Reply = std::function<void(net::Response)>;
  // Answers through `reply`, at once or (writes) later from another thread.
  void respond(const net::Request& request, Reply reply) const;

  stream::StreamService* const service_;
  const ApiOptions options_;
};

// The identity of a request: Authorization header Credential=<akid>/<date>/<region>/...,
// or the X-Amz-Credential query parameter; a 12-digit access key id is the account.
Identity identity_of(const net::Request& request, const ApiOptions& options);

}  // namespace sluice::kinesis
