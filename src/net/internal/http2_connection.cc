#include "net/internal/http2_connection.h"

#include "base/check.h"
#include "net/internal/dispatch.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <limits>
#include <nghttp2/nghttp2.h>

namespace sluice::net::internal {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view kServerHeader = "sluice";
// SETTINGS we announce. Windows: nghttp2 hands the consumed part back to the client
// (WINDOW_UPDATE) as we store it, so they bound bytes in flight, not what we keep; the body
// limit bounds that.
constexpr uint32_t kMaxConcurrentStreams = 100;
constexpr uint32_t kInitialStreamWindow = 1 << 20;
constexpr int32_t kConnectionWindow = 4 << 20;
// Bytes per socket read, and how much nghttp2 output is gathered into one socket write.
constexpr size_t kReadBytes = 16 * 1024;
constexpr size_t kWriteBatchBytes = 64 * 1024;
// After the shutdown notice, the longest wait for the PING answer before the final GOAWAY.
constexpr std::chrono::seconds kShutdownNoticeWait{1};
// After our side is shut down, how long the client's remaining bytes are read and dropped,
// so that they do not turn into a TCP reset that destroys our last frames (the GOAWAY).
constexpr std::chrono::milliseconds kLingerTime{1000};

bool valid_status(int status) { return status >= 100 && status <= 599; }

bool status_forbids_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

// Fields HTTP/2 forbids (RFC 9113 section 8.2.2) or that the server sets itself.
bool is_reserved_response_field(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade" || lower_name == "content-length" || lower_name == "server";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  // nghttp2 copies names and values during submit (no NO_COPY flags).
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

PrefaceMatch match_client_preface(std::string_view received) {
  const size_t n = std::min(received.size(), kHttp2ClientPreface.size());
  if (received.substr(0, n) != kHttp2ClientPreface.substr(0, n)) return PrefaceMatch::kHttp1;
  return n == kHttp2ClientPreface.size() ? PrefaceMatch::kHttp2 : PrefaceMatch::kNeedMore;
}

// One request stream: what the client sent, then the response being sent.
struct Http2Connection::StreamState {
  explicit StreamState(int32_t stream_id) : id(stream_id) {}

  const int32_t id;
  std::string method;
  std::string path;
  std::string authority;
  std::vector<std::pair<std::string, std::string>> headers;  // regular fields, arrival order
  std::string body;
  size_t header_bytes = 0;  // as the block would measure in HTTP/1.1: "name: value\r\n"
  int reject_status = 0;    // 413 or 431 once a limit was crossed
  bool queued = false;      // in ready_ or answered: nothing the client sends matters now

  Response response;     // set by submit_response()
  size_t body_sent = 0;  // bytes of response.body handed to nghttp2
};

// The nghttp2 callbacks. `user_data` is always the Http2Connection. A callback that returns
// NGHTTP2_ERR_CALLBACK_FAILURE makes nghttp2 fail the whole session; ours never do for
// client input, only stream-level problems (answered or reset) arise from it.
class Http2Connection::Callbacks {
 public:
  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                              void* user_data) {
    auto* self = static_cast<Http2Connection*>(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;  // trailers: their fields are counted in on_header and dropped
    }
    auto stream = std::make_unique<StreamState>(frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, stream.get());
    self->streams_[frame->hd.stream_id] = std::move(stream);
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t /*flags*/,
                       void* user_data) {
    auto* self = static_cast<Http2Connection*>(user_data);
    auto* s = static_cast<StreamState*>(
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (s == nullptr || s->queued) return 0;
    s->header_bytes += namelen + valuelen + 4;
    if (s->header_bytes > self->state_->options.max_header_bytes) {
      // Answered 431 once the block has ended (on_frame_recv); keep nothing more.
      s->reject_status = 431;
      return 0;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST || s->reject_status != 0) return 0;
    const std::string_view n = as_view(name, namelen);
    const std::string_view v = as_view(value, valuelen);
    if (n == ":method") {
      s->method = v;
    } else if (n == ":path") {
      s->path = v;
    } else if (n == ":authority") {
      s->authority = v;
    } else if (!n.empty() && n.front() != ':') {
      s->headers.emplace_back(n, v);  // nghttp2 has checked names are lower case
    }
    return 0;
  }

  static int on_data_chunk_recv(nghttp2_session* /*session*/, uint8_t /*flags*/, int32_t stream_id,
                                const uint8_t* data, size_t len, void* user_data) {
    auto* self = static_cast<Http2Connection*>(user_data);
    const auto it = self->streams_.find(stream_id);
    if (it == self->streams_.end() || it->second->queued) return 0;
    StreamState& s = *it->second;
    if (s.body.size() + len > self->state_->options.max_body_bytes) {
      self->state_->log->debug("conn={} h2 stream={} body over {} bytes", self->conn_id_, stream_id,
                               self->state_->options.max_body_bytes);
      self->reject(s, 413);
      return 0;
    }
    s.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto* self = static_cast<Http2Connection*>(user_data);
    switch (frame->hd.type) {
      case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0 && self->final_goaway_at_) {
          self->send_final_goaway();  // a round trip after the shutdown notice
        }
        return 0;
      case NGHTTP2_HEADERS:
      case NGHTTP2_DATA:
        break;
      default:
        return 0;
    }
    auto* s = static_cast<StreamState*>(
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (s == nullptr || s->queued) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      if (s->reject_status != 0) {
        self->state_->log->debug("conn={} h2 stream={} header block over {} bytes", self->conn_id_,
                                 s->id, self->state_->options.max_header_bytes);
        self->reject(*s, s->reject_status);
        return 0;
      }
      // A declared length over the limit is refused before any of the body arrives.
      // nghttp2 has checked that content-length is a number and will match the DATA.
      for (const auto& [name, value] : s->headers) {
        if (name != "content-length") continue;
        const unsigned long long declared = std::strtoull(value.c_str(), nullptr, 10);
        if (declared > self->state_->options.max_body_bytes) {
          self->reject(*s, 413);
          return 0;
        }
      }
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      s->queued = true;
      self->ready_.push_back(s->id);
    }
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame,
                           void* /*user_data*/) {
    // An early answer (413, 431) ended our side while the client is still uploading: tell
    // it to stop. NO_ERROR: the response it has is the whole story (RFC 9113 section 8.1).
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
        nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session* /*session*/, int32_t stream_id,
                             uint32_t /*error_code*/, void* user_data) {
    auto* self = static_cast<Http2Connection*>(user_data);
    self->streams_.erase(stream_id);  // a queued id left in ready_ is skipped
    return 0;
  }

  static ssize_t read_body(nghttp2_session* /*session*/, int32_t /*stream_id*/, uint8_t* buf,
                           size_t length, uint32_t* data_flags, nghttp2_data_source* source,
                           void* /*user_data*/) {
    auto* s = static_cast<StreamState*>(source->ptr);
    const std::string& body = s->response.body;
    const size_t n = std::min(length, body.size() - s->body_sent);
    std::memcpy(buf, body.data() + s->body_sent, n);
    s->body_sent += n;
    if (s->body_sent == body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

Http2Connection::Http2Connection(ServerState* state, uint64_t conn_id, Stream* stream)
    : state_(state),
      conn_id_(conn_id),
      stream_(stream),
      wake_(stream->get_executor()),
      watch_(stream->get_executor()),
      read_buffer_(kReadBytes),
      last_activity_(Clock::now()) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_option* option = nullptr;
  // nghttp2 reports only allocation failures here; we treat those as fatal everywhere.
  SLUICE_CHECK(nghttp2_session_callbacks_new(&cbs) == 0 && nghttp2_option_new(&option) == 0,
               "nghttp2 out of memory");
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::on_stream_close);
  const int rv = nghttp2_session_server_new2(&session_, cbs, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cbs);
  SLUICE_CHECK(rv == 0, "nghttp2_session_server_new2 failed: {}", nghttp2_strerror(rv));
}

Http2Connection::~Http2Connection() { nghttp2_session_del(session_); }

asio::awaitable<void> Http2Connection::run(std::string_view received) {
  const size_t header_list =
      std::min<size_t>(state_->options.max_header_bytes, std::numeric_limits<uint32_t>::max());
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kInitialStreamWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(header_list)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  state_->log->debug("conn={} speaks HTTP/2", conn_id_);

  // The sniff's bytes first: the preface, and whatever came with it.
  co_await receive(received.data(), received.size());
  // A shutdown that began before this connection turned HTTP/2 found nothing to drain.
  if (state_->draining.load()) drain();

  using namespace asio::experimental::awaitable_operators;
  co_await (read_loop() && write_loop() && watch_loop());
  finish();
}

asio::awaitable<void> Http2Connection::read_loop() {
  while (!done_) {
    auto [ec, n] = co_await stream_->socket().async_read_some(asio::buffer(read_buffer_), kTuple);
    if (done_) break;
    if (ec) {
      // The client went away, or lingering ended as it should: with its EOF.
      state_->log->debug("conn={} h2 read ended: {}", conn_id_, ec.message());
      finish();
      break;
    }
    touch();
    if (lingering_) continue;  // dropped: the session is over
    co_await receive(read_buffer_.data(), n);
  }
}

asio::awaitable<void> Http2Connection::receive(const char* data, size_t size) {
  if (!recv_failed_ && nghttp2_session_want_read(session_) != 0) {
    const ssize_t rv =
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), size);
    if (rv < 0) {
      state_->log->debug("conn={} h2 input rejected: {}", conn_id_,
                         nghttp2_strerror(static_cast<int>(rv)));
      recv_failed_ = true;
      if (rv == NGHTTP2_ERR_FLOODED) {
        finish();  // nghttp2 has queued too much for this peer already
        co_return;
      }
      // Errors inside frames nghttp2 answers itself; this is for whole-input failures.
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    }
  }
  // Answer what became complete (or was refused), in arrival order.
  std::vector<int32_t> ready;
  ready.swap(ready_);
  for (const int32_t id : ready) {
    auto it = streams_.find(id);
    if (it == streams_.end() || done_) continue;  // reset by the client meanwhile
    StreamState& s = *it->second;
    Response response;
    if (s.reject_status == 413) {
      response = Response::json_error(
          413, "RequestEntityTooLargeException",
          fmt::format("request body is larger than {} bytes", state_->options.max_body_bytes));
    } else if (s.reject_status == 431) {
      response = Response::json_error(431, "RequestHeaderFieldsTooLarge",
                                      fmt::format("request headers are larger than {} bytes",
                                                  state_->options.max_header_bytes));
    } else {
      response = co_await dispatch(s);
    }
    // dispatch() suspends (the handler pool, an asynchronous answer): look the stream up again.
    it = streams_.find(id);
    if (it != streams_.end() && !done_) submit_response(*it->second, std::move(response));
  }
  kick();
}

