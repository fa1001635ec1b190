#include "runtime/internal/runtime_api_server.h"

#include "base/log.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <string_view>

namespace sluice::runtime::internal {
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// A body beyond this is not even read: the connection is closed. Between kMaxResponseBytes
// and this, the runtime gets a proper 413.
constexpr size_t kHardBodyLimit = 16 * 1024 * 1024;
constexpr std::string_view kInvocationPrefix = "/2018-06-01/runtime/invocation/";

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int hi = hex(in[i + 1]);
      const int lo = hex(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

Response make_response(const Request& req, http::status status, std::string body,
                       bool json = true) {
  Response res(status, req.version());
  if (json) res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response accepted(const Request& req) {
  return make_response(req, http::status::accepted, R"({"status":"OK"})");
}

Response invalid_request_id(const Request& req) {
  return make_response(req, http::status::bad_request,
                       R"({"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"})");
}

Response invalid_state(const Request& req, std::string_view from, std::string_view to) {
  return make_response(
      req, http::status::forbidden,
      fmt::format(
          R"({{"errorMessage":"State transition from {} to {} failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}})",
          from, to));
}

Response too_large(const Request& req) {
  Response res = make_response(
      req, http::status::payload_too_large,
      R"({"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"})");
  res.keep_alive(false);
  return res;
}

std::string_view content_type_of(const Request& req) {
  auto it = req.find(http::field::content_type);
  return it == req.end() ? std::string_view() : std::string_view(it->value());
}

}  // namespace

// The request handlers; a friend so that they can read the protocol state.
struct Handler {
  RuntimeApiServer& s;

  asio::awaitable<std::optional<Response>> next(const Request& req) {
    if (s.invoking_) co_return invalid_state(req, "Invoking", "Ready");
    if (s.next_waiting_) co_return invalid_state(req, "Ready", "Ready");
    if (!s.saw_next_) {
      s.saw_next_ = true;
      if (s.delegate_ != nullptr) s.delegate_->on_ready();
    }
    s.next_waiting_ = true;
    while (!s.offer_ && !s.stopped_) {
      s.next_wakeup_.expires_at(asio::steady_timer::time_point::max());
      co_await s.next_wakeup_.async_wait(kTuple);  // cancelled by offer() and stop()
    }
    s.next_waiting_ = false;
    if (s.stopped_) co_return std::nullopt;
    RuntimeApiServer::Offer offer = std::move(*s.offer_);
    s.offer_.reset();
    s.invoking_ = offer.request_id;
    s.ever_invoked_ = true;
    Response res(http::status::ok, req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::content_type, "application/json");
    res.set("Lambda-Runtime-Aws-Request-Id", offer.request_id);
    res.set("Lambda-Runtime-Deadline-Ms", std::to_string(offer.deadline_ms));
    res.set("Lambda-Runtime-Invoked-Function-Arn", offer.function_arn);
    if (!offer.trace_id.empty()) res.set("Lambda-Runtime-Trace-Id", offer.trace_id);
    if (!offer.client_context.empty()) {
      res.set("Lambda-Runtime-Client-Context", offer.client_context);
    }
    if (!offer.tenant_id.empty()) res.set("Lambda-Runtime-Aws-Tenant-Id", offer.tenant_id);
    res.body() = std::move(offer.payload);
    res.prepare_payload();
    if (s.delegate_ != nullptr) s.delegate_->on_dispatched(offer.request_id);
    co_return res;
  }

  // POST .../invocation/{id}/response or /error.
  Response answer(Request& req, const std::string& id, bool is_error) {
    if (!s.invoking_ || *s.invoking_ != id) {
      if (s.invoking_ || s.ever_invoked_) return invalid_request_id(req);
      return invalid_state(req, s.saw_next_ ? "Ready" : "Init",
                           is_error ? "InvocationErrorResponse" : "InvocationResponse");
    }
    if (!is_error) {
      auto mode = req.find("Lambda-Runtime-Function-Response-Mode");
      if (mode != req.end() && mode->value() != "streaming") {
        return make_response(
            req, http::status::bad_request,
            R"({"errorMessage":"Invalid function response mode","errorType":"InvalidFunctionResponseMode"})");
      }
    }
    s.invoking_.reset();
    if (req.body().size() > kMaxResponseBytes) {
      if (s.delegate_ != nullptr) s.delegate_->on_response_too_large(id);
      return too_large(req);
    }
    if (s.delegate_ != nullptr) {
      if (is_error) {
        s.delegate_->on_error(id, std::move(req.body()));
      } else {
        std::string type(content_type_of(req));
        s.delegate_->on_response(id, std::move(req.body()),
                                 type.empty() ? "application/json" : std::move(type));
      }
    }
    return accepted(req);
  }

