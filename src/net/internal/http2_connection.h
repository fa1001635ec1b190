#pragma once

#include "net/http_message.h"
#include "net/internal/server_state.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/basic_stream.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

// Opaque nghttp2 types; only http2_connection.cc includes <nghttp2/nghttp2.h>.
struct nghttp2_session;

namespace sluice::net::internal {

// The 24 bytes an HTTP/2 client with prior knowledge sends first (RFC 9113 section 3.4).
inline constexpr std::string_view kHttp2ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class PrefaceMatch : uint8_t {
  kHttp2,     // `received` starts with the whole preface
  kHttp1,     // `received` differs from the preface somewhere: not HTTP/2
  kNeedMore,  // `received` is a proper prefix of the preface (or empty): read more
};
// Decides from the first bytes of a connection whether it speaks HTTP/2 with prior knowledge.
// Every HTTP/1.1 request differs from the preface within its first few bytes, so an HTTP/1.1
// client never waits on this.
PrefaceMatch match_client_preface(std::string_view received);

// The HTTP/2 side of one accepted connection whose first bytes were the client preface: an
// nghttp2 server session between the socket and the Router. Each request stream is collected
// (pseudo-headers, headers, DATA), routed once it has ended, and answered from memory
// through an nghttp2 data provider, so flow control decides how fast the answer leaves and
// nothing is queued beyond the response itself and one write batch.
//
// Created by Connection once the sniff has seen the preface; Connection owns it and keeps
// it until its own end. `stream` and `state` are borrowed: the Connection that owns this
// object owns both. Everything here runs on the connection's strand: run() is awaited by
// the connection coroutine, and drain() must be called on the strand (Connection::drain
// posts there). Closing the socket from the strand (Connection::force_close) ends run().
//
// Limits (ServerOptions): a request body over max_body_bytes, declared or streamed, is
// answered 413 and the rest of its upload is refused with RST_STREAM(NO_ERROR); a header
// block over max_header_bytes is answered 431 the same way; neither affects sibling
// streams. No bytes in either direction for idle_timeout: GOAWAY, then close (a write stuck
// that long closes at once). A protocol error: GOAWAY with nghttp2's error code, then close.
class Http2Connection {
 public:
  using Stream =
      boost::beast::basic_stream<boost::asio::ip::tcp,
                                 boost::asio::strand<boost::asio::io_context::executor_type>>;

  Http2Connection(ServerState* state, uint64_t conn_id, Stream* stream);
  ~Http2Connection();
  Http2Connection(const Http2Connection&) = delete;
  Http2Connection& operator=(const Http2Connection&) = delete;

  // Serves the connection until it ends; then the socket is closed. `received` holds the
  // bytes the sniff read, starting with the preface; they are processed before anything
  // else is read. REQUIRES: called once, on the strand.
  boost::asio::awaitable<void> run(std::string_view received);

  // Graceful shutdown, on the strand. With no stream open: the final GOAWAY at once. Else a
  // shutdown notice (GOAWAY with the largest stream id) and a PING; when the PING is
  // answered, or after a second, the final GOAWAY naming the last stream we processed.
  // Open streams finish; the connection closes once none is left. Idempotent.
  void drain();

 private:
  struct StreamState;
  class Callbacks;  // the nghttp2 callbacks, friends of this class

  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> watch_loop();

  // Hands bytes from the socket to nghttp2, then answers the streams that became ready.
  boost::asio::awaitable<void> receive(const char* data, size_t size);
  // As Connection::dispatch is for HTTP/1.1.
  boost::asio::awaitable<Response> dispatch(const StreamState& stream);
  void submit_response(StreamState& stream, Response response);
  // Marks `stream` to be answered with `status` now, whatever else it sends.
  void reject(StreamState& stream, int status);
  void send_final_goaway();
  // Wakes write_loop() to ask nghttp2 for frames.
  void kick();
  void touch() { last_activity_ = std::chrono::steady_clock::now(); }
  // Ends everything: closes the socket, stops the timers. Every loop returns after it.
  void finish();

  ServerState* const state_;
  const uint64_t conn_id_;
  Stream* const stream_;
  nghttp2_session* session_ = nullptr;

  // Request streams by id, from their first HEADERS until nghttp2 closes them.
  std::unordered_map<int32_t, std::unique_ptr<StreamState>> streams_;
  // Streams to answer once the current nghttp2_session_mem_recv() returns: handlers never
  // run inside nghttp2 callbacks.
  std::vector<int32_t> ready_;

  boost::asio::steady_timer wake_;   // write_loop() waits here for something to send
  boost::asio::steady_timer watch_;  // watch_loop(): idle timeout, final GOAWAY, linger
  std::vector<char> read_buffer_;
  std::string write_batch_;

  std::chrono::steady_clock::time_point last_activity_;
  std::optional<std::chrono::steady_clock::time_point> final_goaway_at_;
  std::chrono::steady_clock::time_point linger_until_;
  bool writing_ = false;           // an async_write is in flight
  bool draining_ = false;          // drain() was called
  bool idle_goaway_sent_ = false;  // the idle timeout fired once already
  bool recv_failed_ = false;       // nghttp2 rejected input; nothing more is fed to it
  bool lingering_ = false;         // session over, our side shut down, discarding input
  bool done_ = false;              // finish() was called
};

}  // namespace sluice::net::internal
