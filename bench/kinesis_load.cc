// Load generator for the Kinesis JSON 1.1 API, used by bench/run-kinesis.sh to measure Sluice
// beside other Kinesis emulators with one client. It speaks plain HTTP/1.1 over raw Asio
// sockets on one thread: requests are assembled by hand (mostly prebuilt once and resent), and
// responses are parsed only as far as each scenario needs (status, framing, a few JSON keys),
// so that the generator costs far less than any server it measures. Its own CPU time
// (getrusage) is reported for every scenario, and `--null-server` turns this program into a
// server that answers every request with one canned 200 response, which shows the ceiling of
// the generator and of the loopback transport. Results and how to read them:
// docs/performance.md, "Kinesis API against kinesalite and kinesis-local".
//
// Scenarios (each on a stream of its own, created by the generator):
//   a  PutRecords of --batch records of --record-bytes each, on --connections keep-alive
//      connections in a closed loop, for --seconds after --warmup: records/s.
//   b  PutRecord, one record per request, same connections and times: requests/s.
//   c  GetRecords (Limit 10000) from TRIM_HORIZON of every shard of a's stream, one
//      connection per shard, until each shard answers with no records: records/s. Reads all
//      that a wrote, the warm-up and the records acknowledged after a's clock stopped too.
//   d  put-to-visible latency: one connection sends PutRecord at --d-rate per second to a
//      one-shard stream while another polls GetRecords on it without pause; a record's
//      latency is the time its first GetRecords response arrived minus the time its
//      PutRecord was sent (one process, steady clock). p50/p99/max.

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <utility>
#include <vector>

namespace sluice::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

double seconds_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// Small text helpers: base64 and a key lookup that is enough for the flat parts of Kinesis
// responses (string and integer members; no nesting is interpreted).

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(in[i + 2])};
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// Decodes the first whole groups of `in` (at most `max_out` bytes); stops at '=' or at any
// byte outside the alphabet.
std::string base64_decode_prefix(std::string_view in, size_t max_out) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    const size_t pos = kBase64Alphabet.find(c);
    if (pos == std::string_view::npos || out.size() >= max_out) break;
    acc = (acc << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// Position just after `"key"` and the colon that follows it, at or after `from`; npos if the
// key does not occur.
size_t after_key(std::string_view json, std::string_view key, size_t from = 0) {
  std::string quoted = fmt::format("\"{}\"", key);
  for (size_t at = json.find(quoted, from); at != std::string_view::npos;
       at = json.find(quoted, at + 1)) {
    size_t p = at + quoted.size();
    while (p < json.size() && (json[p] == ' ' || json[p] == '\n' || json[p] == '\t')) ++p;
    if (p < json.size() && json[p] == ':') {
      ++p;
      while (p < json.size() && (json[p] == ' ' || json[p] == '\n' || json[p] == '\t')) ++p;
      return p;
    }
  }
  return std::string_view::npos;
}

// The string value starting at `p` (which must be at its opening quote), with the simple
// escapes undone; sets `end` past the closing quote. nullopt if `p` is not at a string.
std::optional<std::string> string_at(std::string_view json, size_t p, size_t* end = nullptr) {
  if (p >= json.size() || json[p] != '"') return std::nullopt;
  std::string out;
  for (size_t i = p + 1; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      if (end != nullptr) *end = i + 1;
      return out;
    }
    if (c == '\\' && i + 1 < json.size()) {
      ++i;
      out.push_back(json[i] == 'n' ? '\n' : json[i]);  // '\/' and '\"' are all we expect
    } else {
      out.push_back(c);
    }
  }
  return std::nullopt;
}

std::optional<std::string> string_member(std::string_view json, std::string_view key) {
  const size_t p = after_key(json, key);
  if (p == std::string_view::npos) return std::nullopt;
  return string_at(json, p);
}

std::optional<int64_t> int_member(std::string_view json, std::string_view key) {
  size_t p = after_key(json, key);
  if (p == std::string_view::npos) return std::nullopt;
  int64_t v = 0;
  bool any = false;
  for (; p < json.size() && json[p] >= '0' && json[p] <= '9'; ++p) {
    v = v * 10 + (json[p] - '0');
    any = true;
  }
  if (!any) return std::nullopt;
  return v;
}

