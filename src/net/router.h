#pragma once

#include "net/http_message.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::net {

// Answers one request. Runs on an io_context thread, on the connection's strand: it must
// not block (hand blocking file work to the I/O pool) and should not throw; an exception
// becomes a 500 InternalFailure and is logged.
//
// Handlers are synchronous for now. The seam for async handlers is Router::route(): the
// connection awaits it through one call site (Connection::dispatch), so an awaitable
// handler kind can be added to Router without touching connections or existing handlers.
using Handler = std::function<Response(const Request&)>;

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

  // REQUIRES: no route for (method, path) yet; `path` starts with '/'.
  void add(std::string_view method, std::string_view path, Handler handler);
  // REQUIRES: `prefix` is non-empty and not registered yet.
  void add_target_prefix(std::string_view prefix, Handler handler);
  // REQUIRES: `prefix` starts with '/' and is not registered yet. The prefix is compared
  // with the raw (still percent-encoded) path, byte for byte.
  void add_path_prefix(std::string_view prefix, Handler handler);
  // REQUIRES: `service` is non-empty and not registered yet.
  void add_signing_service(std::string_view service, Handler handler);

  // The handler's response, or when no route matches:
  //   - (path prefix routes answer every method, so they never produce the errors below)
  //   - X-Amz-Target request: 404 {"__type":"UnknownOperationException","message":...};
  //   - known path, other method: 405 {"message":...} with an Allow header;
  //   - otherwise: 404 {"message":...}.
  // Exceptions from the handler propagate to the caller (the connection maps them to 500).
  Response route(const Request& request) const;

 private:
  struct PathRoute {
    std::string method;
    std::string path;
    Handler handler;
  };
  struct TargetRoute {
    std::string prefix;
    Handler handler;
  };

  std::vector<PathRoute> path_routes_;
  std::vector<TargetRoute> target_routes_;
  std::vector<TargetRoute> path_prefix_routes_;  // `prefix` is a path prefix here
  std::vector<TargetRoute> service_routes_;      // `prefix` is a signing service here
};

}  // namespace sluice::net
