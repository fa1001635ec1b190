#include "net/server.h"

#include "base/check.h"
#include "base/log.h"
#include "net/internal/connection.h"
#include "net/internal/server_state.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <exception>
#include <vector>

namespace sluice::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using internal::Connection;
using internal::ServerState;
using internal::Socket;
using internal::Strand;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Connections over the limit answered 503 at once; beyond this they are just closed.
constexpr size_t kMaxRejecting = 64;
// After the grace period, how long force-closed connections get to finish unwinding.
constexpr std::chrono::seconds kForceCloseWait{2};

// The acceptor and what its coroutine needs; shared with that coroutine so that it stays
// valid however the Server and the loop end.
struct Listener {
  Listener(asio::io_context& ioc, std::shared_ptr<ServerState> s)
      : strand(asio::make_strand(ioc)), acceptor(strand), state(std::move(s)) {}
  Strand strand;
  asio::basic_socket_acceptor<tcp, Strand> acceptor;
  std::shared_ptr<ServerState> state;
};

void log_exception(const std::shared_ptr<ServerState>& state, std::string_view what,
                   std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    state->log->error("{} ended with an exception: {}", what, ex.what());
  } catch (...) {
    state->log->error("{} ended with a non-exception", what);
  }
}

// Registers and starts a connection, or turns it away; never blocks.
void admit(const std::shared_ptr<ServerState>& state, Socket socket) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // small responses must not wait for Nagle
  std::shared_ptr<Connection> conn;
  bool reject = false;
  {
    std::lock_guard lock(state->mu);
    if (state->draining.load()) {
      // Shutdown began after this accept completed: close without a word.
    } else if (state->connections.size() >= state->options.max_connections) {
      if (state->rejecting < kMaxRejecting) {
        ++state->rejecting;
        reject = true;
      }
    } else {
      const uint64_t id = state->next_id++;
      conn = std::make_shared<Connection>(state, id, std::move(socket));
      state->connections.emplace(id, conn);
    }
  }
  if (conn) {
    const Strand strand = conn->strand();
    const uint64_t id = conn->id();
    state->log->debug("conn={} accepted", id);
    asio::co_spawn(strand, Connection::serve(std::move(conn)), [state, id](std::exception_ptr e) {
      log_exception(state, fmt::format("conn={}", id), e);
    });
    return;
  }
  if (reject) {
    if (state->warn_allowed()) {
      state->log->warn("connection limit {} reached; answering 503",
                       state->options.max_connections);
    }
    const auto exec = socket.get_executor();
    asio::co_spawn(exec, internal::reject_connection(state, std::move(socket)),
                   [state](std::exception_ptr e) { log_exception(state, "reject", e); });
    return;
  }
  socket.close(ec);
}

asio::awaitable<void> accept_loop(std::shared_ptr<Listener> l) {
  auto& ioc = static_cast<asio::io_context&>(l->strand.context());
  for (;;) {
    auto [ec, socket] = co_await l->acceptor.async_accept(asio::make_strand(ioc), kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) break;
      // Out of descriptors or similar: wait a little rather than spin on the error.
      if (l->state->warn_allowed()) l->state->log->warn("accept failed: {}", ec.message());
      asio::steady_timer timer(l->strand, std::chrono::milliseconds(50));
      co_await timer.async_wait(kTuple);
      continue;
    }
    admit(l->state, std::move(socket));
  }
  {
    std::lock_guard lock(l->state->mu);
    l->state->acceptor_done = true;
  }
  l->state->cv.notify_all();
}

}  // namespace

class Server::Impl {
 public:
  Impl(EventLoop* loop, const Router* router, ServerOptions options)
      : loop_(loop), state_(std::make_shared<ServerState>(router, std::move(options))) {}

  ~Impl() {
    if (started_) shutdown(std::chrono::milliseconds(0));
  }

