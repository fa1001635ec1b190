#pragma once

#include "base/status.h"
#include "net/event_loop.h"
#include "net/router.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace sluice::net {

// Limits and addresses of one listener (HTTP/1.1 and h2c on the same port). Plain values; the
// composition root fills them from the configuration. HTTP/2 applies the limits per stream
// where HTTP/1.1 applies them per connection (src/net/README.md).
struct ServerOptions {
  std::string host = "127.0.0.1";  // an address or a name resolved once at start()
  uint16_t port = 4566;            // 0: an ephemeral port; Server::port() tells which
  // Largest request body; larger ones are answered 413 and the connection is closed.
  size_t max_body_bytes = size_t{16} << 20;
  // Largest request line plus headers; larger ones are answered 431 and closed.
  size_t max_header_bytes = size_t{16} << 10;
  // Open connections at most; one more is answered 503 (Retry-After: 1) and closed.
  size_t max_connections = 1024;
  // A connection waiting this long for the next request is closed. Also bounds the time to
  // receive one request body and to send one response.
  std::chrono::seconds idle_timeout{60};
  // Threads that run request handlers (HTTP/1.1 and HTTP/2), so that a handler which blocks
  // (a PutRecord waiting for its group's fdatasync, a synchronous Invoke, a function upload
  // being unpacked) holds one of these and not an event-loop thread, and many such requests
  // can wait together. 0 runs handlers on the event-loop thread. The streams of one HTTP/2
  // connection are still answered one after another.
  size_t handler_threads = 32;
};

// Counts from Server::shutdown().
struct ShutdownStats {
  size_t finished = 0;  // connections that ended by themselves during the grace period
  size_t forced = 0;    // connections still open at the deadline, then closed by us
};

// An HTTP server on an EventLoop: one acceptor, each accepted connection a coroutine on its
// own strand, limits from ServerOptions. A connection that opens with the HTTP/2 client
// preface speaks HTTP/2 (h2c, many streams); any other speaks HTTP/1.1 with keep-alive.
// Requests of both go to the Router.
//
// Created and ended by the composition root. start() and shutdown() are called from one
// controlling thread that is not an EventLoop thread; port() and local_address() from any
// thread after start() succeeded. `loop` and `router` are borrowed and must outlive this
// Server; the loop must be running for requests (and shutdown()) to make progress.
// Connections keep the little state they share with the Server alive themselves, so
// destroying the Server while the loop still holds a connection is safe.
class Server {
 public:
  Server(EventLoop* loop, const Router* router, ServerOptions options);
  ~Server();  // shutdown(0s) if started and not shut down yet
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Resolves host, binds, listens and starts accepting. Errors: kInvalidArgument when the
  // host does not resolve, kInUse when the address is taken, kIOError otherwise; the message
  // names host and port. REQUIRES: called once.
  Status start();

  // The bound port (the real one when options.port was 0) and address, e.g. "127.0.0.1".
  uint16_t port() const;
  std::string local_address() const;

  // Graceful stop: stops accepting; connections waiting for their next request are closed;
  // requests already being received or answered finish, and then their connection closes
  // (no keep-alive; HTTP/2 connections get GOAWAY and finish their open streams). Connections left
  // after `grace` are closed forcibly. Blocks until every connection has ended or, if a handler is
  // stuck, a short while after the deadline. Idempotent: later calls return zero counts at once.
  ShutdownStats shutdown(std::chrono::milliseconds grace);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::net
