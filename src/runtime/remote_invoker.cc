#include "runtime/remote_invoker.h"

#include "base/base64.h"
#include "base/bytes.h"
#include "base/log.h"
#include "runtime/internal/log_lines.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace sluice::runtime {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using function::InvokeOutcome;
using Kind = function::InvokeOutcome::Kind;
using SteadyClock = std::chrono::steady_clock;

Result<RemoteEndpoint> parse_remote_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), url.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return Status::invalid_argument("the endpoint must be an http:// URL");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::invalid_argument("the endpoint URL contains a space or control character");
    }
  }
  if (url.find('#') != std::string_view::npos) {
    return Status::invalid_argument("the endpoint URL must not have a fragment");
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  RemoteEndpoint ep;
  ep.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (!ep.target.empty() && ep.target[0] == '?') ep.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    return Status::invalid_argument("the endpoint URL must not carry user information");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::invalid_argument("unclosed [ in the host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::invalid_argument("junk after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) return Status::invalid_argument("empty port");
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return Status::invalid_argument("empty port");
  }
  if (host.empty()) return Status::invalid_argument("the endpoint URL has no host");
  for (char c : host) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == ':';
    if (!ok)
      return Status::invalid_argument("the endpoint host has a character that is not allowed");
  }
  if (!port.empty()) {
    uint32_t value = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port.size() > 5) {
        return Status::invalid_argument("the endpoint port is not a number");
      }
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value == 0 || value > 65535)
      return Status::invalid_argument("the endpoint port is out of range");
    ep.port = static_cast<uint16_t>(value);
  }
  ep.host = std::string(host);
  return ep;
}

