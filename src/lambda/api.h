#pragma once

#include "base/clock.h"
#include "function/invoker.h"
#include "lambda/event_queue.h"
#include "lambda/names.h"
#include "lambda/registry.h"
#include "net/http_message.h"
#include "net/router.h"

#include <span>
#include <string>
#include <string_view>

namespace sluice::esm {
class Engine;
}  // namespace sluice::esm

namespace sluice::lambda {

struct ApiOptions {
  std::string default_account = "000000000000";  // when the access key is not 12 digits
  std::string default_region = "us-east-1";      // when the request is unsigned
  // Largest payload of an asynchronous invoke (Event, InvokeAsync); larger ones get 413.
  size_t max_event_payload_bytes = 262'144;
};

// The Lambda function control plane over REST-JSON (spec sections 1 and 2,
// docs/wire/lambda.md): CreateFunction, GetFunction, GetFunctionConfiguration,
// ListFunctions, DeleteFunction, UpdateFunctionCode, UpdateFunctionConfiguration and the
// auxiliary routes of 2.11, and Invoke (section 4): RequestResponse through a
// function::Invoker, DryRun, and Event and the legacy InvokeAsync through an EventQueue.
// The event source mapping routes go to a MappingApi (mapping_api.h) over `mappings`; without
// an engine they answer InvalidParameterValueException (400).
//
// Created by the composition root; borrows `registry` and `clock`, which must outlive it.
// handle() may run on any number of threads at once (the registry is thread-safe); it
// blocks on file I/O for code uploads (see FunctionRegistry).
class Api {
 public:
  // `invoker` runs Invoke's synchronous invocations; null refuses them (4xx). `events`
  // takes asynchronous ones (202 once durable); null refuses them (4xx). `mappings` serves
  // the event source mapping routes; null refuses them (4xx). All borrowed.
  Api(FunctionRegistry* registry, const Clock* clock, ApiOptions options,
      function::Invoker* invoker = nullptr, EventQueue* events = nullptr,
      esm::Engine* mappings = nullptr);

  // Every Lambda request: the router sends here whatever starts with one of
  // path_prefixes(). Always answers; never throws.
  net::Response handle(const net::Request& request) const;
  // handle() for the router's asynchronous kind, on an event-loop thread: a synchronous
  // Invoke (RequestResponse) is checked there and answered from the invoker's callback, so
  // that no thread waits for the function; every other request goes to handle() through
  // Responder::answer_blocking, since it may block on SQLite and file I/O.
  void handle_async(const net::Request& request, net::Responder responder) const;

  // GET <kCodePrefix><account>/<region>/<name>/<code_id>/code.zip: the stored zip, the
  // Code.Location of GetFunction (spec 2.5). Unsigned, like a pre-signed URL.
  net::Response handle_code_download(const net::Request& request) const;

  static constexpr std::string_view kCodePrefix = "/_sluice/lambda/code/";
  // The Lambda API-version path prefixes of spec 1.1, each with its trailing '/'.
  static std::span<const std::string_view> path_prefixes();

 private:
  FunctionRegistry* const registry_;
  const Clock* const clock_;
  const ApiOptions options_;
  function::Invoker* const invoker_;
  EventQueue* const events_;
  esm::Engine* const mappings_;
};

// The identity of spec section 0 from the SigV4 Authorization header (or the presigned
// X-Amz-Credential query parameter), else the defaults.
Identity identity_of(const net::Request& request, const ApiOptions& options);

}  // namespace sluice::lambda
