#pragma once

#include "net/http_message.h"
#include "net/internal/server_state.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <memory>
#include <optional>

namespace sluice::net::internal {

class Http2Connection;

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Strand>;
using Stream = boost::beast::basic_stream<boost::asio::ip::tcp, Strand>;
using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

// One accepted connection. Its first bytes decide the protocol: the HTTP/2 client preface
// hands the connection to an Http2Connection (http2_connection.h) for the rest of its life;
// anything else is HTTP/1.1: requests one after the other (pipelined ones in order), each
// routed, answered, and repeated while keep-alive holds.
//
// Created by the accept loop, registered in ServerState::connections, and run by serve()
// co_spawned on its own strand; the coroutine frame owns the connection (shared_ptr) and the
// destructor unregisters it. Every member is touched only on `strand_`: drain() and
// force_close() may be called from any thread because they post there.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerState> state, uint64_t id, Socket socket);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The connection's whole life; ends with the socket closed.
  static boost::asio::awaitable<void> serve(std::shared_ptr<Connection> self);

  // Graceful shutdown: close now if waiting for a request that has not started to arrive;
  // otherwise finish the current request and close instead of keeping alive.
  void drain();
  // Closes the socket at once; pending reads and writes end with operation_aborted.
  void force_close();

  uint64_t id() const { return id_; }
  const Strand& strand() const { return strand_; }

 private:
  enum class Phase : uint8_t { kAwaitingRequest, kInRequest };
  enum class Protocol : uint8_t { kHttp1, kHttp2, kClosed };

  boost::asio::awaitable<void> run();
  // Reads until buffer_ shows whether the client speaks HTTP/2 with prior knowledge. The
  // bytes stay in buffer_ for whichever protocol serves them. kClosed: nothing to serve.
  boost::asio::awaitable<Protocol> sniff();
  // Hands the request to the Router (dispatch_request) and waits for the answer.
  boost::asio::awaitable<Response> dispatch(const BeastRequest& request);
  // Maps a failed read to a response (400, 413, 431) or to a silent close.
  boost::asio::awaitable<void> on_read_error(boost::beast::error_code ec);
  BeastResponse to_beast(Response response, const BeastRequest& request, bool keep_alive) const;

  const std::shared_ptr<ServerState> state_;
  const uint64_t id_;
  const Strand strand_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Phase phase_ = Phase::kAwaitingRequest;
  std::unique_ptr<Http2Connection> h2_;  // set once the sniff saw the HTTP/2 preface
};

// Writes `response` (which must say Connection: close), then closes the connection politely:
// shuts down our sending side and discards what the client still sends, for up to
// `linger_max_bytes` or about a second, so that its unread bytes do not turn into a TCP
// reset that destroys the response before the client reads it.
boost::asio::awaitable<void> respond_and_close(Stream& stream, BeastResponse response,
                                               size_t linger_max_bytes);

// A JSON error response with Connection: close, for the cases where no request was parsed.
BeastResponse make_error_response(unsigned status, std::string_view type, std::string_view message);

// Answers one connection over the limit with 503 and closes it; counted in
// ServerState::rejecting while it runs.
boost::asio::awaitable<void> reject_connection(std::shared_ptr<ServerState> state, Socket socket);

}  // namespace sluice::net::internal
