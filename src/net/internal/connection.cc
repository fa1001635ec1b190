#include "net/internal/connection.h"

#include "base/log.h"
#include "net/internal/dispatch.h"
#include "net/internal/http2_connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>
#include <string>
#include <vector>

namespace sluice::net::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr size_t kReadBufferBytes = 64 * 1024;

namespace {

// Errors come back as values (error_code, ...) rather than exceptions on the request path.
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Writing a canned error response and lingering take at most this long each.
constexpr std::chrono::seconds kErrorWriteTimeout{5};
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::string_view kServerHeader = "sluice";

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

// Nothing to answer: the peer went away, our timer fired, shutdown cancelled us, or the
// socket failed. Only errors of the HTTP parser deserve a response.
bool is_quiet_close(const beast::error_code& ec) {
  return ec.category() != http::make_error_code(http::error::bad_target).category() ||
         ec == http::error::end_of_stream || ec == http::error::partial_message;
}

bool valid_status(int status) { return status >= 100 && status <= 599; }

bool status_forbids_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

}  // namespace

ServerState::ServerState(const Router* r, ServerOptions o)
    : router(r),
      options(std::move(o)),
      log(logging::get("net")),
      handlers(options.handler_threads > 0
                   ? std::make_unique<asio::thread_pool>(options.handler_threads)
                   : nullptr) {}

bool ServerState::warn_allowed() {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  int64_t last = last_warn_ms_.load(std::memory_order_relaxed);
  return now_ms - last >= 1000 &&
         last_warn_ms_.compare_exchange_strong(last, now_ms, std::memory_order_relaxed);
}

BeastResponse make_error_response(unsigned status, std::string_view type,
                                  std::string_view message) {
  BeastResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::server, kServerHeader);
  res.set(http::field::content_type, "application/json");
  res.body() = Response::json_error(static_cast<int>(status), type, message).body;
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

asio::awaitable<void> respond_and_close(Stream& stream, BeastResponse response,
                                        size_t linger_max_bytes) {
  stream.expires_after(kErrorWriteTimeout);
  auto [wec, wn] = co_await http::async_write(stream, response, kTuple);
  if (!wec) {
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    std::vector<char> scratch(16 * 1024);
    const auto deadline = std::chrono::steady_clock::now() + kLingerTime;
    size_t discarded = 0;
    while (discarded < linger_max_bytes) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      stream.expires_after(left);
      auto [rec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
      if (rec) break;  // eof once the client has sent everything: the normal way out
      discarded += n;
    }
  }
  stream.close();
}

asio::awaitable<void> reject_connection(std::shared_ptr<ServerState> state, Socket socket) {
  // Counted in state->rejecting by the accept loop; uncounted here even if this frame is
  // destroyed unfinished.
  struct Uncount {
    ServerState* s;
    ~Uncount() {
      {
        std::lock_guard lock(s->mu);
        --s->rejecting;
      }
      s->cv.notify_all();
    }
  } uncount{state.get()};

  Stream stream(std::move(socket));
  BeastResponse res = make_error_response(503, "ServiceUnavailableException",
                                          "too many open connections; retry later");
  res.set(http::field::retry_after, "1");
  co_await respond_and_close(stream, std::move(res), state->options.max_header_bytes);
}

Connection::Connection(std::shared_ptr<ServerState> state, uint64_t id, Socket socket)
    : state_(std::move(state)),
      id_(id),
      strand_(socket.get_executor()),
      stream_(std::move(socket)) {
  // Beast reads at most the buffer's free capacity at a time (512 bytes when it starts
  // empty): a PutRecords body of 90 KB took some 170 recvmsg calls before this.
  buffer_.reserve(kReadBufferBytes);
}

Connection::~Connection() {
  {
    std::lock_guard lock(state_->mu);
    state_->connections.erase(id_);
  }
  state_->cv.notify_all();
  state_->log->debug("conn={} closed", id_);
}

asio::awaitable<void> Connection::serve(std::shared_ptr<Connection> self) { co_await self->run(); }

void Connection::drain() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->h2_) {
      self->h2_->drain();
      return;
    }
    // Nothing of a next request has arrived: no one is waiting for an answer here.
    if (self->phase_ == Phase::kAwaitingRequest && self->buffer_.size() == 0) {
      self->stream_.cancel();
    }
  });
}

void Connection::force_close() {
  asio::post(strand_, [self = shared_from_this()] { self->stream_.close(); });
}

asio::awaitable<Connection::Protocol> Connection::sniff() {
  constexpr size_t kSniffReadBytes = 16 * 1024;
  stream_.expires_after(state_->options.idle_timeout);
  for (;;) {
    const auto bytes = buffer_.data();
    const std::string_view seen(static_cast<const char*>(bytes.data()), bytes.size());
    switch (match_client_preface(seen)) {
      case PrefaceMatch::kHttp2:
        co_return Protocol::kHttp2;
      case PrefaceMatch::kHttp1:
        co_return Protocol::kHttp1;
      case PrefaceMatch::kNeedMore:
        break;
    }
    if (state_->draining.load() && buffer_.size() == 0) co_return Protocol::kClosed;
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kSniffReadBytes), kTuple);
    if (ec) {
      // Timeout, drain, or the client left: as quiet as the HTTP/1.1 reader would be.
      state_->log->debug("conn={} read ended: {}", id_, ec.message());
      co_return Protocol::kClosed;
    }
    buffer_.commit(n);
  }
}