size_t count_occurrences(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string_view::npos;
       at = hay.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

std::string percentile_text(std::vector<double> v) {  // milliseconds
  if (v.empty()) return "p50=- p99=- max=-";
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  return fmt::format("p50={:.3f} p99={:.3f} max={:.3f}", at(0.50), at(0.99), v.back());
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client connection.

std::string make_request(std::string_view host, std::string_view op, std::string_view body) {
  return fmt::format(
      "POST / HTTP/1.1\r\n"
      "Host: {}\r\n"
      "Content-Type: application/x-amz-json-1.1\r\n"
      "X-Amz-Target: Kinesis_20131202.{}\r\n"
      "X-Amz-Date: 20260101T000000Z\r\n"
      "Authorization: AWS4-HMAC-SHA256 "
      "Credential=AKIDEXAMPLE/20260101/us-east-1/kinesis/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=0000\r\n"
      "Content-Length: {}\r\n"
      "\r\n"
      "{}",
      host, op, body.size(), body);
}

struct Response {
  int status = 0;
  std::string body;
};

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

// One keep-alive connection. Owned by the coroutine that uses it; one request at a time.
class Connection {
 public:
  explicit Connection(asio::any_io_executor ex) : socket_(ex) {}

  asio::awaitable<error_code> connect(tcp::endpoint ep) {
    auto [ec] = co_await socket_.async_connect(ep, kUseTuple);
    if (!ec) socket_.set_option(tcp::no_delay(true));
    endpoint_ = ep;
    co_return ec;
  }

  // Sends `request` (a complete HTTP request) and reads one whole response into `out`.
  // Reconnects first if the previous response asked to close. An error_code on I/O failure
  // or on a response it cannot frame.
  asio::awaitable<error_code> round_trip(std::string_view request, Response& out) {
    if (must_reconnect_) {
      error_code ignored;
      socket_.close(ignored);
      buf_.clear();
      must_reconnect_ = false;
      if (auto ec = co_await connect(endpoint_)) co_return ec;
    }
    auto [wec, written] = co_await asio::async_write(socket_, asio::buffer(request), kUseTuple);
    if (wec) co_return wec;
    co_return co_await read_response(out);
  }

 private:
  asio::awaitable<error_code> fill() {  // reads more bytes onto the end of buf_
    const size_t old = buf_.size();
    const size_t want = std::max<size_t>(64 << 10, buf_.capacity() - old);
    buf_.resize(old + want);
    auto [ec, n] =
        co_await socket_.async_read_some(asio::buffer(buf_.data() + old, want), kUseTuple);
    buf_.resize(old + n);
    co_return ec;
  }

  asio::awaitable<error_code> read_response(Response& out) {
    size_t header_end;
    while ((header_end = std::string_view(buf_).find("\r\n\r\n")) == std::string_view::npos) {
      if (auto ec = co_await fill()) co_return ec;
    }
    const std::string_view head(buf_.data(), header_end);
    out.status = 0;
    if (head.size() > 12 && head.substr(0, 5) == "HTTP/") {
      out.status = std::atoi(std::string(head.substr(9, 3)).c_str());
    }
    std::optional<size_t> length;
    bool chunked = false;
    size_t line_start = head.find("\r\n");
    while (line_start != std::string_view::npos) {
      line_start += 2;
      const size_t line_end = head.find("\r\n", line_start);
      const std::string_view line = head.substr(
          line_start, line_end == std::string_view::npos ? head.npos : line_end - line_start);
      if (iequals_prefix(line, "content-length:")) {
        length = std::strtoull(std::string(line.substr(15)).c_str(), nullptr, 10);
      } else if (iequals_prefix(line, "transfer-encoding:") &&
                 line.find("chunked") != std::string_view::npos) {
        chunked = true;
      } else if (iequals_prefix(line, "connection:") &&
                 line.find("close") != std::string_view::npos) {
        must_reconnect_ = true;
      }
      line_start = line_end;
    }
    buf_.erase(0, header_end + 4);
    out.body.clear();
    if (chunked) {
      for (;;) {
        size_t crlf;
        while ((crlf = std::string_view(buf_).find("\r\n")) == std::string_view::npos) {
          if (auto ec = co_await fill()) co_return ec;
        }
        const size_t size = std::strtoull(buf_.substr(0, crlf).c_str(), nullptr, 16);
        while (buf_.size() < crlf + 2 + size + 2) {
          if (auto ec = co_await fill()) co_return ec;
        }
        out.body.append(buf_, crlf + 2, size);
        buf_.erase(0, crlf + 2 + size + 2);
        if (size == 0) break;  // no trailers expected from these servers
      }
    } else if (length) {
      while (buf_.size() < *length) {
        if (auto ec = co_await fill()) co_return ec;
      }
      out.body.assign(buf_, 0, *length);
      buf_.erase(0, *length);
    } else {
      co_return asio::error::make_error_code(asio::error::operation_not_supported);
    }
    co_return error_code{};
  }

  tcp::socket socket_;
  tcp::endpoint endpoint_;
  std::string buf_;
  bool must_reconnect_ = false;
};

// ---------------------------------------------------------------------------------------------
// Scenario plumbing.

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 4567;
  std::string scenarios = "a,b,c,d";
  std::string stream_prefix = "bench";
  double seconds = 10;
  double warmup = 1;
  double drain_max_seconds = 60;
  int connections = 8;
  int shards = 4;
  int batch = 500;
  int record_bytes = 100;
  double d_rate = 100;
  int server_pid = 0;
  bool skip_setup = false;
  std::string json_path;
};

// Results of every scenario, printed as text and optionally written as one flat JSON object.
class Results {
 public:
  void set(const std::string& key, double value) { numbers_[key] = value; }
  void note(const std::string& key, std::string text) { texts_[key] = std::move(text); }
  std::string to_json() const {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : numbers_) {
      out += fmt::format("{}\"{}\":{}", first ? "" : ",", k, v);
      first = false;
    }
    for (const auto& [k, v] : texts_) {
      std::string escaped;
      for (const char c : v) {
        if (c == '"' || c == '\\') escaped.push_back('\\');
        escaped.push_back(c == '\n' || c == '\r' ? ' ' : c);
      }
      out += fmt::format("{}\"{}\":\"{}\"", first ? "" : ",", k, escaped);
      first = false;
    }
    return out + "}\n";
  }

 private:
  std::map<std::string, double> numbers_;
  std::map<std::string, std::string> texts_;
};

