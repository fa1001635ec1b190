#pragma once

#include "net/http_message.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::net {

// Answers one request and may block: a PutRecord waiting for its group's fdatasync, a
// function upload being unpacked. The connection runs it on the handler pool
// (ServerOptions::handler_threads), so that it holds a pool thread and not an event-loop
// thread. It should not throw; an exception becomes a 500 InternalFailure and is logged.
using Handler = std::function<Response(const Request&)>;

// How an asynchronous handler answers its request: once, now or later, from any thread.
// Copies share one answer; the first answer() wins and later ones are ignored. When the last
// copy goes without any answer, the request is answered 500 InternalFailure, so a handler that
// loses its Responder (an exception, a dropped callback) never leaves a client waiting.
//
// The Request the handler was given stays valid until the request is answered (its
// connection waits for the answer), not only until the handler returns.
class Responder {
 public:
  // Delivers the answer to the connection; called at most once, from any thread.
  using Deliver = std::function<void(Response)>;
  // Runs a job where blocking is allowed (the handler pool), or inline when there is none.
  using Offload = std::function<void(std::function<void()>)>;

  Responder(Deliver deliver, Offload offload);

  void answer(Response response) const;
  // Runs `work` where it may block and answers with what it returns (500 InternalFailure
  // if it throws): for the requests of an asynchronous route that need a blocking Handler.
  void answer_blocking(std::function<Response()> work) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Answers one request without blocking: it runs on the event-loop thread that read the
// request, and hands any wait to whatever completes later (an invoker's callback, a group
// commit), which answers through the Responder. Work that may block goes through
// Responder::answer_blocking. An exception thrown before the Responder was answered becomes
// a 500 InternalFailure and is logged.
using AsyncHandler = std::function<void(const Request&, Responder)>;

// One route's handler: exactly one of the two is set.
struct Endpoint {
  Handler blocking;
  AsyncHandler async;
};

// Maps a request to its handler. Three kinds of route:
//   - by method and exact path ("GET", "/_sluice/health"); the query string is ignored;
//   - by the prefix of the X-Amz-Target header ("Kinesis_20131202."), for the AWS JSON
//     protocols, whose requests are all "POST /" and name the operation in that header;
//   - by path prefix ("/2015-03-31/"), for REST protocols (Lambda) whose handler parses the
//     rest of the path itself; any method;
//   - by the service of the SigV4 credential scope ("s3"), for REST protocols whose paths
//     are the caller's own names (S3's path-style buckets); any method, any path.
// A request that carries a non-empty X-Amz-Target is routed by it alone (longest matching
// prefix wins). Else a request signed for a service that has a route goes there. Any other
// request goes to the exact (method, path) route when there is one, else to the longest path
// prefix that its path starts with, else to an error.
//
// Built by the composition root before the server starts; afterwards it is only read, so
// route() may be called from any number of threads at once. Registering while serving is a
// data race. The Router must outlive every Server that uses it.
class Router {
 public:
  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Each add_* takes a blocking Handler or an AsyncHandler.
  // REQUIRES: no route for (method, path) yet; `path` starts with '/'.
  void add(std::string_view method, std::string_view path, Handler handler);
  void add(std::string_view method, std::string_view path, AsyncHandler handler);
  // REQUIRES: `prefix` is non-empty and not registered yet.
  void add_target_prefix(std::string_view prefix, Handler handler);
  void add_target_prefix(std::string_view prefix, AsyncHandler handler);
  // REQUIRES: `prefix` starts with '/' and is not registered yet. The prefix is compared
  // with the raw (still percent-encoded) path, byte for byte.
  void add_path_prefix(std::string_view prefix, Handler handler);
  void add_path_prefix(std::string_view prefix, AsyncHandler handler);
  // REQUIRES: `service` is non-empty and not registered yet.
  void add_signing_service(std::string_view service, Handler handler);
  void add_signing_service(std::string_view service, AsyncHandler handler);

  // The handler's response, or when no route matches:
  //   - (path prefix routes answer every method, so they never produce the errors below)
  //   - X-Amz-Target request: 404 {"__type":"UnknownOperationException","message":...};
  //   - known path, other method: 405 {"message":...} with an Allow header;
  //   - otherwise: 404 {"message":...}.
  // The handler of `request`, or the error response above when no route matches. What the
  // connections use: they decide where the handler runs.
  std::variant<const Endpoint*, Response> find(const Request& request) const;

  // find() and the handler's response, all on the calling thread (an asynchronous handler's
  // answer is waited for; its blocking work runs inline). For tests and tools.
  // Exceptions from the handler propagate to the caller (the connection maps them to 500).
  Response route(const Request& request) const;

 private:
  struct PathRoute {
    std::string method;
    std::string path;
    Endpoint endpoint;
  };
  struct TargetRoute {
    std::string prefix;
    Endpoint endpoint;
  };

  void add_path(std::string_view method, std::string_view path, Endpoint endpoint);
  void add_target(std::string_view prefix, Endpoint endpoint);
  void add_prefix(std::string_view prefix, Endpoint endpoint);
  void add_service(std::string_view service, Endpoint endpoint);

  std::vector<PathRoute> path_routes_;
  std::vector<TargetRoute> target_routes_;
  std::vector<TargetRoute> path_prefix_routes_;  // `prefix` is a path prefix here
  std::vector<TargetRoute> service_routes_;      // `prefix` is a signing service here
};

}  // namespace sluice::net
