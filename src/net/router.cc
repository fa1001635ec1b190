#include "net/router.h"

#include "base/await.h"
#include "base/check.h"
#include "base/log.h"
#include "net/aws_request.h"

#include <fmt/format.h>

#include <atomic>
#include <exception>
#include <utility>

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

Endpoint endpoint_of(Handler handler) { return Endpoint{std::move(handler), nullptr}; }
Endpoint endpoint_of(AsyncHandler handler) { return Endpoint{nullptr, std::move(handler)}; }
bool is_set(const Endpoint& e) { return e.blocking != nullptr || e.async != nullptr; }

}  // namespace

struct Responder::State {
  State(Deliver d, Offload o) : deliver(std::move(d)), offload(std::move(o)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (!answered.exchange(true)) {
      deliver(Response::json_error(500, "InternalFailure", "internal error"));
    }
  }

  const Deliver deliver;
  const Offload offload;
  std::atomic<bool> answered{false};
};

Responder::Responder(Deliver deliver, Offload offload)
    : state_(std::make_shared<State>(std::move(deliver), std::move(offload))) {}

void Responder::answer(Response response) const {
  if (!state_->answered.exchange(true)) state_->deliver(std::move(response));
}

void Responder::answer_blocking(std::function<Response()> work) const {
  state_->offload([self = *this, work = std::move(work)] {
    Response response;
    try {
      response = work();
    } catch (const std::exception& e) {
      logging::get("net")->error("blocking work of an asynchronous handler threw: {}", e.what());
      response = Response::json_error(500, "InternalFailure", "internal error");
    } catch (...) {
      logging::get("net")->error("blocking work of an asynchronous handler threw a non-exception");
      response = Response::json_error(500, "InternalFailure", "internal error");
    }
    self.answer(std::move(response));
  });
}

void Router::add(std::string_view method, std::string_view path, Handler handler) {
  add_path(method, path, endpoint_of(std::move(handler)));
}
void Router::add(std::string_view method, std::string_view path, AsyncHandler handler) {
  add_path(method, path, endpoint_of(std::move(handler)));
}
void Router::add_target_prefix(std::string_view prefix, Handler handler) {
  add_target(prefix, endpoint_of(std::move(handler)));
}
void Router::add_target_prefix(std::string_view prefix, AsyncHandler handler) {
  add_target(prefix, endpoint_of(std::move(handler)));
}
void Router::add_path_prefix(std::string_view prefix, Handler handler) {
  add_prefix(prefix, endpoint_of(std::move(handler)));
}
void Router::add_path_prefix(std::string_view prefix, AsyncHandler handler) {
  add_prefix(prefix, endpoint_of(std::move(handler)));
}
void Router::add_signing_service(std::string_view service, Handler handler) {
  add_service(service, endpoint_of(std::move(handler)));
}
void Router::add_signing_service(std::string_view service, AsyncHandler handler) {
  add_service(service, endpoint_of(std::move(handler)));
}

void Router::add_path(std::string_view method, std::string_view path, Endpoint endpoint) {
  SLUICE_CHECK(is_set(endpoint), "null handler for {} {}", method, path);
  SLUICE_CHECK(!path.empty() && path.front() == '/', "route path '{}' must start with '/'", path);
  for (const PathRoute& r : path_routes_) {
    SLUICE_CHECK(!(r.method == method && r.path == path), "route {} {} registered twice", method,
                 path);
  }
  path_routes_.push_back({std::string(method), std::string(path), std::move(endpoint)});
}

void Router::add_target(std::string_view prefix, Endpoint endpoint) {
  SLUICE_CHECK(is_set(endpoint), "null handler for X-Amz-Target prefix {}", prefix);
  SLUICE_CHECK(!prefix.empty(), "empty X-Amz-Target prefix");
  for (const TargetRoute& r : target_routes_) {
    SLUICE_CHECK(r.prefix != prefix, "X-Amz-Target prefix {} registered twice", prefix);
  }
  target_routes_.push_back({std::string(prefix), std::move(endpoint)});
}

void Router::add_prefix(std::string_view prefix, Endpoint endpoint) {
  SLUICE_CHECK(is_set(endpoint), "null handler for path prefix {}", prefix);
  SLUICE_CHECK(!prefix.empty() && prefix.front() == '/', "path prefix '{}' must start with '/'",
               prefix);
  for (const TargetRoute& r : path_prefix_routes_) {
    SLUICE_CHECK(r.prefix != prefix, "path prefix {} registered twice", prefix);
  }
  path_prefix_routes_.push_back({std::string(prefix), std::move(endpoint)});
}

void Router::add_service(std::string_view service, Endpoint endpoint) {
  SLUICE_CHECK(is_set(endpoint), "null handler for signing service {}", service);
  SLUICE_CHECK(!service.empty(), "empty signing service");
  for (const TargetRoute& r : service_routes_) {
    SLUICE_CHECK(r.prefix != service, "signing service {} registered twice", service);
  }
  service_routes_.push_back({std::string(service), std::move(endpoint)});
}

Response Router::route(const Request& request) const {
  auto found = find(request);
  if (Response* error = std::get_if<Response>(&found)) return std::move(*error);
  const Endpoint& endpoint = *std::get<const Endpoint*>(found);
  if (endpoint.blocking) return endpoint.blocking(request);
  return await_callback<Response>([&](Responder::Deliver deliver) {
    endpoint.async(request,
                   Responder(std::move(deliver), [](std::function<void()> job) { job(); }));
  });
}

std::variant<const Endpoint*, Response> Router::find(const Request& request) const {
  const std::string_view target = request.header(kTargetHeader);
  if (!target.empty()) {
    const TargetRoute* best = nullptr;
    for (const TargetRoute& r : target_routes_) {
      if (target.starts_with(r.prefix) &&
          (best == nullptr || r.prefix.size() > best->prefix.size())) {
        best = &r;
      }
    }
    if (best != nullptr) return &best->endpoint;
    return Response::json_error(400, "UnknownOperationException",
                                fmt::format("unknown operation {}", printable(target)));
  }

  if (!service_routes_.empty()) {
    const std::string service = signing_service(request);
    for (const TargetRoute& r : service_routes_) {
      if (!service.empty() && r.prefix == service) return &r.endpoint;
    }
  }

  std::string allowed;
  for (const PathRoute& r : path_routes_) {
    if (r.path != request.path) continue;
    if (r.method == request.method) return &r.endpoint;
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
  if (best_prefix != nullptr) return &best_prefix->endpoint;
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