// Reads VmRSS and VmHWM (KiB) of `pid` from /proc; zeros if it cannot.
std::pair<long, long> server_memory_kib(int pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  long rss = 0;
  long hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atol(line.c_str() + 6);
  }
  return {rss, hwm};
}

// Shared by the coroutines of one scenario; everything runs on the one io_context thread.
struct Tally {
  SteadyClock::time_point measure_from;
  SteadyClock::time_point stop_at;
  uint64_t ok = 0;               // records (a) or requests (b) completed in the window
  uint64_t acked_total = 0;      // every record acknowledged, warm-up included
  uint64_t failed_records = 0;   // entries of PutRecords answered with an ErrorCode
  uint64_t error_responses = 0;  // non-200 answers
  uint64_t io_errors = 0;
  std::string first_error;
  std::vector<double> latency_ms;  // per request, in the window
  int running = 0;
};

class Bench {
 public:
  Bench(asio::io_context& io, Options o)
      : io_(io),
        o_(std::move(o)),
        host_header_(fmt::format("{}:{}", o_.host, o_.port)),
        endpoint_(asio::ip::make_address(o_.host), o_.port) {}

  int run() {
    int rc = 0;
    asio::co_spawn(
        io_, [this, &rc]() -> asio::awaitable<void> { rc = co_await run_all(); }, asio::detached);
    io_.run();
    if (!o_.json_path.empty()) {
      std::ofstream out(o_.json_path);
      out << results_.to_json();
    }
    return rc;
  }

 private:
  std::string stream_name(char scenario) const {
    return fmt::format("{}-{}", o_.stream_prefix, scenario);
  }
  bool wants(char scenario) const { return o_.scenarios.find(scenario) != std::string::npos; }

  asio::awaitable<int> run_all() {
    if (!o_.skip_setup) {
      // Streams first, all at once, so that creation delays overlap.
      std::vector<std::pair<char, int>> streams;
      if (wants('a') || wants('c')) streams.emplace_back('a', o_.shards);
      if (wants('b')) streams.emplace_back('b', o_.shards);
      if (wants('d')) streams.emplace_back('d', 1);
      for (const auto& [s, n] : streams) {
        if (!co_await create_stream(stream_name(s), n)) co_return 1;
      }
      for (const auto& [s, n] : streams) {
        auto ids = co_await wait_active(stream_name(s));
        if (ids.empty()) co_return 1;
        shard_ids_[s] = std::move(ids);
      }
    }
    if (wants('a')) co_await scenario_puts('a');
    if (wants('b')) co_await scenario_puts('b');
    if (wants('c')) co_await scenario_drain();
    if (wants('d')) co_await scenario_latency();
    co_return 0;
  }

  void fail(const std::string& what) {
    std::fprintf(stderr, "kinesis_load: %s\n", what.c_str());
    std::fflush(stderr);
  }

  // One control-plane call on a fresh connection.
  asio::awaitable<std::optional<Response>> call(std::string_view op, std::string_view body) {
    Connection c(io_.get_executor());
    if (auto ec = co_await c.connect(endpoint_)) {
      fail(fmt::format("connect {}: {}", host_header_, ec.message()));
      co_return std::nullopt;
    }
    Response r;
    if (auto ec = co_await c.round_trip(make_request(host_header_, op, body), r)) {
      fail(fmt::format("{}: {}", op, ec.message()));
      co_return std::nullopt;
    }
    co_return r;
  }

