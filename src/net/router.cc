#include "net/router.h"

#include "base/check.h"
#include "net/aws_request.h"

#include <fmt/format.h>

namespace sluice::net {

namespace {

constexpr std::string_view kTargetHeader = "X-Amz-Target";

// Client-controlled text for an error message: printable ASCII only, and short, so that the
// JSON stays valid whatever bytes were sent.
std::string printable(std::string_view s) {
  constexpr size_t kMax = 200;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (s.size() > kMax) out += "...";
  return out;
}

}  // namespace

void Router::add(std::string_view method, std::string_view path, Handler handler) {
  SLUICE_CHECK(!path.empty() && path.front() == '/', "route path '{}' must start with '/'", path);
  SLUICE_CHECK(handler != nullptr, "null handler for {} {}", method, path);
  for (const PathRoute& r : path_routes_) {
    SLUICE_CHECK(!(r.method == method && r.path == path), "route {} {} registered twice", method,
                 path);
  }
  path_routes_.push_back({std::string(method), std::string(path), std::move(handler)});
}

void Router::add_target_prefix(std::string_view prefix, Handler handler) {
  SLUICE_CHECK(!prefix.empty(), "empty X-Amz-Target prefix");
  SLUICE_CHECK(handler != nullptr, "null handler for X-Amz-Target prefix {}", prefix);
  for (const TargetRoute& r : target_routes_) {
    SLUICE_CHECK(r.prefix != prefix, "X-Amz-Target prefix {} registered twice", prefix);
  }
  target_routes_.push_back({std::string(prefix), std::move(handler)});
}

void Router::add_path_prefix(std::string_view prefix, Handler handler) {
  SLUICE_CHECK(!prefix.empty() && prefix.front() == '/', "path prefix '{}' must start with '/'",
               prefix);
  SLUICE_CHECK(handler != nullptr, "null handler for path prefix {}", prefix);
  for (const TargetRoute& r : path_prefix_routes_) {
    SLUICE_CHECK(r.prefix != prefix, "path prefix {} registered twice", prefix);
  }
  path_prefix_routes_.push_back({std::string(prefix), std::move(handler)});
}

void Router::add_signing_service(std::string_view service, Handler handler) {
  SLUICE_CHECK(!service.empty(), "empty signing service");
  SLUICE_CHECK(handler != nullptr, "null handler for signing service {}", service);
  for (const TargetRoute& r : service_routes_) {
    SLUICE_CHECK(r.prefix != service, "signing service {} registered twice", service);
  }
  service_routes_.push_back({std::string(service), std::move(handler)});
}

Response Router::route(const Request& request) const {
  const std::string_view target = request.header(kTargetHeader);
  if (!target.empty()) {
    const TargetRoute* best = nullptr;
    for (const TargetRoute& r : target_routes_) {
      if (target.starts_with(r.prefix) &&
          (best == nullptr || r.prefix.size() > best->prefix.size())) {
        best = &r;
      }
    }
    if (best != nullptr) return best->handler(request);
    return Response::json_error(400, "UnknownOperationException",
                                fmt::format("unknown operation {}", printable(target)));
  }

  if (!service_routes_.empty()) {
    const std::string service = signing_service(request);
    for (const TargetRoute& r : service_routes_) {
      if (!service.empty() && r.prefix == service) return r.handler(request);
    }
  }

  std::string allowed;
  for (const PathRoute& r : path_routes_) {
    if (r.path != request.path) continue;
    if (r.method == request.method) return r.handler(request);
    if (!allowed.empty()) allowed += ", ";
    allowed += r.method;
  }
  const TargetRoute* best_prefix = nullptr;
  for (const TargetRoute& r : path_prefix_routes_) {
    if (request.path.starts_with(r.prefix) &&
        (best_prefix == nullptr || r.prefix.size() > best_prefix->prefix.size())) {
      best_prefix = &r;
    }
  }
  if (best_prefix != nullptr) return best_prefix->handler(request);
  if (!allowed.empty()) {
    Response response = Response::json(
        405,
        fmt::format(R"({{"message":{}}})",
                    json_quote(fmt::format("method {} not allowed on {}", printable(request.method),
                                           printable(request.path)))));
    response.headers.emplace_back("Allow", std::move(allowed));
    return response;
  }
  return Response::json(
      404, fmt::format(R"({{"message":{}}})",
                       json_quote(fmt::format("no route for {} {}", printable(request.method),
                                              printable(request.path)))));
}

}  // namespace sluice::net