asio::awaitable<Response> Http2Connection::dispatch(const StreamState& s) {
  Request view;
  view.method = s.method;
  view.target = s.path;
  const size_t q = view.target.find('?');
  view.path = view.target.substr(0, q);
  if (q != std::string_view::npos) view.query = view.target.substr(q + 1);
  bool has_host = false;
  for (const auto& [name, value] : s.headers) has_host = has_host || name == "host";
  // Handlers written for HTTP/1.1 look for Host; HTTP/2 carries it as :authority.
  if (!has_host && !s.authority.empty()) view.headers.push_back({"host", s.authority});
  for (const auto& [name, value] : s.headers) view.headers.push_back({name, value});
  view.body = s.body;
  state_->log->debug("conn={} h2 stream={} {} {}", conn_id_, s.id, view.method, view.target);
  co_return co_await dispatch_request(*state_, stream_->get_executor().get_inner_executor(), view,
                                      fmt::format("conn={} h2 stream={}", conn_id_, s.id));
}

void Http2Connection::submit_response(StreamState& s, Response response) {
  if (!valid_status(response.status)) {
    state_->log->error("conn={} h2 stream={} handler returned impossible status {}", conn_id_, s.id,
                       response.status);
    response = Response::json_error(500, "InternalFailure", "internal error");
  }
  s.queued = true;
  s.response = std::move(response);
  const Response& r = s.response;
  const bool no_body = status_forbids_body(r.status);
  const bool head = s.method == "HEAD";

  // Storage for the lower-cased names and the numbers; nghttp2 copies them during submit.
  // A deque: growing it leaves the earlier strings, which `nva` points into, in place.
  std::deque<std::string> strings;
  strings.push_back(std::to_string(r.status));
  strings.push_back(
      std::to_string(head ? r.head_content_length.value_or(r.body.size()) : r.body.size()));
  std::vector<nghttp2_nv> nva;
  nva.reserve(4 + r.headers.size());
  nva.push_back(make_nv(":status", strings[0]));
  nva.push_back(make_nv("server", kServerHeader));
  if (!r.content_type.empty()) nva.push_back(make_nv("content-type", r.content_type));
  if (!no_body) nva.push_back(make_nv("content-length", strings[1]));
  for (const auto& [name, value] : r.headers) {
    // HTTP/2 field names are lower case; clients treat anything else as malformed.
    strings.push_back(lower(name));
    if (is_reserved_response_field(strings.back())) continue;
    nva.push_back(make_nv(strings.back(), value));
  }

  nghttp2_data_provider provider{};
  provider.source.ptr = &s;
  provider.read_callback = &Callbacks::read_body;
  const bool send_body = !no_body && !head && !r.body.empty();
  const int rv = nghttp2_submit_response(session_, s.id, nva.data(), nva.size(),
                                         send_body ? &provider : nullptr);
  if (rv != 0) {
    state_->log->debug("conn={} h2 stream={} response not submitted: {}", conn_id_, s.id,
                       nghttp2_strerror(rv));
  }
}