  asio::awaitable<bool> create_stream(const std::string& name, int shards) {
    auto r = co_await call("CreateStream",
                           fmt::format(R"({{"StreamName":"{}","ShardCount":{}}})", name, shards));
    if (!r) co_return false;
    if (r->status != 200 && r->body.find("ResourceInUseException") == std::string::npos) {
      fail(fmt::format("CreateStream {}: HTTP {} {}", name, r->status, r->body));
      co_return false;
    }
    co_return true;
  }

  // Polls DescribeStream until the stream is ACTIVE (at most 30 s); its shard ids, or none.
  asio::awaitable<std::vector<std::string>> wait_active(const std::string& name) {
    const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < give_up) {
      auto r = co_await call("DescribeStream", fmt::format(R"({{"StreamName":"{}"}})", name));
      if (!r) co_return std::vector<std::string>{};
      if (r->status == 200 && string_member(r->body, "StreamStatus") == "ACTIVE") {
        std::vector<std::string> ids;
        for (size_t p = after_key(r->body, "ShardId"); p != std::string_view::npos;
             p = after_key(r->body, "ShardId", p)) {
          if (auto id = string_at(r->body, p)) ids.push_back(*id);
        }
        co_return ids;
      }
      asio::steady_timer t(io_, std::chrono::milliseconds(50));
      co_await t.async_wait(kUseTuple);
    }
    fail(fmt::format("stream {} did not become ACTIVE within 30 s", name));
    co_return std::vector<std::string>{};
  }

  // Random bytes of the record size, different for each call.
  std::string random_payload() {
    std::string p(static_cast<size_t>(o_.record_bytes), '\0');
    for (char& c : p) c = static_cast<char>(rng_() & 0xff);
    return p;
  }

  void record_memory(const std::string& prefix) {
    if (o_.server_pid <= 0) return;
    const auto [rss, hwm] = server_memory_kib(o_.server_pid);
    results_.set(prefix + ".server_rss_kib", static_cast<double>(rss));
    results_.set(prefix + ".server_hwm_kib", static_cast<double>(hwm));
    std::printf("  server memory after %s: VmRSS %.1f MiB, VmHWM %.1f MiB\n", prefix.c_str(),
                static_cast<double>(rss) / 1024.0, static_cast<double>(hwm) / 1024.0);
  }

  void note_error(Tally& t, std::string what) {
    if (t.first_error.empty()) t.first_error = std::move(what);
  }

  // a: PutRecords of o_.batch records; b: PutRecord. One closed loop per connection.
  asio::awaitable<void> put_loop(char scenario, int index, Tally& t) {
    const std::string stream = stream_name(scenario);
    Connection c(io_.get_executor());
    if (auto ec = co_await c.connect(endpoint_)) {
      ++t.io_errors;
      note_error(t, "connect: " + ec.message());
      --t.running;
      co_return;
    }
    std::string prebuilt;  // a: the same batch every time, 500 distinct partition keys
    std::vector<std::string> payloads;
    if (scenario == 'a') {
      std::string body = fmt::format(R"({{"StreamName":"{}","Records":[)", stream);
      for (int i = 0; i < o_.batch; ++i) {
        body += fmt::format(R"({}{{"Data":"{}","PartitionKey":"pk-{}-{}"}})", i ? "," : "",
                            base64_encode(random_payload()), index, i);
      }
      body += "]}";
      prebuilt = make_request(host_header_, "PutRecords", body);
    } else {
      for (int i = 0; i < 64; ++i) payloads.push_back(base64_encode(random_payload()));
    }
    Response r;
    uint64_t n = 0;
    std::string request;
    while (SteadyClock::now() < t.stop_at) {
      if (scenario == 'b') {
        request = make_request(
            host_header_, "PutRecord",
            fmt::format(R"({{"StreamName":"{}","Data":"{}","PartitionKey":"pk-{}-{}"}})", stream,
                        payloads[n % payloads.size()], index, n));
      }
      ++n;
      const auto sent = SteadyClock::now();
      if (auto ec = co_await c.round_trip(scenario == 'a' ? prebuilt : request, r)) {
        ++t.io_errors;
        note_error(t, ec.message());
        break;
      }
      const auto done = SteadyClock::now();
      uint64_t acked = 0;
      if (r.status != 200) {
        ++t.error_responses;
        note_error(t, fmt::format("HTTP {}: {}", r.status, r.body.substr(0, 300)));
      } else if (scenario == 'a') {
        const int64_t failed = int_member(r.body, "FailedRecordCount").value_or(0);
        t.failed_records += static_cast<uint64_t>(failed);
        if (failed > 0) note_error(t, "PutRecords entry failed: " + r.body.substr(0, 300));
        acked = static_cast<uint64_t>(o_.batch - failed);
      } else {
        acked = 1;
      }
      t.acked_total += acked;
      if (done >= t.measure_from && done <= t.stop_at) {
        t.ok += acked;
        t.latency_ms.push_back(std::chrono::duration<double, std::milli>(done - sent).count());
      }
    }
    --t.running;
  }

  asio::awaitable<void> wait_until(int* running) {
    asio::steady_timer timer(io_);
    while (*running > 0) {
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(kUseTuple);
    }
  }

  asio::awaitable<void> scenario_puts(char scenario) {
    Tally t;
    const auto start = SteadyClock::now();
    t.measure_from = start + std::chrono::duration_cast<SteadyClock::duration>(
                                 std::chrono::duration<double>(o_.warmup));
    t.stop_at = t.measure_from + std::chrono::duration_cast<SteadyClock::duration>(
                                     std::chrono::duration<double>(o_.seconds));
    t.running = o_.connections;
    double cpu0 = 0;
    bool cpu_started = false;
    for (int i = 0; i < o_.connections; ++i) {
      asio::co_spawn(io_, put_loop(scenario, i, t), asio::detached);
    }
    // Take the CPU reading when the measured window opens.
    asio::steady_timer timer(io_, t.measure_from);
    co_await timer.async_wait(kUseTuple);
    cpu0 = cpu_seconds();
    cpu_started = true;
    timer.expires_at(t.stop_at);
    co_await timer.async_wait(kUseTuple);
    const double cpu = cpu_started ? cpu_seconds() - cpu0 : 0;
    co_await wait_until(&t.running);
    const std::string p(1, scenario);
    const double rate = static_cast<double>(t.ok) / o_.seconds;
    results_.set(p + ".rate", rate);
    results_.set(p + ".count", static_cast<double>(t.ok));
    results_.set(p + ".acked_total", static_cast<double>(t.acked_total));
    results_.set(p + ".failed_records", static_cast<double>(t.failed_records));
    results_.set(p + ".error_responses", static_cast<double>(t.error_responses));
    results_.set(p + ".io_errors", static_cast<double>(t.io_errors));
    results_.set(p + ".gen_cpu_s", cpu);
    results_.set(p + ".gen_cpu_pct", 100.0 * cpu / o_.seconds);
    if (!t.latency_ms.empty()) {
      std::vector<double> v = t.latency_ms;
      std::sort(v.begin(), v.end());
      results_.set(p + ".req_p50_ms", v[v.size() / 2]);
      results_.set(p + ".req_p99_ms", v[std::min(v.size() - 1, v.size() * 99 / 100)]);
    }
    if (!t.first_error.empty()) results_.note(p + ".first_error", t.first_error);
    if (scenario == 'a') acked_a_ = t.acked_total;
    std::printf(
        "%c %s: %.0f %s/s over %.1f s (%llu acked incl. warm-up; %llu failed records, %llu "
        "error responses, %llu I/O errors); request latency %s ms; generator CPU %.2f s "
        "(%.0f%% of one core)\n",
        scenario, scenario == 'a' ? "PutRecords" : "PutRecord", rate,
        scenario == 'a' ? "records" : "requests", o_.seconds,
        static_cast<unsigned long long>(t.acked_total),
        static_cast<unsigned long long>(t.failed_records),
        static_cast<unsigned long long>(t.error_responses),
        static_cast<unsigned long long>(t.io_errors), percentile_text(t.latency_ms).c_str(), cpu,
        100.0 * cpu / o_.seconds);
    if (!t.first_error.empty()) std::printf("  first error: %s\n", t.first_error.c_str());
    record_memory(p);
    std::fflush(stdout);
  }

  asio::awaitable<std::optional<std::string>> shard_iterator(Connection& c,
                                                             const std::string& stream,
                                                             const std::string& shard) {
    Response r;
    const std::string req = make_request(
        host_header_, "GetShardIterator",
        fmt::format(R"({{"StreamName":"{}","ShardId":"{}","ShardIteratorType":"TRIM_HORIZON"}})",
                    stream, shard));
    if (auto ec = co_await c.round_trip(req, r)) {
      fail("GetShardIterator: " + ec.message());
      co_return std::nullopt;
    }
    if (r.status != 200) {
      fail(fmt::format("GetShardIterator: HTTP {} {}", r.status, r.body));
      co_return std::nullopt;
    }
    co_return string_member(r.body, "ShardIterator");
  }

  struct DrainTally {
    uint64_t records = 0;
    uint64_t calls = 0;
    uint64_t bytes = 0;
    uint64_t error_responses = 0;
    std::string first_error;
    SteadyClock::time_point deadline;
    int running = 0;
  };

  asio::awaitable<void> drain_shard(const std::string& stream, const std::string& shard,
                                    DrainTally& t) {
    Connection c(io_.get_executor());
    std::optional<std::string> it;
    if (!co_await c.connect(endpoint_)) it = co_await shard_iterator(c, stream, shard);
    Response r;
    while (it && SteadyClock::now() < t.deadline) {
      const std::string req =
          make_request(host_header_, "GetRecords",
                       fmt::format(R"({{"ShardIterator":"{}","Limit":10000}})", *it));
      if (auto ec = co_await c.round_trip(req, r)) {
        if (t.first_error.empty()) t.first_error = ec.message();
        break;
      }
      ++t.calls;
      t.bytes += r.body.size();
      if (r.status != 200) {
        ++t.error_responses;
        if (t.first_error.empty()) t.first_error = fmt::format("HTTP {}: {}", r.status, r.body);
        if (r.body.find("ProvisionedThroughputExceeded") == std::string::npos) break;
        continue;  // a throttled read is retried at once: the peer decides the pace
      }
      const size_t n = count_occurrences(r.body, "\"SequenceNumber\"");
      t.records += n;
      if (n == 0) break;  // caught up with what was written
      it = string_member(r.body, "NextShardIterator");
    }
    --t.running;
  }

  asio::awaitable<void> scenario_drain() {
    const std::string stream = stream_name('a');
    DrainTally t;
    const auto start = SteadyClock::now();
    t.deadline = start + std::chrono::duration_cast<SteadyClock::duration>(
                             std::chrono::duration<double>(o_.drain_max_seconds));
    const double cpu0 = cpu_seconds();
    t.running = static_cast<int>(shard_ids_['a'].size());
    for (const std::string& shard : shard_ids_['a']) {
      asio::co_spawn(io_, drain_shard(stream, shard, t), asio::detached);
    }
    co_await wait_until(&t.running);
    const double elapsed = seconds_between(start, SteadyClock::now());
    const double cpu = cpu_seconds() - cpu0;
    const double rate = static_cast<double>(t.records) / elapsed;
    results_.set("c.rate", rate);
    results_.set("c.count", static_cast<double>(t.records));
    results_.set("c.expected", static_cast<double>(acked_a_));
    results_.set("c.seconds", elapsed);
    results_.set("c.calls", static_cast<double>(t.calls));
    results_.set("c.error_responses", static_cast<double>(t.error_responses));
    results_.set("c.gen_cpu_s", cpu);
    results_.set("c.gen_cpu_pct", 100.0 * cpu / elapsed);
    if (!t.first_error.empty()) results_.note("c.first_error", t.first_error);
    std::printf(
        "c GetRecords: %.0f records/s (%llu of %llu acked records in %.2f s, %llu calls, %.1f MB "
        "of JSON, %llu error responses); generator CPU %.2f s (%.0f%% of one core)\n",
        rate, static_cast<unsigned long long>(t.records), static_cast<unsigned long long>(acked_a_),
        elapsed, static_cast<unsigned long long>(t.calls), static_cast<double>(t.bytes) / 1e6,
        static_cast<unsigned long long>(t.error_responses), cpu, 100.0 * cpu / elapsed);
    if (!t.first_error.empty()) std::printf("  first error: %s\n", t.first_error.c_str());
    record_memory("c");
    std::fflush(stdout);
  }

  // d ------------------------------------------------------------------------------------------

  struct LatencyState {
    std::vector<SteadyClock::time_point> sent;  // by record id
    std::vector<bool> seen;
    std::vector<double> latency_ms;
    uint64_t put_errors = 0;
    uint64_t get_calls = 0;
    uint64_t get_errors = 0;
    std::string first_error;
    bool writer_done = false;
    int running = 2;
  };

  asio::awaitable<void> latency_writer(const std::string& stream, LatencyState& s) {
    Connection c(io_.get_executor());
    if (auto ec = co_await c.connect(endpoint_)) {
      s.first_error = "writer connect: " + ec.message();
      s.writer_done = true;
      --s.running;
      co_return;
    }
    const auto interval = std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(1.0 / o_.d_rate));
    const auto start = SteadyClock::now();
    const auto stop = start + std::chrono::duration_cast<SteadyClock::duration>(
                                  std::chrono::duration<double>(o_.seconds));
    auto next = start;
    asio::steady_timer timer(io_);
    Response r;
    while (next < stop) {
      timer.expires_at(next);
      co_await timer.async_wait(kUseTuple);
      const size_t id = s.sent.size();
      // The record names its id in its first bytes; the reader decodes just those.
      std::string payload = fmt::format("id:{:016d}:", id);
      payload.resize(static_cast<size_t>(std::max(o_.record_bytes, 24)), 'x');
      const std::string req =
          make_request(host_header_, "PutRecord",
                       fmt::format(R"({{"StreamName":"{}","Data":"{}","PartitionKey":"pk-{}"}})",
                                   stream, base64_encode(payload), id));
      s.sent.push_back(SteadyClock::now());
      s.seen.push_back(false);
      if (auto ec = co_await c.round_trip(req, r)) {
        s.first_error = "PutRecord: " + ec.message();
        break;
      }
      if (r.status != 200) {
        ++s.put_errors;
        if (s.first_error.empty()) s.first_error = fmt::format("HTTP {}: {}", r.status, r.body);
      }
      next = std::max(next + interval, SteadyClock::now() - interval);
    }
    s.writer_done = true;
    --s.running;
  }

  asio::awaitable<void> latency_reader(const std::string& stream, const std::string& shard,
                                       LatencyState& s) {
    Connection c(io_.get_executor());
    std::optional<std::string> it;
    if (!co_await c.connect(endpoint_)) it = co_await shard_iterator(c, stream, shard);
    Response r;
    std::optional<SteadyClock::time_point> grace_end;
    while (it) {
      if (s.writer_done) {
        // After the writer stops, keep reading for up to a second to collect stragglers.
        if (!grace_end) grace_end = SteadyClock::now() + std::chrono::seconds(1);
        const bool all_seen = std::all_of(s.seen.begin(), s.seen.end(), [](bool b) { return b; });
        if (all_seen || SteadyClock::now() > *grace_end) break;
      }
      const std::string req =
          make_request(host_header_, "GetRecords",
                       fmt::format(R"({{"ShardIterator":"{}","Limit":10000}})", *it));
      if (auto ec = co_await c.round_trip(req, r)) {
        if (s.first_error.empty()) s.first_error = "GetRecords: " + ec.message();
        break;
      }
      const auto now = SteadyClock::now();
      ++s.get_calls;
      if (r.status != 200) {
        ++s.get_errors;
        if (s.first_error.empty()) s.first_error = fmt::format("HTTP {}: {}", r.status, r.body);
        if (r.body.find("ProvisionedThroughputExceeded") == std::string::npos) break;
        continue;
      }
      for (size_t p = after_key(r.body, "Data"); p != std::string_view::npos;
           p = after_key(r.body, "Data", p)) {
        const auto data = string_at(r.body, p);
        if (!data) continue;
        const std::string head = base64_decode_prefix(*data, 20);
        if (head.size() < 20 || head.compare(0, 3, "id:") != 0) continue;
        const size_t id = std::strtoull(head.c_str() + 3, nullptr, 10);
        if (id < s.seen.size() && !s.seen[id]) {
          s.seen[id] = true;
          s.latency_ms.push_back(
              std::chrono::duration<double, std::milli>(now - s.sent[id]).count());
        }
      }
      it = string_member(r.body, "NextShardIterator");
    }
    --s.running;
  }

  asio::awaitable<void> scenario_latency() {
    const std::string stream = stream_name('d');
    LatencyState s;
    s.sent.reserve(static_cast<size_t>(o_.seconds * o_.d_rate) + 16);
    const double cpu0 = cpu_seconds();
    const auto start = SteadyClock::now();
    asio::co_spawn(io_, latency_reader(stream, shard_ids_['d'].at(0), s), asio::detached);
    asio::co_spawn(io_, latency_writer(stream, s), asio::detached);
    co_await wait_until(&s.running);
    const double elapsed = seconds_between(start, SteadyClock::now());
    const double cpu = cpu_seconds() - cpu0;
    std::vector<double> v = s.latency_ms;
    std::sort(v.begin(), v.end());
    if (!v.empty()) {
      results_.set("d.p50_ms", v[v.size() / 2]);
      results_.set("d.p99_ms", v[std::min(v.size() - 1, v.size() * 99 / 100)]);
      results_.set("d.max_ms", v.back());
    }
    results_.set("d.sent", static_cast<double>(s.sent.size()));
    results_.set("d.seen", static_cast<double>(v.size()));
    results_.set("d.get_calls", static_cast<double>(s.get_calls));
    results_.set("d.get_calls_per_s", static_cast<double>(s.get_calls) / elapsed);
    results_.set("d.error_responses", static_cast<double>(s.put_errors + s.get_errors));
    results_.set("d.gen_cpu_pct", 100.0 * cpu / elapsed);
    if (!s.first_error.empty()) results_.note("d.first_error", s.first_error);
    std::printf(
        "d put-to-visible: %s ms over %zu of %zu records (%.0f PutRecord/s; %llu GetRecords "
        "calls, %.0f/s; %llu error responses); generator CPU %.0f%% of one core\n",
        percentile_text(s.latency_ms).c_str(), v.size(), s.sent.size(), o_.d_rate,
        static_cast<unsigned long long>(s.get_calls), static_cast<double>(s.get_calls) / elapsed,
        static_cast<unsigned long long>(s.put_errors + s.get_errors), 100.0 * cpu / elapsed);
    if (!s.first_error.empty()) std::printf("  first error: %s\n", s.first_error.c_str());
    record_memory("d");
    std::fflush(stdout);
  }

  asio::io_context& io_;
  Options o_;
  std::string host_header_;
  tcp::endpoint endpoint_;
  std::map<char, std::vector<std::string>> shard_ids_;
  uint64_t acked_a_ = 0;
  std::mt19937_64 rng_{20260101};
  Results results_;
};

