#pragma once

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <optional>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace sluice::net::testing {

// A blocking HTTP/2 client with prior knowledge (h2c) for tests: an nghttp2 client session
// over a raw socket to 127.0.0.1. Submit requests, then run the session until they are
// answered, with a deadline on every wait, so a server bug shows up as a failed expectation
// rather than a hung test. One thread at a time.
class Http2TestClient {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // regular fields (names arrive lower case)
    std::string body;
    bool closed = false;      // the stream has ended
    uint32_t error_code = 0;  // of its RST_STREAM, or NO_ERROR (0) after a normal end
  };

  // `settings`: what the client announces in its first SETTINGS frame.
  explicit Http2TestClient(uint16_t port, std::vector<nghttp2_settings_entry> settings = {}) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    const int one = 1;  // small frames (WINDOW_UPDATE, PING ACK) must not wait for Nagle
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    // The client preface (magic + SETTINGS) goes out with the first flush.
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  }
  ~Http2TestClient() {
    nghttp2_session_del(session_);
    if (fd_ >= 0) ::close(fd_);
  }
  Http2TestClient(const Http2TestClient&) = delete;
  Http2TestClient& operator=(const Http2TestClient&) = delete;

  bool connected() const { return connected_; }

  // Queues a request; returns its stream id (negative on an nghttp2 error). Nothing is sent
  // until one of the run_*() calls.
  int32_t submit(std::string_view method, std::string_view path, std::string body = {},
                 const Fields& extra = {}) {
    return submit_impl(method, path, std::move(body), extra, /*held=*/false);
  }

  // Queues a request whose body is held back (HEADERS go out, DATA waits) until release().
  int32_t submit_held(std::string_view method, std::string_view path, std::string body = {}) {
    return submit_impl(method, path, std::move(body), {}, /*held=*/true);
  }
  // Lets the body of a submit_held() stream go out with the next run_*() call.
  void release(int32_t stream_id) {
    uploads_.at(stream_id)->held = false;
    nghttp2_session_resume_data(session_, stream_id);
  }

  // Exchanges frames until stream `id` has ended; false at the deadline or on EOF first.
  bool run_until_stream_closed(int32_t id,
                               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!replies_[id].closed) {
      if (!step(deadline)) return false;
    }
    return flush();
  }

  // Exchanges frames until every submitted stream has ended. False when the deadline
  // passes or the connection ends first.
  bool run_until_complete(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (std::all_of(replies_.begin(), replies_.end(),
                      [](const auto& r) { return r.second.closed; })) {
        return flush();  // e.g. the acknowledgement of the server's last frames
      }
      if (!step(deadline)) return false;
    }
  }

  // Exchanges frames (answering PINGs and SETTINGS) until the server closes the connection.
  // True when it did so before the deadline.
  bool run_until_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
      if (!step(deadline) && !eof_) return false;
    }
    return true;
  }

  // Exchanges frames until `count` GOAWAY frames have arrived; true when they did before
  // the deadline. (nghttp2 stops reading once a GOAWAY came and no stream is left.)
  bool run_until_goaway(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                        size_t count = 1) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (goaways_received_ < count) {
      if (!step(deadline)) return goaways_received_ >= count;
    }
    return true;
  }

  // Sends bytes outside the session (after flushing what it has queued).
  bool send_raw(std::string_view data) { return flush() && send_all(data); }

  const Reply& reply(int32_t stream_id) { return replies_[stream_id]; }

  struct Goaway {
    int32_t last_stream_id = 0;
    uint32_t error_code = 0;
  };
  // The last GOAWAY received, if any.
  const std::optional<Goaway>& goaway() const { return goaway_; }
  size_t goaways_received() const { return goaways_received_; }

  // The server's SETTINGS value for `id` (once they have arrived).
  uint32_t remote_setting(nghttp2_settings_id id) const {
    return nghttp2_session_get_remote_settings(session_, id);
  }

 private:
  struct Upload {
    std::string body;
    size_t sent = 0;
    bool held = false;
  };

  int32_t submit_impl(std::string_view method, std::string_view path, std::string body,
                      const Fields& extra, bool held) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", std::string(method)},
        {":scheme", "http"},
        {":authority", "127.0.0.1"},
        {":path", std::string(path)},
    };
    for (const auto& f : extra) fields.push_back(f);
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    auto upload = std::make_unique<Upload>();
    upload->body = std::move(body);
    upload->held = held;
    nghttp2_data_provider provider{};
    provider.source.ptr = upload.get();
    provider.read_callback = &read_upload;
    const bool has_body = held || !upload->body.empty();
    const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                              has_body ? &provider : nullptr, nullptr);
    if (id > 0) {
      uploads_[id] = std::move(upload);
      replies_[id];
    }
    return id;
  }

  // Writes everything the session wants to send.
  bool flush() {
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) return false;
      if (n == 0) return true;
      if (!send_all({reinterpret_cast<const char*>(data), static_cast<size_t>(n)})) return false;
    }
  }

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One round: flush, then wait for input and feed it. False at the deadline, on EOF or on
  // an error; a failed flush is not fatal (the server may have closed its reading side), as
  // what it already sent can still be read.
  bool step(std::chrono::steady_clock::time_point deadline) {
    flush();
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          deadline - std::chrono::steady_clock::now())
                                          .count());
    if (left <= 0 || eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    const ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), n);
    return rv >= 0;
  }

  static ssize_t read_upload(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                             uint32_t* data_flags, nghttp2_data_source* source, void*) {
    auto* u = static_cast<Upload*>(source->ptr);
    if (u->held) return NGHTTP2_ERR_DEFERRED;
    const size_t n = std::min(length, u->body.size() - u->sent);
    std::memcpy(buf, u->body.data() + u->sent, n);
    u->sent += n;
    if (u->sent == u->body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                       void* user_data) {
    auto* self = static_cast<Http2TestClient*>(user_data);
    Reply& r = self->replies_[frame->hd.stream_id];
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      r.status = std::stoi(v);
    } else {
      r.headers[n] = v;
    }
    return 0;
  }

  static int on_data(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                     void* user_data) {
    auto* self = static_cast<Http2TestClient*>(user_data);
    self->replies_[stream_id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto* self = static_cast<Http2TestClient*>(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      self->goaway_ = Goaway{frame->goaway.last_stream_id, frame->goaway.error_code};
      ++self->goaways_received_;
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                             void* user_data) {
    auto* self = static_cast<Http2TestClient*>(user_data);
    Reply& r = self->replies_[stream_id];
    r.closed = true;
    r.error_code = error_code;
    return 0;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Reply> replies_;
  std::map<int32_t, std::unique_ptr<Upload>> uploads_;
  std::optional<Goaway> goaway_;
  size_t goaways_received_ = 0;
};

}  // namespace sluice::net::testing