void Http2Connection::reject(StreamState& s, int status) {
  s.reject_status = status;
  s.queued = true;
  s.body.clear();
  s.body.shrink_to_fit();
  ready_.push_back(s.id);
}

asio::awaitable<void> Http2Connection::write_loop() {
  while (!done_) {
    write_batch_.clear();
    while (write_batch_.size() < kWriteBatchBytes) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        state_->log->warn("conn={} h2 send failed: {}", conn_id_,
                          nghttp2_strerror(static_cast<int>(n)));
        finish();
        co_return;
      }
      if (n == 0) break;
      write_batch_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (!write_batch_.empty()) {
      writing_ = true;
      auto [ec, n] =
          co_await asio::async_write(stream_->socket(), asio::buffer(write_batch_), kTuple);
      writing_ = false;
      if (done_) break;
      if (ec) {
        state_->log->debug("conn={} h2 write failed: {}", conn_id_, ec.message());
        finish();
        break;
      }
      touch();
      continue;
    }
    if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
      if (final_goaway_at_) {
        // Only the shutdown notice went out and the streams are done: still tell the client
        // which of its streams were processed, so that it may retry any newer one.
        send_final_goaway();
        continue;
      }
      // GOAWAY sent or received and no stream left: the session is over. Shut down our side
      // and let read_loop() drop what still arrives until the client closes (or kLingerTime).
      state_->log->debug("conn={} h2 session ended", conn_id_);
      boost::system::error_code ec;
      stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      lingering_ = true;
      linger_until_ = Clock::now() + kLingerTime;
      watch_.cancel();  // re-plan around the linger deadline
      break;
    }
    wake_.expires_at(Clock::time_point::max());
    co_await wake_.async_wait(kTuple);  // kick() cancels it
  }
}