// ---------------------------------------------------------------------------------------------
// Null server: answers every request with the same 200 response and does nothing else, on one
// thread. Reads each request whole (headers, then Content-Length bytes of body) so that the
// transport cost is the same as for a real server.

constexpr std::string_view kCannedBody =
    R"({"FailedRecordCount":0,"Records":[],"ShardId":"shardId-000000000000",)"
    R"("SequenceNumber":"49500000000000000000000000000000000000000000000000000000"})";

asio::awaitable<void> null_connection(tcp::socket socket) {
  socket.set_option(tcp::no_delay(true));
  const std::string response = fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: "
      "{}\r\n\r\n{}",
      kCannedBody.size(), kCannedBody);
  std::string buf;
  for (;;) {
    size_t header_end;
    while ((header_end = std::string_view(buf).find("\r\n\r\n")) == std::string_view::npos) {
      const size_t old = buf.size();
      buf.resize(old + (64 << 10));
      auto [ec, n] =
          co_await socket.async_read_some(asio::buffer(buf.data() + old, 64 << 10), kUseTuple);
      buf.resize(old + n);
      if (ec) co_return;
    }
    size_t length = 0;
    const std::string_view head(buf.data(), header_end);
    for (size_t p = head.find("\r\n"); p != std::string_view::npos; p = head.find("\r\n", p)) {
      p += 2;
      if (iequals_prefix(head.substr(p), "content-length:")) {
        length = std::strtoull(std::string(head.substr(p + 15, 24)).c_str(), nullptr, 10);
      }
    }
    const size_t total = header_end + 4 + length;
    if (buf.size() < total) {
      const size_t old = buf.size();
      buf.resize(total);
      auto [ec, n] =
          co_await asio::async_read(socket, asio::buffer(buf.data() + old, total - old), kUseTuple);
      if (ec) co_return;
    }
    buf.erase(0, total);
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(response), kUseTuple);
    if (ec) co_return;
  }
}

