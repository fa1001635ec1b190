#pragma once

#include "net/http_message.h"
#include "s3/object_store.h"

#include <string>

namespace sluice::s3 {

struct ApiOptions {
  // Used when a request's credential names no account or region (net::caller_of).
  std::string default_account = "000000000000";
  std::string default_region = "us-east-1";
};

// The S3 REST API, path style (docs/wire/s3.md), over an ObjectStore: XML bodies and AWS's
// XML errors. Created by the composition root; `store` is borrowed and must outlive the Api.
// Thread-safe. handle() blocks on the store's file I/O (fsync on writes): the router runs it
// on a handler thread.
class Api {
 public:
  explicit Api(ObjectStore* store, ApiOptions options = {});

  // Registered on the router for requests signed for the "s3" service. Never throws; every
  // failure is an S3 XML error (no body for HEAD), with x-amz-request-id set.
  net::Response handle(const net::Request& request) const;

 private:
  ObjectStore* const store_;
  const ApiOptions options_;
};

}  // namespace sluice::s3
