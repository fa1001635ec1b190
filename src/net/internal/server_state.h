#pragma once

#include "net/router.h"
#include "net/server.h"

#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace sluice::net::internal {

class Connection;

// What a Server shares with its acceptor and connections. Held by shared_ptr from each of
// them, so it lives as long as the last connection, even past the Server (see server.h).
// Fields without a note are set at construction and then only read.
struct ServerState {
  ServerState(const Router* r, ServerOptions o);

  const Router* const router;  // borrowed; outlives every request (server.h)
  const ServerOptions options;
  const std::shared_ptr<spdlog::logger> log;
  // Runs request handlers, HTTP/1.1 and HTTP/2 (ServerOptions::handler_threads); null when
  // they run inline.
  // Joined when the last holder of this state goes, which is never one of its own threads.
  const std::unique_ptr<boost::asio::thread_pool> handlers;

  // Set once by Server::shutdown(), under `mu`, before connections are told to drain; read
  // without the lock by connections deciding whether to keep a connection alive.
  std::atomic<bool> draining{false};

  std::mutex mu;
  std::condition_variable cv;  // notified when any of the counts below drops
  // Live connections by id; each removes itself in its destructor. GUARDED_BY(mu)
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections;
  uint64_t next_id = 1;        // GUARDED_BY(mu)
  size_t rejecting = 0;        // connections being answered 503; GUARDED_BY(mu)
  bool acceptor_done = false;  // the accept loop has ended; GUARDED_BY(mu)

  // At most one warning per second for events a client can repeat at will (a full server).
  bool warn_allowed();

 private:
  std::atomic<int64_t> last_warn_ms_{0};
};

}  // namespace sluice::net::internal