  Status start() {
    SLUICE_CHECK(!started_, "Server::start() called twice");
    const ServerOptions& o = state_->options;
    const std::string where = fmt::format("{}:{}", o.host, o.port);
    boost::system::error_code ec;
    tcp::resolver resolver(loop_->context());
    auto endpoints = resolver.resolve(o.host, std::to_string(o.port), tcp::resolver::passive, ec);
    if (ec || endpoints.empty()) {
      return Status::invalid_argument(
          fmt::format("cannot listen on {}: cannot resolve host '{}': {}", where, o.host,
                      ec ? ec.message() : "no addresses"));
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();

    auto listener = std::make_shared<Listener>(loop_->context(), state_);
    auto& acceptor = listener->acceptor;
    auto fail = [&](std::string_view step) {
      const std::string msg =
          fmt::format("cannot listen on {}: {} failed: {}", where, step, ec.message());
      return ec == asio::error::address_in_use ? Status::in_use(msg) : Status::io_error(msg);
    };
    acceptor.open(endpoint.protocol(), ec);
    if (ec) return fail("open");
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return fail("setsockopt");
    acceptor.bind(endpoint, ec);
    if (ec) return fail("bind");
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen");
    const tcp::endpoint bound = acceptor.local_endpoint(ec);
    if (ec) return fail("getsockname");
    port_ = bound.port();
    address_ = bound.address().to_string();

    listener_ = listener;
    started_ = true;
    asio::co_spawn(listener->strand, accept_loop(listener), [state = state_](std::exception_ptr e) {
      log_exception(state, "accept loop", e);
      if (e) {
        {
          std::lock_guard lock(state->mu);
          state->acceptor_done = true;
        }
        state->cv.notify_all();
      }
    });
    state_->log->debug("listening on {}:{}", address_, port_);
    return Status();
  }

  ShutdownStats shutdown(std::chrono::milliseconds grace) {
    if (!started_ || shut_down_) return {};
    shut_down_ = true;
    SLUICE_CHECK(!loop_->in_loop_thread(), "Server::shutdown() from an event loop thread");

    asio::post(listener_->strand, [l = listener_] {
      boost::system::error_code ec;
      l->acceptor.close(ec);
    });

    std::vector<std::shared_ptr<Connection>> open;
    {
      std::lock_guard lock(state_->mu);
      state_->draining.store(true);
      for (auto& [id, weak] : state_->connections) {
        if (auto c = weak.lock()) open.push_back(std::move(c));
      }
    }
    const size_t initial = open.size();
    for (const auto& c : open) c->drain();
    // Drop our references outside the lock: the last one runs ~Connection, which locks.
    open.clear();

    auto all_ended = [&] {
      return state_->connections.empty() && state_->rejecting == 0 && state_->acceptor_done;
    };
    ShutdownStats stats;
    {
      std::unique_lock lock(state_->mu);
      if (!state_->cv.wait_for(lock, grace, all_ended)) {
        for (auto& [id, weak] : state_->connections) {
          if (auto c = weak.lock()) open.push_back(std::move(c));
        }
      }
    }
    stats.forced = open.size();
    stats.finished = initial >= stats.forced ? initial - stats.forced : 0;
    if (!open.empty()) {
      // With no grace at all (a destructor, a test) closing them is the plan, not news.
      state_->log->log(grace.count() > 0 ? spdlog::level::warn : spdlog::level::debug,
                       "{} connection(s) still busy after {} ms; closing them", open.size(),
                       grace.count());
      for (const auto& c : open) c->force_close();
      open.clear();
      std::unique_lock lock(state_->mu);
      if (!state_->cv.wait_for(lock, kForceCloseWait, all_ended)) {
        state_->log->error(
            "{} connection(s) did not end after being closed; a handler may be "
            "stuck",
            state_->connections.size());
      }
    }
    return stats;
  }

  uint16_t port() const { return port_; }
  const std::string& local_address() const { return address_; }

 private:
  EventLoop* const loop_;
  const std::shared_ptr<ServerState> state_;
  std::shared_ptr<Listener> listener_;
  bool started_ = false;
  bool shut_down_ = false;
  uint16_t port_ = 0;
  std::string address_;
};

Server::Server(EventLoop* loop, const Router* router, ServerOptions options)
    : impl_(std::make_unique<Impl>(loop, router, std::move(options))) {}

Server::~Server() = default;

Status Server::start() { return impl_->start(); }
uint16_t Server::port() const { return impl_->port(); }
std::string Server::local_address() const { return impl_->local_address(); }
ShutdownStats Server::shutdown(std::chrono::milliseconds grace) { return impl_->shutdown(grace); }

}  // namespace sluice::net