asio::awaitable<void> Connection::run() {
  const ServerOptions& opts = state_->options;
  switch (co_await sniff()) {
    case Protocol::kClosed:
      stream_.close();
      co_return;
    case Protocol::kHttp2: {
      stream_.expires_never();  // Http2Connection keeps its own time
      h2_ = std::make_unique<Http2Connection>(state_.get(), id_, &stream_);
      const auto bytes = buffer_.data();
      co_await h2_->run({static_cast<const char*>(bytes.data()), bytes.size()});
      co_return;
    }
    case Protocol::kHttp1:
      break;  // buffer_ holds the first bytes; Beast's parser starts from them
  }
  for (;;) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(opts.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(static_cast<std::uint64_t>(opts.max_body_bytes));
    phase_ = Phase::kAwaitingRequest;
    // Draining and nothing pipelined: close now (drain() covers a read already waiting).
    if (state_->draining.load() && buffer_.size() == 0) break;

    stream_.expires_after(opts.idle_timeout);
    auto [hec, hn] = co_await http::async_read_header(stream_, buffer_, *parser_, kTuple);
    if (hec) {
      co_await on_read_error(hec);
      co_return;
    }
    phase_ = Phase::kInRequest;

    BeastRequest& req = parser_->get();
    if (!parser_->is_done()) {
      if (req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, req.version()};
        stream_.expires_after(opts.idle_timeout);
        auto [cec, cn] = co_await http::async_write(stream_, cont, kTuple);
        if (cec) break;
      }
      stream_.expires_after(opts.idle_timeout);
      auto [bec, bn] = co_await http::async_read(stream_, buffer_, *parser_, kTuple);
      if (bec) {
        co_await on_read_error(bec);
        co_return;
      }
    }

    state_->log->debug("conn={} {} {}", id_, sv(req.method_string()), sv(req.target()));
    Response response = co_await dispatch(req);
    // Read after the handler: a shutdown that began meanwhile ends this connection.
    const bool keep_alive = req.keep_alive() && !state_->draining.load();
    BeastResponse res = to_beast(std::move(response), req, keep_alive);

    stream_.expires_after(opts.idle_timeout);
    auto [wec, wn] = co_await http::async_write(stream_, res, kTuple);
    if (wec) {
      state_->log->debug("conn={} write failed: {}", id_, wec.message());
      break;
    }
    if (!keep_alive) break;
  }
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

asio::awaitable<void> Connection::on_read_error(beast::error_code ec) {
  const size_t linger = state_->options.max_body_bytes + state_->options.max_header_bytes;
  if (ec == http::error::body_limit) {
    state_->log->debug("conn={} body over {} bytes", id_, state_->options.max_body_bytes);
    co_await respond_and_close(
        stream_,
        make_error_response(
            413, "RequestEntityTooLargeException",
            fmt::format("request body is larger than {} bytes", state_->options.max_body_bytes)),
        linger);
  } else if (ec == http::error::header_limit) {
    state_->log->debug("conn={} header over {} bytes", id_, state_->options.max_header_bytes);
    co_await respond_and_close(
        stream_,
        make_error_response(431, "RequestHeaderFieldsTooLarge",
                            fmt::format("request line and headers are larger than {} bytes",
                                        state_->options.max_header_bytes)),
        linger);
  } else if (is_quiet_close(ec)) {
    state_->log->debug("conn={} read ended: {}", id_, ec.message());
    stream_.close();
  } else {
    // Any other HTTP parse error: bad method, target, version, header, chunk, ...
    state_->log->debug("conn={} malformed request: {}", id_, ec.message());
    co_await respond_and_close(
        stream_,
        make_error_response(400, "BadRequest",
                            fmt::format("malformed HTTP request: {}", ec.message())),
        linger);
  }
}

asio::awaitable<Response> Connection::dispatch(const BeastRequest& req) {
  Request view;
  view.method = sv(req.method_string());
  view.target = sv(req.target());
  const size_t q = view.target.find('?');
  view.path = view.target.substr(0, q);
  if (q != std::string_view::npos) view.query = view.target.substr(q + 1);
  for (const auto& field : req) {
    view.headers.push_back({sv(field.name_string()), sv(field.value())});
  }
  view.body = req.body();
  co_return co_await dispatch_request(*state_, strand_.get_inner_executor(), view,
                                      fmt::format("conn={}", id_));
}

BeastResponse Connection::to_beast(Response response, const BeastRequest& req,
                                   bool keep_alive) const {
  if (!valid_status(response.status)) {
    state_->log->error("conn={} handler returned impossible status {}", id_, response.status);
    response = Response::json_error(500, "InternalFailure", "internal error");
  }
  BeastResponse res{static_cast<http::status>(response.status), req.version()};
  res.set(http::field::server, kServerHeader);
  if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) res.insert(name, value);
  res.keep_alive(keep_alive);
  if (status_forbids_body(response.status)) {
    // No body and no Content-Length, whatever the handler put there.
  } else if (req.method() == http::verb::head) {
    // What a GET would send, without the bytes.
    res.content_length(response.head_content_length.value_or(response.body.size()));
  } else {
    res.body() = std::move(response.body);
    res.prepare_payload();
  }
  return res;
}

}  // namespace sluice::net::internal