asio::awaitable<void> null_accept(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), null_connection(std::move(socket)), asio::detached);
  }
}

int null_server_main(const std::string& host, uint16_t port) {
  asio::io_context io(1);
  tcp::acceptor acceptor(io);
  error_code ec;
  const tcp::endpoint ep(asio::ip::make_address(host, ec), port);
  if (!ec) acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "kinesis_load: null server on %s:%u: %s\n", host.c_str(), port,
                 ec.message().c_str());
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code&, int) { io.stop(); });
  asio::co_spawn(io, null_accept(acceptor), asio::detached);
  std::printf("null server listening on %s:%u\n", host.c_str(), acceptor.local_endpoint().port());
  std::fflush(stdout);
  io.run();
  return 0;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  CLI::App app{"Kinesis JSON 1.1 load generator (and null server) for bench/run-kinesis.sh"};
  Options o;
  bool null_server = false;
  app.add_flag("--null-server", null_server,
               "Serve a canned 200 response to every request on --host/--port instead");
  app.add_option("--host", o.host, "Server address (numeric)")->capture_default_str();
  app.add_option("--port", o.port, "Server port")->capture_default_str();
  app.add_option("--scenarios", o.scenarios, "Which of a,b,c,d to run")->capture_default_str();
  app.add_option("--stream-prefix", o.stream_prefix, "Streams are named PREFIX-a, -b, -d")
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "Measured length of a, b and d")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Unmeasured lead-in of a and b, seconds")
      ->capture_default_str();
  app.add_option("--drain-max-seconds", o.drain_max_seconds, "Give up draining (c) after this")
      ->capture_default_str();
  app.add_option("--connections", o.connections, "Connections for a and b")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--shards", o.shards, "Shards of the streams of a and b")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch", o.batch, "Records per PutRecords (a)")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  app.add_option("--record-bytes", o.record_bytes, "Bytes of data per record")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--d-rate", o.d_rate, "PutRecord per second in d")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "Report this process's VmRSS/VmHWM after each");
  app.add_flag("--skip-setup", o.skip_setup,
               "Create no streams (against the null server; only a and b make sense there)");
  app.add_option("--json", o.json_path, "Also write the results as one JSON object here");
  CLI11_PARSE(app, argc, argv);

  if (null_server) return null_server_main(o.host, o.port);
  if (o.skip_setup && o.scenarios.find_first_of("cd") != std::string::npos) {
    std::fprintf(stderr, "kinesis_load: --skip-setup allows only scenarios a and b\n");
    return 2;
  }
  boost::asio::io_context io(1);
  Bench bench(io, o);
  return bench.run();
}