asio::awaitable<void> Http2Connection::watch_loop() {
  const auto idle = std::chrono::duration_cast<Clock::duration>(state_->options.idle_timeout);
  while (!done_) {
    const auto now = Clock::now();
    Clock::time_point next;
    if (lingering_) {
      if (now >= linger_until_) {
        finish();
        break;
      }
      next = linger_until_;
    } else {
      if (final_goaway_at_ && now >= *final_goaway_at_) send_final_goaway();
      if (now >= last_activity_ + idle) {
        if (writing_ || idle_goaway_sent_) {
          // A write stuck for a whole idle period, or even the GOAWAY did not get out.
          state_->log->debug("conn={} h2 stalled for {} s; closing", conn_id_, idle.count());
          finish();
          break;
        }
        state_->log->debug("conn={} h2 idle for {}; GOAWAY", conn_id_,
                           state_->options.idle_timeout.count());
        idle_goaway_sent_ = true;
        nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
        last_activity_ = now;  // one more period for the GOAWAY to leave
        kick();
      }
      next = last_activity_ + idle;
      if (final_goaway_at_) next = std::min(next, *final_goaway_at_);
    }
    watch_.expires_at(next);
    co_await watch_.async_wait(kTuple);  // cancelled to re-plan, or by finish()
  }
}

void Http2Connection::drain() {
  if (done_ || draining_) return;
  draining_ = true;
  if (streams_.empty()) {
    send_final_goaway();
  } else {
    nghttp2_submit_shutdown_notice(session_);
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
    final_goaway_at_ = Clock::now() + kShutdownNoticeWait;
    watch_.cancel();
  }
  kick();
}

void Http2Connection::send_final_goaway() {
  final_goaway_at_.reset();
  // Streams above this id were not processed: the client may retry them elsewhere.
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  kick();
}

void Http2Connection::kick() { wake_.cancel(); }

void Http2Connection::finish() {
  if (done_) return;
  done_ = true;
  boost::system::error_code ec;
  stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_->socket().close(ec);
  wake_.cancel();
  watch_.cancel();
}

}  // namespace sluice::net::internal