  Response init_error(Request& req) {
    if (s.saw_next_ || s.init_error_posted_) {
      return invalid_state(req, s.saw_next_ ? "Ready" : "InitError", "InitError");
    }
    s.init_error_posted_ = true;
    if (s.delegate_ != nullptr) s.delegate_->on_init_error(std::move(req.body()));
    return accepted(req);
  }

  asio::awaitable<std::optional<Response>> route(Request& req) {
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (req.method() == http::verb::get && path == "/2018-06-01/runtime/invocation/next") {
      co_return co_await next(req);
    }
    if (req.method() == http::verb::post && path == "/2018-06-01/runtime/init/error") {
      co_return init_error(req);
    }
    if (req.method() == http::verb::get && path == "/2018-06-01/ping") {
      co_return make_response(req, http::status::ok, "pong", false);
    }
    if (req.method() == http::verb::post && path.starts_with(kInvocationPrefix)) {
      const std::string_view rest = path.substr(kInvocationPrefix.size());
      const size_t slash = rest.find('/');
      if (slash != std::string_view::npos && slash > 0) {
        const std::string_view verb = rest.substr(slash + 1);
        if (verb == "response" || verb == "error") {
          co_return answer(req, percent_decode(rest.substr(0, slash)), verb == "error");
        }
      }
    }
    // Spec 7.5: SnapStart, Extensions, Telemetry and Logs APIs, and anything else: bare 404.
    co_return make_response(req, http::status::not_found, "", false);
  }
};

Result<std::shared_ptr<RuntimeApiServer>> RuntimeApiServer::start(const InvokerStrand& strand,
                                                                  Delegate* delegate) {
  auto server = std::make_shared<RuntimeApiServer>(strand, delegate);
  boost::system::error_code ec;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
  server->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) server->acceptor_.bind(endpoint, ec);
  if (!ec) server->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::io_error("runtime api listener: " + ec.message());
  server->port_ = server->acceptor_.local_endpoint(ec).port();
  if (ec) return Status::io_error("runtime api listener: " + ec.message());
  asio::co_spawn(strand, server->accept_loop(), asio::detached);
  return server;
}

RuntimeApiServer::RuntimeApiServer(const InvokerStrand& strand, Delegate* delegate)
    : acceptor_(strand), delegate_(delegate), next_wakeup_(strand) {}

void RuntimeApiServer::offer(Offer offer) {
  offer_ = std::move(offer);
  next_wakeup_.cancel();
}

void RuntimeApiServer::abandon() {
  offer_.reset();
  invoking_.reset();
}

void RuntimeApiServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  delegate_ = nullptr;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (Socket* socket : sockets_) socket->close(ignored);
  next_wakeup_.cancel();
}

asio::awaitable<void> RuntimeApiServer::accept_loop() {
  auto self = shared_from_this();
  while (!stopped_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (stopped_ || ec == asio::error::operation_aborted) break;
      continue;  // a failed accept (e.g. out of descriptors) does not end the server
    }
    asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> RuntimeApiServer::serve(Socket socket) {
  auto self = shared_from_this();
  if (stopped_) co_return;
  sockets_.insert(&socket);
  boost::beast::flat_buffer buffer;
  Handler handler{*this};
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kHardBodyLimit);
    parser.header_limit(64 * 1024);
    auto [ec, n] = co_await http::async_read(socket, buffer, parser, kTuple);
    if (ec == http::error::body_limit && !stopped_) {
      // Far too large to buffer: fail the invocation it answers and drop the connection.
      const std::string_view target(parser.get().target().data(), parser.get().target().size());
      if (invoking_ && target.starts_with(kInvocationPrefix) &&
          percent_decode(target.substr(kInvocationPrefix.size())).starts_with(*invoking_ + "/")) {
        const std::string id = *invoking_;
        invoking_.reset();
        if (delegate_ != nullptr) delegate_->on_response_too_large(id);
      }
      break;
    }
    if (ec || stopped_) break;
    Request req = parser.release();
    std::optional<Response> res = co_await handler.route(req);
    if (!res || stopped_) break;
    auto [wec, wn] = co_await http::async_write(socket, *res, kTuple);
    if (wec || res->need_eof()) break;
  }
  sockets_.erase(&socket);
  boost::system::error_code ignored;
  socket.shutdown(Socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace sluice::runtime::internal
