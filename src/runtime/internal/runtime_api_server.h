#pragma once

#include "base/result.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

// The Runtime API (spec section 7) of one execution environment: HTTP/1.1 on 127.0.0.1 with
// an ephemeral port, served by Beast coroutines. It owns the protocol state of spec 7.6
// (Init -> Ready -> Invoking(id) -> Ready ...), answers 202/400/403/404/413 itself and tells
// its delegate what the runtime reported.
//
// Created and used only on the invoker's strand (no mutex: all its handlers run there, one at
// a time). Held by shared_ptr: each connection coroutine keeps it alive.
// stop() closes the acceptor and every connection and forgets the delegate; afterwards
// nothing is reported, and the object goes away when its last coroutine has finished.
namespace sluice::runtime::internal {

// Where the process invoker and everything it owns run: one strand, on the invoker's own
// io_context or on the server's event loop (ProcessInvokerOptions::io_context).
using InvokerStrand = boost::asio::strand<boost::asio::io_context::executor_type>;

// Largest /response or /error body the runtime may post (spec 7.2).
inline constexpr size_t kMaxResponseBytes = 6291556;

class RuntimeApiServer : public std::enable_shared_from_this<RuntimeApiServer> {
 public:
  // What the runtime reported. Called on the strand, never after stop(); each call may
  // call back into the server (offer(), stop()).
  class Delegate {
   public:
    virtual ~Delegate() = default;
    virtual void on_ready() = 0;  // first GET /next: init has finished
    virtual void on_dispatched(const std::string& request_id) = 0;  // /next handed it out
    virtual void on_response(const std::string& request_id, std::string body,
                             std::string content_type) = 0;
    virtual void on_error(const std::string& request_id, std::string body) = 0;
    virtual void on_init_error(std::string body) = 0;
    virtual void on_response_too_large(const std::string& request_id) = 0;
  };

  // One invocation as /next hands it out.
  struct Offer {
    std::string request_id;
    int64_t deadline_ms = 0;  // Unix epoch milliseconds
    std::string function_arn;
    std::string trace_id;
    std::string client_context;  // decoded JSON; header omitted when empty
    std::string tenant_id;       // header omitted when empty
    std::string payload;
  };

  // Binds 127.0.0.1:0 and starts accepting. `delegate` must stay valid until stop().
  static Result<std::shared_ptr<RuntimeApiServer>> start(const InvokerStrand& strand,
                                                         Delegate* delegate);
  RuntimeApiServer(const InvokerStrand& strand, Delegate* delegate);
  RuntimeApiServer(const RuntimeApiServer&) = delete;
  RuntimeApiServer& operator=(const RuntimeApiServer&) = delete;

  uint16_t port() const { return port_; }

  // Queues the next invocation; a waiting /next returns it at once, else the next /next does.
  // REQUIRES: no offer queued and no invocation unanswered.
  void offer(Offer offer);
  // Abandons the current invocation (timed out): its id is no longer accepted.
  void abandon();
  void stop();

 private:
  using Socket = boost::asio::ip::tcp::socket;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(Socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  Delegate* delegate_;  // null after stop()
  uint16_t port_ = 0;
  bool stopped_ = false;
  std::set<Socket*> sockets_;  // live connections, closed by stop()

  // Protocol state (spec 7.6).
  bool saw_next_ = false;  // init has ended
  bool init_error_posted_ = false;
  bool next_waiting_ = false;  // a /next is parked on next_wakeup_
  bool ever_invoked_ = false;
  std::optional<Offer> offer_;           // queued, not yet handed out
  std::optional<std::string> invoking_;  // handed out, not yet answered
  boost::asio::steady_timer next_wakeup_;
  friend struct Handler;
};

}  // namespace sluice::runtime::internal
