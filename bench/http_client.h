// The blocking HTTP/1.1 client of the benchmark drivers (bench/invoke_load.cc,
// bench/esm_load.cc): one keep-alive connection, one request at a time, requests written by
// the caller as complete bytes and responses framed by Content-Length or chunked encoding.
// Header-only, so that each driver stays one file plus this. bench/kinesis_load.cc keeps its
// own client: it runs many connections as coroutines on one thread, which a blocking client
// cannot do.

#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::bench {

// Whether `line` starts with `lower_name`, compared case-insensitively (`lower_name` must be
// lower case).
inline bool iequals_prefix(std::string_view line, std::string_view lower_name) {
  if (line.size() < lower_name.size()) return false;
  for (size_t i = 0; i < lower_name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != lower_name[i]) return false;
  }
  return true;
}

// The value of header `lower_name` ("content-length") in `head` (status line and headers),
// trimmed; nullopt when absent.
inline std::optional<std::string> header_value(std::string_view head, std::string_view lower_name) {
  size_t line_start = head.find("\r\n");
  while (line_start != std::string_view::npos) {
    line_start += 2;
    const size_t line_end = head.find("\r\n", line_start);
    const std::string_view line = head.substr(
        line_start, line_end == std::string_view::npos ? head.npos : line_end - line_start);
    if (iequals_prefix(line, lower_name) && line.size() > lower_name.size() &&
        line[lower_name.size()] == ':') {
      std::string_view v = line.substr(lower_name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return std::string(v);
    }
    line_start = line_end;
  }
  return std::nullopt;
}

// One HTTP response as read by Connection.
struct Response {
  int status = 0;
  std::string head;  // status line and headers, without the final blank line
  std::string body;
  std::string raw;  // the whole response as received (only when asked for)
};

// One keep-alive connection; blocking calls, owned by one thread.
class Connection {
 public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;

  explicit Connection(boost::asio::io_context& io) : socket_(io) {}

  error_code connect(const tcp::endpoint& ep) {
    endpoint_ = ep;
    error_code ec;
    socket_.close(ec);
    buf_.clear();
    socket_.connect(ep, ec);
    if (!ec) socket_.set_option(tcp::no_delay(true), ec);
    return ec;
  }

  // Sends `request` (a complete HTTP request) and reads one whole response into `out`
  // (also its exact bytes into out.raw when `keep_raw`). Reconnects first when the previous
  // response asked to close. An error_code on I/O failure or unframeable response.
  error_code round_trip(std::string_view request, Response& out, bool keep_raw = false) {
    if (must_reconnect_) {
      must_reconnect_ = false;
      if (auto ec = connect(endpoint_)) return ec;
    }
    error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(request), ec);
    if (ec) return ec;
    return read_response(out, keep_raw);
  }

 private:
  error_code fill(size_t at_least) {  // reads more bytes onto the end of buf_
    const size_t old = buf_.size();
    const size_t want = std::max<size_t>(64 << 10, at_least);
    buf_.resize(old + want);
    error_code ec;
    const size_t n = socket_.read_some(boost::asio::buffer(buf_.data() + old, want), ec);
    buf_.resize(old + n);
    return ec;
  }

  error_code read_response(Response& out, bool keep_raw) {
    size_t header_end;
    while ((header_end = std::string_view(buf_).find("\r\n\r\n")) == std::string_view::npos) {
      if (auto ec = fill(0)) return ec;
    }
    out.head.assign(buf_, 0, header_end);
    out.status = 0;
    if (out.head.size() > 12 && out.head.compare(0, 5, "HTTP/") == 0) {
      out.status = std::atoi(out.head.substr(9, 3).c_str());
    }
    const auto length = header_value(out.head, "content-length");
    const auto encoding = header_value(out.head, "transfer-encoding");
    const auto connection = header_value(out.head, "connection");
    if (connection && connection->find("close") != std::string::npos) must_reconnect_ = true;
    size_t pos = header_end + 4;
    out.body.clear();
    if (encoding && encoding->find("chunked") != std::string::npos) {
      for (;;) {
        size_t crlf;
        while ((crlf = std::string_view(buf_).find("\r\n", pos)) == std::string_view::npos) {
          if (auto ec = fill(0)) return ec;
        }
        const size_t size = std::strtoull(buf_.c_str() + pos, nullptr, 16);
        while (buf_.size() < crlf + 2 + size + 2) {
          if (auto ec = fill(crlf + 2 + size + 2 - buf_.size())) return ec;
        }
        out.body.append(buf_, crlf + 2, size);
        pos = crlf + 2 + size + 2;
        if (size == 0) break;  // no trailers expected
      }
    } else if (length) {
      const size_t n = std::strtoull(length->c_str(), nullptr, 10);
      while (buf_.size() < pos + n) {
        if (auto ec = fill(pos + n - buf_.size())) return ec;
      }
      out.body.assign(buf_, pos, n);
      pos += n;
    } else {
      return boost::asio::error::make_error_code(boost::asio::error::operation_not_supported);
    }
    if (keep_raw) out.raw.assign(buf_, 0, pos);
    buf_.erase(0, pos);
    return error_code{};
  }

  tcp::socket socket_;
  tcp::endpoint endpoint_;
  std::string buf_;
  bool must_reconnect_ = false;
};

}  // namespace sluice::bench