namespace internal {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxResponseBytes = 6'291'556;  // spec 4.1

std::shared_ptr<spdlog::logger> logger() {
  static auto log = logging::get("runtime");
  return log;
}

InvokeOutcome make_outcome(Kind kind, std::string payload) {
  InvokeOutcome o;
  o.kind = kind;
  o.payload = std::move(payload);
  return o;
}

std::string error_document(std::string_view type, std::string_view message) {
  return fmt::format(R"({{"errorMessage":"{}","errorType":"{}","stackTrace":[]}})",
                     json_escape(message), json_escape(type));
}

std::string endpoint_key(const RemoteEndpoint& ep) {
  return fmt::format("{}:{}", ep.host, ep.port);
}

// True when a kept-alive connection has not been closed (or written to) by its peer.
bool still_open(tcp::socket& s) {
  char byte;
  const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

// Everything the invoker owns. Used only on the io thread, except the atomics and what
// post_mu_ guards.
class RemoteState {
 public:
  RemoteState(RemoteInvokerOptions options, FunctionLookup lookup)
      : options_(std::move(options)),
        lookup_(std::move(lookup)),
        work_(asio::make_work_guard(ioc_)) {}

  void start_thread() {
    thread_ = std::thread([this] { ioc_.run(); });
  }

  const FunctionLookup& lookup() const { return lookup_; }

  void invoke(function::Invocation inv, FunctionTarget target, function::Invoker::Done done) {
    std::lock_guard lock(post_mu_);
    if (stopped_) {
      done(make_outcome(Kind::kUnavailable, "Stopped"));
      return;
    }
    asio::post(ioc_, [this, inv = std::move(inv), target = std::move(target),
                      done = std::move(done)]() mutable {
      start_call(std::move(inv), std::move(target), std::move(done));
    });
  }

  void shutdown() {
    {
      std::lock_guard lock(post_mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    std::promise<void> closed;
    asio::post(ioc_, [this, &closed] {
      closing_ = true;
      for (Call* c : active_) c->abort();
      idle_.clear();  // closes the sockets
      closed.set_value();
    });
    closed.get_future().wait();
    work_.reset();  // run() returns once the aborted calls have unwound
    if (thread_.joinable()) thread_.join();
  }

  RemoteInvoker::Stats stats() const {
    return RemoteInvoker::Stats{opened_.load(), reused_.load()};
  }

 private:
  struct Idle {
    tcp::socket socket;
    SteadyClock::time_point since;
  };

  struct Call {
    explicit Call(asio::io_context& ioc) : timer(ioc), resolver(ioc) {}
    function::Invocation inv;
    function::FunctionSpec spec;
    std::optional<int32_t> reserved;
    function::Invoker::Done done;
    RemoteEndpoint endpoint;
    std::string key;
    asio::steady_timer timer;
    tcp::resolver resolver;
    std::optional<tcp::socket> socket;
    bool timed_out = false;
    bool aborted = false;

    void abort() {
      aborted = true;
      resolver.cancel();
      boost::system::error_code ignored;
      if (socket) socket->close(ignored);
    }
  };

  // io thread.
  void start_call(function::Invocation inv, FunctionTarget target, function::Invoker::Done done) {
    if (closing_) return done(make_outcome(Kind::kUnavailable, "Stopped"));
    const std::string& arn = target.spec.arn;
    const int32_t limit =
        target.reserved_concurrency.value_or(options_.max_concurrency_per_function);
    int32_t& running = running_[arn];
    if (running >= std::max(0, limit)) {
      return done(
          make_outcome(Kind::kUnavailable, target.reserved_concurrency
                                               ? "ReservedFunctionConcurrentInvocationLimitExceeded"
                                               : "ConcurrentInvocationLimitExceeded"));
    }
    if (running_total_ >= options_.max_concurrency_total) {
      return done(make_outcome(Kind::kUnavailable, "ConcurrentInvocationLimitExceeded"));
    }
    auto endpoint = parse_remote_url(target.spec.handler);
    if (!endpoint.ok()) {
      return done(make_outcome(
          Kind::kFunctionError,
          launch_failed_document(inv.request_id, fmt::format("bad endpoint URL in Handler: {}",
                                                             endpoint.status().message()))));
    }
    if (inv.deadline == std::chrono::system_clock::time_point{}) {
      inv.deadline = std::chrono::system_clock::now() + std::chrono::seconds(target.spec.timeout_s);
    }
    ++running;
    ++running_total_;
    auto call = std::make_shared<Call>(ioc_);
    call->inv = std::move(inv);
    call->spec = std::move(target.spec);
    call->done = std::move(done);
    call->endpoint = std::move(*endpoint);
    call->key = endpoint_key(call->endpoint);
    active_.insert(call.get());
    asio::co_spawn(ioc_, run(call), asio::detached);
  }

  asio::awaitable<void> run(std::shared_ptr<Call> c) {
    const auto wall_left = c->inv.deadline - std::chrono::system_clock::now();
    c->timer.expires_after(std::chrono::duration_cast<SteadyClock::duration>(wall_left));
    c->timer.async_wait([c](const boost::system::error_code& e) {
      if (e || c->done == nullptr) return;
      c->timed_out = true;
      c->abort();
    });

    if (!take_idle(*c)) {
      auto [rerr, endpoints] = co_await c->resolver.async_resolve(
          c->endpoint.host, std::to_string(c->endpoint.port), kTuple);
      if (rerr) {
        finish(*c, not_connected(*c, rerr));
        co_return;
      }
      c->socket.emplace(ioc_);
      auto [cerr, connected] = co_await asio::async_connect(*c->socket, endpoints, kTuple);
      if (cerr) {
        finish(*c, not_connected(*c, cerr));
        co_return;
      }
      boost::system::error_code ignored;
      c->socket->set_option(tcp::no_delay(true), ignored);
      opened_.fetch_add(1);
    }

    http::request<http::string_body> req{http::verb::post, c->endpoint.target, 11};
    req.set(http::field::host, c->endpoint.port == 80
                                   ? c->endpoint.host
                                   : fmt::format("{}:{}", c->endpoint.host, c->endpoint.port));
    req.set(http::field::content_type, "application/json");
    req.set("X-Amz-Invocation-Type", "RequestResponse");
    req.set("X-Amz-Log-Type", "Tail");
    if (!c->inv.client_context.empty()) {
      req.set("X-Amz-Client-Context", base64_encode(as_bytes(c->inv.client_context)));
    }
    if (!c->inv.trace_id.empty()) req.set("X-Amzn-Trace-Id", c->inv.trace_id);
    if (!c->inv.tenant_id.empty()) req.set("X-Amz-Tenant-Id", c->inv.tenant_id);
    req.keep_alive(true);
    req.body() = std::move(c->inv.payload);
    req.prepare_payload();
    auto [werr, written] = co_await http::async_write(*c->socket, req, kTuple);
    if (werr) {
      finish(*c, broken(*c, werr));
      co_return;
    }

    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    auto [err, read] = co_await http::async_read(*c->socket, buffer, parser, kTuple);
    if (err) {
      if (err == http::error::body_limit && !c->timed_out && !c->aborted) {
        boost::system::error_code ignored;
        c->socket->close(ignored);
        finish(*c, make_outcome(Kind::kFunctionError, response_too_large_document()));
      } else {
        finish(*c, broken(*c, err));
      }
      co_return;
    }
    auto res = parser.release();
    if (res.keep_alive() && buffer.size() == 0 && !c->aborted) {
      keep_idle(c->key, std::move(*c->socket));
      c->socket.reset();
    }
    finish(*c, outcome_of(*c, res));
  }

  // The outcome for an HTTP response of the endpoint.
  InvokeOutcome outcome_of(const Call& c, http::response<http::string_body>& res) {
    const unsigned status = res.result_int();
    if (status == 200) {
      const bool failed = res.find("X-Amz-Function-Error") != res.end();
      InvokeOutcome o =
          make_outcome(failed ? Kind::kFunctionError : Kind::kOk, std::move(res.body()));
      if (auto ct = res.find(http::field::content_type); ct != res.end() && !failed) {
        o.content_type = std::string(ct->value());
      }
      if (auto tail = res.find("X-Amz-Log-Result"); tail != res.end()) {
        std::string decoded;
        if (!base64_decode(std::string_view(tail->value().data(), tail->value().size()), decoded)) {
          o.log_tail = std::move(decoded);
        }
      }
      return o;
    }
    if (status == 429) {  // the endpoint's own throttle: nothing ran there either
      const bool reserved =
          res.body().find("ReservedFunctionConcurrentInvocationLimitExceeded") != std::string::npos;
      return make_outcome(Kind::kUnavailable,
                          reserved ? "ReservedFunctionConcurrentInvocationLimitExceeded"
                                   : "ConcurrentInvocationLimitExceeded");
    }
    std::string what;
    if (auto type = res.find("x-amzn-ErrorType"); type != res.end())
      what = std::string(type->value());
    const std::string_view body(res.body().data(), std::min<size_t>(res.body().size(), 512));
    logger()->warn("function={} endpoint={} answered HTTP {}", c.spec.name, c.key, status);
    return make_outcome(
        Kind::kFunctionError,
        error_document("Sluice.RemoteError",
                       fmt::format("http://{}{} answered HTTP {}{}{}: {}", c.key, c.endpoint.target,
                                   status, what.empty() ? "" : " ", what, body)));
  }

  // No connection could be made: nothing ran.
  InvokeOutcome not_connected(const Call& c, const boost::system::error_code& e) {
    if (c.timed_out) return timed_out(c);
    if (c.aborted) return make_outcome(Kind::kUnavailable, "Stopped");
    logger()->warn("function={} endpoint={} unreachable: {}", c.spec.name, c.key, e.message());
    return make_outcome(Kind::kUnavailable, "RemoteUnavailable");
  }

  // The request was (perhaps partly) sent, then the connection failed: it may have run.
  InvokeOutcome broken(const Call& c, const boost::system::error_code& e) {
    if (c.timed_out) return timed_out(c);
    logger()->warn("function={} endpoint={} connection failed: {}", c.spec.name, c.key,
                   e.message());
    return make_outcome(
        Kind::kFunctionError,
        error_document(
            "Sluice.RemoteUnavailable",
            fmt::format("the connection to http://{}{} failed before a response: {}", c.key,
                        c.endpoint.target, c.aborted ? "Sluice is shutting down" : e.message())));
  }

  static InvokeOutcome timed_out(const Call& c) {
    return make_outcome(Kind::kTimedOut, timed_out_document(c.inv.request_id,
                                                            static_cast<double>(c.spec.timeout_s)));
  }

  void finish(Call& c, InvokeOutcome outcome) {
    c.timer.cancel();
    active_.erase(&c);
    --running_[c.spec.arn];
    --running_total_;
    auto done = std::move(c.done);
    c.done = nullptr;
    done(std::move(outcome));
  }

  bool take_idle(Call& c) {
    auto it = idle_.find(c.key);
    if (it == idle_.end()) return false;
    auto& list = it->second;
    const auto now = SteadyClock::now();
    while (!list.empty()) {
      Idle idle = std::move(list.back());
      list.pop_back();
      if (now - idle.since < options_.idle_connection_lifetime && still_open(idle.socket)) {
        c.socket.emplace(std::move(idle.socket));
        reused_.fetch_add(1);
        return true;
      }
    }
    return false;
  }

  void keep_idle(const std::string& key, tcp::socket socket) {
    if (closing_) return;
    auto& list = idle_[key];
    if (list.size() >= options_.max_idle_connections_per_endpoint) list.erase(list.begin());
    list.push_back(Idle{std::move(socket), SteadyClock::now()});
  }

  const RemoteInvokerOptions options_;
  const FunctionLookup lookup_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::mutex post_mu_;
  bool stopped_ = false;  // GUARDED_BY(post_mu_)
  // io thread only:
  bool closing_ = false;
  std::set<Call*> active_;
  std::map<std::string, int32_t> running_;  // by function ARN
  int32_t running_total_ = 0;
  std::map<std::string, std::vector<Idle>> idle_;  // by host:port, oldest first
  std::atomic<uint64_t> opened_{0};
  std::atomic<uint64_t> reused_{0};
};

}  // namespace internal

Result<std::unique_ptr<RemoteInvoker>> RemoteInvoker::create(RemoteInvokerOptions options,
                                                             FunctionLookup lookup) {
  auto state = std::make_unique<internal::RemoteState>(std::move(options), std::move(lookup));
  state->start_thread();
  return std::unique_ptr<RemoteInvoker>(new RemoteInvoker(std::move(state)));
}

RemoteInvoker::RemoteInvoker(std::unique_ptr<internal::RemoteState> state)
    : state_(std::move(state)) {}

RemoteInvoker::~RemoteInvoker() { shutdown(); }

void RemoteInvoker::invoke(function::Invocation invocation, Done done) {
  auto target = state_->lookup()(invocation.function_arn);
  if (!target.ok()) {
    done(internal::make_outcome(Kind::kUnavailable, "ResourceNotFound"));
    return;
  }
  state_->invoke(std::move(invocation), std::move(*target), std::move(done));
}

void RemoteInvoker::invoke(function::Invocation invocation, FunctionTarget target, Done done) {
  state_->invoke(std::move(invocation), std::move(target), std::move(done));
}

void RemoteInvoker::retire(const std::string& /*function_arn*/) {}

void RemoteInvoker::shutdown() { state_->shutdown(); }

RemoteInvoker::Stats RemoteInvoker::stats() const { return state_->stats(); }

}  // namespace sluice::runtime
