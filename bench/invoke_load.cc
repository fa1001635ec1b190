// Invocation benchmark driver, used by bench/run-invoke.sh: warm invoke latency and rate, the
// overhead Sluice adds to them, and cold starts, for one function per run, through the real
// Invoke API of a running `sluice serve`. Results and how to read them: docs/performance.md,
// "Lambda invocations".
//
// HTTP mode (the default). The driver creates the function (CreateFunction with the zip given
// in --zip, waiting for State Active), then for every --payloads x --replies configuration:
//   1. warm-up: --warmup seconds of Invoke on --connections keep-alive HTTP/1.1 connections in
//      a closed loop, checking every answer (200, no X-Amz-Function-Error, the expected body);
//      the last answer is kept byte for byte;
//   2. a null server is forked that answers every request at once with exactly those bytes;
//   3. --seconds of measured Invoke against Sluice and the same against the null server, in
//      --slices alternating turns (so that both see the same load on a shared machine), the
//      same request bytes and the same client code; per request the time from the first byte
//      written to the last byte of the answer read (steady_clock).
// "overhead" = p50 against Sluice - p50 against the null server: what remains is Sluice's
// request handling, the hand-off to the runtime, the runtime client and the handler, without
// the loopback transport and this client's own cost (the null server pays for reading the
// request and writing the answer like Sluice does, but parses nothing).
// Then, with --cold N, N cold starts: UpdateFunctionConfiguration (a new environment variable,
// which retires the warm environments), a pause, and one Invoke of the first payload with
// X-Amz-Log-Type: Tail, timed as above; "Init Duration" is read from the REPORT line of the
// tail when the runtime reports one. With --concurrent N, one more run of the first
// configuration on N connections for the rate alone.
//
// Direct mode (--direct LIB). No HTTP and no server: runtime::InProcessInvoker (the in-process
// "sluice.cpp" runtime) is created in this process over LIB (built from
// bench/handlers/cpp-inprocess) and invoke() is called in a closed loop from one thread, beside
// a plain call of the same entry point (dlopen + dlsym). Separates the invoker's own cost from
// the HTTP path's.
//
// Events are shaped like the Kinesis events an event source mapping delivers ({"Records":
// [...]}): records of about 1.1 KB with 700 base64 characters of "data", as many as fit the
// --payloads size, the last one padded so that the event has exactly that many bytes.

#include "base/base64.h"
#include "base/result.h"
#include "function/function.h"
#include "function/invoker.h"
#include "http_client.h"
#include "runtime/inprocess_invoker.h"
#include "runtime/process_invoker.h"

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <random>
#include <sluice/handler.h>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace sluice::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;

double micros_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

SteadyClock::duration seconds_duration(double s) {
  return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
}

// ---------------------------------------------------------------------------------------------
// Text helpers.

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// base64 is sluice_base's (base/base64.h); the alphabet above only draws random event data.
std::string base64_of(std::string_view bytes) { return base64_encode(as_bytes(bytes)); }

// The decoded text of strict base64 `in`; empty when it is not.
std::string base64_text(std::string_view in) {
  std::string out;
  if (base64_decode(in, out)) out.clear();
  return out;
}

// Percentiles of latencies in microseconds (nearest rank on the sorted sample).
struct Summary {
  size_t count = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double max_us = 0;
  double mean_us = 0;
};

Summary summarize(std::vector<double> v) {
  Summary s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  s.p50_us = at(0.50);
  s.p90_us = at(0.90);
  s.p99_us = at(0.99);
  s.max_us = v.back();
  double sum = 0;
  for (const double x : v) sum += x;
  s.mean_us = sum / static_cast<double>(v.size());
  return s;
}

// Results printed as text and written as one flat JSON object (numbers and strings).
class Results {
 public:
  void set(const std::string& key, double value) { numbers_[key] = value; }
  void note(const std::string& key, std::string text) { texts_[key] = std::move(text); }
  void summary(const std::string& prefix, const Summary& s) {
    set(prefix + ".count", static_cast<double>(s.count));
    set(prefix + ".p50_us", s.p50_us);
    set(prefix + ".p90_us", s.p90_us);
    set(prefix + ".p99_us", s.p99_us);
    set(prefix + ".max_us", s.max_us);
    set(prefix + ".mean_us", s.mean_us);
  }
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
        escaped.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
      }
      out += fmt::format("{}\"{}\":\"{}\"", first ? "" : ",", k, escaped);
      first = false;
    }
    return out + "}\n";
  }
  bool write(const std::string& path) const {
    if (path.empty()) return true;
    std::ofstream f(path);
    f << to_json();
    return static_cast<bool>(f);
  }

 private:
  std::map<std::string, double> numbers_;
  std::map<std::string, std::string> texts_;
};

// A Kinesis-shaped event of exactly `bytes` bytes (at least 432): records of 1118 bytes, each
// with 700 characters of base64 data, then one whose data fills what is left.
std::string make_event(size_t bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto record = [&](size_t i, size_t data_chars) {
    std::string data(data_chars, 'A');
    for (char& c : data) c = kBase64Alphabet[rng() & 63];
    return fmt::format(
        R"({{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"pk-{:06d}",)"
        R"("sequenceNumber":"49590338271490256608559692538361571095921575989136{:06d}",)"
        R"("data":"{}","approximateArrivalTimestamp":1767225600.{:03d}1}},)"
        R"("eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000000:{:06d}",)"
        R"("eventName":"aws:kinesis:record","awsRegion":"us-east-1",)"
        R"("eventSourceARN":"arn:aws:kinesis:us-east-1:000000000000:stream/bench"}})",
        i, i, data, i % 1000, i);
  };
  constexpr size_t kDataChars = 700;
  const std::string head = R"({"Records":[)";
  const std::string tail = "]}";
  const size_t fixed = record(0, 0).size();  // a record without data
  std::string out = head;
  size_t i = 0;
  // Whole records while one more, a last record without data and the closing bytes fit.
  while (out.size() + (i > 0 ? 1 : 0) + fixed + kDataChars + 1 + fixed + tail.size() <= bytes) {
    if (i > 0) out.push_back(',');
    out += record(i, kDataChars);
    ++i;
  }
  // One last record that takes up exactly what is left.
  const size_t sep = i > 0 ? 1 : 0;
  const size_t used = out.size() + sep + fixed + tail.size();
  const size_t data_chars = bytes > used ? bytes - used : 0;
  if (sep) out.push_back(',');
  out += record(i, data_chars);
  out += tail;
  return out;
}

// The HTTP client (Connection, Response, header_value) is bench/http_client.h.

// ---------------------------------------------------------------------------------------------
// Null server: a forked child that answers every request with the same bytes and does nothing
// else. It reads each request whole (headers, then Content-Length bytes of body) so that the
// transport cost matches a real server's. Plain POSIX sockets and one thread per connection.

void null_connection(int fd, const std::string* response) {
  std::string buf;
  for (;;) {
    size_t header_end;
    while ((header_end = std::string_view(buf).find("\r\n\r\n")) == std::string_view::npos) {
      const size_t old = buf.size();
      buf.resize(old + (64 << 10));
      const ssize_t n = ::recv(fd, buf.data() + old, 64 << 10, 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buf.resize(old + static_cast<size_t>(n));
    }
    const auto length = header_value(std::string_view(buf.data(), header_end), "content-length");
    const size_t total =
        header_end + 4 + (length ? std::strtoull(length->c_str(), nullptr, 10) : 0);
    while (buf.size() < total) {
      const size_t old = buf.size();
      buf.resize(total);
      const ssize_t n = ::recv(fd, buf.data() + old, total - old, 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buf.resize(old + static_cast<size_t>(n));
    }
    buf.erase(0, total);
    size_t sent = 0;
    while (sent < response->size()) {
      const ssize_t n = ::send(fd, response->data() + sent, response->size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      sent += static_cast<size_t>(n);
    }
  }
}

// The child's whole life: accept on `listen_fd` until killed. Never returns.
[[noreturn]] void null_server_child(int listen_fd, std::string response) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (;;) {
    const int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd < 0) {
      if (errno == EINTR) continue;
      std::_Exit(1);
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread(null_connection, fd, &response).detach();
  }
}

// Owns the forked null server; kills and reaps it when destroyed.
class NullServer {
 public:
  // Listens on 127.0.0.1 (a free port) and forks the child. REQUIRES: the calling process
  // has no other threads running (fork copies only the caller). nullptr on failure.
  static std::unique_ptr<NullServer> start(const std::string& response) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd);
      return nullptr;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fd);
      return nullptr;
    }
    if (pid == 0) null_server_child(fd, response);
    ::close(fd);
    return std::unique_ptr<NullServer>(new NullServer(pid, ntohs(addr.sin_port)));
  }
  ~NullServer() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  NullServer(const NullServer&) = delete;
  NullServer& operator=(const NullServer&) = delete;
  uint16_t port() const { return port_; }

 private:
  NullServer(pid_t pid, uint16_t port) : pid_(pid), port_(port) {}
  pid_t pid_;
  uint16_t port_;
};

// ---------------------------------------------------------------------------------------------
// The HTTP benchmark.

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 4566;
  std::string function = "bench";
  std::string label;
  std::string runtime;
  std::string handler_echo;   // Handler for reply "echo"
  std::string handler_small;  // Handler for reply "small"
  std::string zip_path;
  int memory_mb = 512;
  int timeout_s = 30;
  std::vector<size_t> payloads{1024, 1 << 20};
  std::vector<std::string> replies{"echo", "small"};
  double seconds = 4;
  double warmup = 1;
  int slices = 2;
  int connections = 1;
  int cold = 0;
  double cold_pause = 0.2;
  int concurrent = 0;
  bool floor = false;
  std::string json_path;
};

// Checks one answer: nullopt when it is the expected one, else what is wrong with it.
using Checker = std::function<std::optional<std::string>(const Response&)>;

// One measured run's tally, per connection thread.
struct Tally {
  std::vector<double> latency_us;
  uint64_t bad = 0;  // answers that were not the expected success
  std::string first_error;
};

class HttpBench {
 public:
  HttpBench(Options o)
      : o_(std::move(o)),
        host_header_(fmt::format("{}:{}", o_.host, o_.port)),
        sluice_(asio::ip::make_address(o_.host), o_.port),
        control_(io_) {}

  int run() {
    if (auto ec = control_.connect(sluice_)) {
      std::fprintf(stderr, "invoke_load: connect %s: %s\n", host_header_.c_str(),
                   ec.message().c_str());
      return 1;
    }
    results_.note("label", o_.label);
    results_.note("runtime", o_.runtime);
    results_.set("connections", o_.connections);
    results_.set("memory_mb", o_.memory_mb);
    std::string zip;
    {
      std::ifstream f(o_.zip_path, std::ios::binary);
      if (!f) {
        std::fprintf(stderr, "invoke_load: cannot read %s\n", o_.zip_path.c_str());
        return 1;
      }
      std::stringstream ss;
      ss << f.rdbuf();
      zip = ss.str();
    }
    results_.set("zip_bytes", static_cast<double>(zip.size()));
    for (const std::string& reply : o_.replies) {
      if (!create_function(function_name(reply), handler_for(reply), zip)) return 1;
    }
    bool ok = true;
    if (o_.floor) {
      // The same server and client on a request that reaches the Lambda API but runs nothing.
      const std::string path =
          fmt::format("/2015-03-31/functions/{}/configuration", function_name(o_.replies.front()));
      const Checker is_ok = [](const Response& r) -> std::optional<std::string> {
        if (r.status == 200) return std::nullopt;
        return fmt::format("HTTP {}: {}", r.status, r.body.substr(0, 300));
      };
      ok = measure_warm("floor.getconfig", request("GET", path, ""), is_ok, o_.connections) && ok;
    }
    for (const size_t bytes : o_.payloads) {
      for (const std::string& reply : o_.replies) {
        ok =
            measure_invoke(bytes, reply, o_.connections, fmt::format("p{}.{}", bytes, reply)) && ok;
      }
    }
    if (o_.concurrent > 0) {
      ok = measure_invoke(o_.payloads.front(), o_.replies.front(), o_.concurrent,
                          fmt::format("conc{}.p{}.{}", o_.concurrent, o_.payloads.front(),
                                      o_.replies.front())) &&
           ok;
    }
    if (o_.cold > 0) ok = measure_cold() && ok;
    if (!results_.write(o_.json_path)) {
      std::fprintf(stderr, "invoke_load: cannot write %s\n", o_.json_path.c_str());
      return 1;
    }
    return ok ? 0 : 1;
  }

 private:
  std::string function_name(const std::string& reply) const {
    return fmt::format("{}-{}", o_.function, reply);
  }
  const std::string& handler_for(const std::string& reply) const {
    return reply == "small" ? o_.handler_small : o_.handler_echo;
  }

  std::string request(std::string_view method, std::string_view path, std::string_view body,
                      std::string_view extra_headers = {}) const {
    return fmt::format(
        "{} {} HTTP/1.1\r\n"
        "Host: {}\r\n"
        "Content-Type: application/json\r\n"
        "X-Amz-Date: 20260101T000000Z\r\n"
        "Authorization: AWS4-HMAC-SHA256 "
        "Credential=test/20260101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0000\r\n"
        "{}"
        "Content-Length: {}\r\n"
        "\r\n"
        "{}",
        method, path, host_header_, extra_headers, body.size(), body);
  }

  std::string invoke_request(const std::string& name, std::string_view event,
                             std::string_view extra_headers = {}) const {
    return request("POST", fmt::format("/2015-03-31/functions/{}/invocations", name), event,
                   extra_headers);
  }

  // A control-plane call on the control connection; prints and returns false unless the
  // status is one of `ok_status`.
  bool control(std::string_view method, const std::string& path, std::string_view body,
               std::initializer_list<int> ok_status, Response* out = nullptr) {
    Response r;
    if (auto ec = control_.round_trip(request(method, path, body), r)) {
      std::fprintf(stderr, "invoke_load: %.*s %s: %s\n", static_cast<int>(method.size()),
                   method.data(), path.c_str(), ec.message().c_str());
      return false;
    }
    if (out != nullptr) *out = r;
    if (std::find(ok_status.begin(), ok_status.end(), r.status) == ok_status.end()) {
      std::fprintf(stderr, "invoke_load: %.*s %s: HTTP %d %s\n", static_cast<int>(method.size()),
                   method.data(), path.c_str(), r.status, r.body.substr(0, 400).c_str());
      return false;
    }
    return true;
  }

  // Waits until GetFunctionConfiguration shows `needle` (30 s at most).
  bool wait_for(const std::string& name, std::string_view needle) {
    const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
    const std::string path = fmt::format("/2015-03-31/functions/{}/configuration", name);
    while (SteadyClock::now() < give_up) {
      Response r;
      if (!control("GET", path, "", {200}, &r)) return false;
      if (r.body.find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::fprintf(stderr, "invoke_load: %s never showed %.*s\n", name.c_str(),
                 static_cast<int>(needle.size()), needle.data());
    return false;
  }

  bool create_function(const std::string& name, const std::string& handler,
                       const std::string& zip) {
    control("DELETE", fmt::format("/2015-03-31/functions/{}", name), "", {204, 404});
    const std::string body =
        fmt::format(R"({{"FunctionName":"{}","Runtime":"{}","Handler":"{}",)"
                    R"("Role":"arn:aws:iam::000000000000:role/bench","Timeout":{},"MemorySize":{},)"
                    R"("Code":{{"ZipFile":"{}"}}}})",
                    name, o_.runtime, handler, o_.timeout_s, o_.memory_mb, base64_of(zip));
    if (!control("POST", "/2015-03-31/functions", body, {201})) return false;
    return wait_for(name, R"("State":"Active")");
  }

  // Whether `r` is the success the handler of `reply` gives for `event`.
  static std::optional<std::string> check_invoke(const Response& r, const std::string& reply,
                                                 size_t event_bytes) {
    if (r.status != 200) return fmt::format("HTTP {}: {}", r.status, r.body.substr(0, 300));
    if (header_value(r.head, "x-amz-function-error")) {
      return "function error: " + r.body.substr(0, 300);
    }
    if (reply == "small") {
      if (r.body.size() > 64 || r.body.find("\"ok\"") == std::string::npos) {
        return "unexpected result: " + r.body.substr(0, 300);
      }
    } else if (r.body.size() < event_bytes - event_bytes / 100 ||
               r.body.find("\"Records\"") == std::string::npos) {
      // An echo may add spaces (Python's json.dumps) or write a number shorter (JavaScript),
      // but not lose records.
      return fmt::format("echo of {} bytes came back as {} bytes", event_bytes, r.body.size());
    }
    return std::nullopt;
  }

  // `connections` threads, each on its own connection (kept in `conns`, created on first
  // use), each sending `req` in a closed loop until `stop`; latencies of answers that arrive
  // by `stop` are kept. Answers are checked only when `check` is set (not for the null server,
  // whose answers are by construction the captured one). Returns the requests completed.
  uint64_t closed_loop(std::vector<std::unique_ptr<Connection>>& conns, const tcp::endpoint& ep,
                       int connections, const std::string& req, SteadyClock::time_point stop,
                       const Checker* check, std::vector<Tally>& tallies,
                       std::string* last_raw = nullptr) {
    std::vector<std::thread> threads;
    std::atomic<uint64_t> done{0};
    tallies.resize(static_cast<size_t>(connections));
    for (int i = 0; i < connections; ++i) {
      if (static_cast<int>(conns.size()) <= i) {
        conns.push_back(std::make_unique<Connection>(io_));
        if (auto ec = conns.back()->connect(ep)) {
          tallies[static_cast<size_t>(i)].first_error = "connect: " + ec.message();
          ++tallies[static_cast<size_t>(i)].bad;
          continue;
        }
      }
      threads.emplace_back([&, i] {
        Connection& c = *conns[static_cast<size_t>(i)];
        Tally& t = tallies[static_cast<size_t>(i)];
        Response r;
        const bool keep_raw = last_raw != nullptr && i == 0;
        while (SteadyClock::now() < stop) {
          const auto t0 = SteadyClock::now();
          if (auto ec = c.round_trip(req, r, keep_raw)) {
            ++t.bad;
            if (t.first_error.empty()) t.first_error = ec.message();
            if (c.connect(ep)) break;
            continue;
          }
          const auto t1 = SteadyClock::now();
          if (check != nullptr) {
            if (auto problem = (*check)(r)) {
              ++t.bad;
              if (t.first_error.empty()) t.first_error = *problem;
              continue;
            }
          }
          if (t1 <= stop) {
            t.latency_us.push_back(micros_between(t0, t1));
            done.fetch_add(1, std::memory_order_relaxed);
          }
        }
        if (keep_raw) *last_raw = r.raw;
      });
    }
    for (auto& t : threads) t.join();
    return done.load();
  }

  static void merge(std::vector<Tally>& from, Tally& into) {
    for (Tally& t : from) {
      into.latency_us.insert(into.latency_us.end(), t.latency_us.begin(), t.latency_us.end());
      into.bad += t.bad;
      if (into.first_error.empty()) into.first_error = t.first_error;
    }
    from.clear();
  }

  // Invoke of FUNCTION-`reply` with an event of `bytes`, measured under `key`.
  bool measure_invoke(size_t bytes, const std::string& reply, int connections,
                      const std::string& key) {
    const std::string event = make_event(bytes, bytes);
    const Checker check = [&](const Response& r) { return check_invoke(r, reply, bytes); };
    results_.set(key + ".event_bytes", static_cast<double>(event.size()));
    return measure_warm(key, invoke_request(function_name(reply), event), check, connections);
  }

  // `req` against Sluice and against a null server that answers with Sluice's bytes.
  bool measure_warm(const std::string& key, const std::string& req, const Checker& check,
                    int connections) {
    std::vector<std::unique_ptr<Connection>> sluice_conns;
    std::vector<std::unique_ptr<Connection>> null_conns;

    // Warm-up; keeps the last answer's bytes for the null server.
    std::vector<Tally> tallies;
    std::string captured;
    Tally warm;
    const auto warm_stop = SteadyClock::now() + seconds_duration(o_.warmup);
    closed_loop(sluice_conns, sluice_, connections, req, warm_stop, &check, tallies, &captured);
    merge(tallies, warm);
    if (warm.latency_us.empty() || captured.empty()) {
      std::printf("%s: warm-up got no good answer (%llu bad; first: %s)\n", key.c_str(),
                  static_cast<unsigned long long>(warm.bad), warm.first_error.c_str());
      results_.note(key + ".first_error", warm.first_error);
      std::fflush(stdout);
      return false;
    }
    // Everything the null server sends is the captured answer; it must not ask to close.
    const auto null_server = NullServer::start(captured);
    if (!null_server) {
      std::fprintf(stderr, "invoke_load: cannot start the null server\n");
      return false;
    }
    const tcp::endpoint null_ep(asio::ip::make_address("127.0.0.1"), null_server->port());

    Tally sluice_total;
    Tally null_total;
    double sluice_seconds = 0;
    double null_seconds = 0;
    uint64_t sluice_done = 0;
    uint64_t null_done = 0;
    const double slice = o_.seconds / std::max(1, o_.slices);
    for (int s = 0; s < std::max(1, o_.slices); ++s) {
      auto start = SteadyClock::now();
      sluice_done += closed_loop(sluice_conns, sluice_, connections, req,
                                 start + seconds_duration(slice), &check, tallies);
      sluice_seconds += micros_between(start, SteadyClock::now()) / 1e6;
      merge(tallies, sluice_total);
      start = SteadyClock::now();
      null_done += closed_loop(null_conns, null_ep, connections, req,
                               start + seconds_duration(slice), nullptr, tallies);
      null_seconds += micros_between(start, SteadyClock::now()) / 1e6;
      merge(tallies, null_total);
    }
    const Summary sl = summarize(sluice_total.latency_us);
    const Summary nl = summarize(null_total.latency_us);
    results_.summary(key + ".sluice", sl);
    results_.summary(key + ".null", nl);
    results_.set(key + ".sluice.rate", static_cast<double>(sluice_done) / sluice_seconds);
    results_.set(key + ".null.rate", static_cast<double>(null_done) / null_seconds);
    results_.set(key + ".sluice.bad", static_cast<double>(sluice_total.bad + warm.bad));
    results_.set(key + ".null.bad", static_cast<double>(null_total.bad));
    results_.set(key + ".overhead_p50_us", sl.p50_us - nl.p50_us);
    results_.set(key + ".overhead_mean_us", sl.mean_us - nl.mean_us);
    results_.set(key + ".response_bytes", static_cast<double>(captured.size()));
    results_.set(key + ".connections", connections);
    if (!sluice_total.first_error.empty()) {
      results_.note(key + ".first_error", sluice_total.first_error);
    }
    std::printf(
        "%s %s: Sluice p50 %.1f p99 %.1f max %.1f us, %.0f/s (%zu ok, %llu bad) | null p50 "
        "%.1f p99 %.1f us, %.0f/s | overhead p50 %.1f us; response %zu bytes\n",
        o_.label.c_str(), key.c_str(), sl.p50_us, sl.p99_us, sl.max_us,
        static_cast<double>(sluice_done) / sluice_seconds, sl.count,
        static_cast<unsigned long long>(sluice_total.bad + warm.bad), nl.p50_us, nl.p99_us,
        static_cast<double>(null_done) / null_seconds, sl.p50_us - nl.p50_us, captured.size());
    if (!sluice_total.first_error.empty()) {
      std::printf("  first error: %s\n", sluice_total.first_error.c_str());
    }
    std::fflush(stdout);
    return sluice_total.bad + warm.bad == 0 && null_total.bad == 0;
  }

  // "Init Duration: 123.45 ms" in the decoded tail; nullopt when absent.
  static std::optional<double> init_duration_ms(const std::string& tail) {
    const std::string_view key = "Init Duration: ";
    const size_t at = tail.rfind(key);
    if (at == std::string::npos) return std::nullopt;
    return std::strtod(tail.c_str() + at + key.size(), nullptr);
  }

  bool measure_cold() {
    const std::string& reply = o_.replies.front();
    const std::string name = function_name(reply);
    const size_t bytes = o_.payloads.front();
    const std::string event = make_event(bytes, bytes);
    const std::string req = invoke_request(name, event, "X-Amz-Log-Type: Tail\r\n");
    const std::string config_path = fmt::format("/2015-03-31/functions/{}/configuration", name);
    std::vector<double> latency_us;
    std::vector<double> init_ms;
    uint64_t bad = 0;
    std::string first_error;
    for (int i = 0; i < o_.cold; ++i) {
      const std::string body =
          fmt::format(R"({{"Environment":{{"Variables":{{"BENCH_COLD":"{}"}}}}}})", i);
      if (!control("PUT", config_path, body, {200})) return false;
      if (!wait_for(name, R"("LastUpdateStatus":"Successful")")) return false;
      // Lets the retired environment exit, so the cold start does not share the CPU with it.
      std::this_thread::sleep_for(seconds_duration(o_.cold_pause));
      Connection c(io_);  // a new connection, as a first caller would have
      if (auto ec = c.connect(sluice_)) {
        ++bad;
        if (first_error.empty()) first_error = "connect: " + ec.message();
        continue;
      }
      Response r;
      const auto t0 = SteadyClock::now();
      if (auto ec = c.round_trip(req, r)) {
        ++bad;
        if (first_error.empty()) first_error = ec.message();
        continue;
      }
      const auto t1 = SteadyClock::now();
      if (auto problem = check_invoke(r, reply, bytes)) {
        ++bad;
        if (first_error.empty()) first_error = *problem;
        continue;
      }
      latency_us.push_back(micros_between(t0, t1));
      if (const auto tail = header_value(r.head, "x-amz-log-result")) {
        if (const auto init = init_duration_ms(base64_text(*tail))) init_ms.push_back(*init);
      }
    }
    const Summary s = summarize(latency_us);
    results_.summary("cold", s);
    results_.set("cold.bad", static_cast<double>(bad));
    results_.set("cold.event_bytes", static_cast<double>(event.size()));
    std::string init_text = "no Init Duration reported";
    if (!init_ms.empty()) {
      std::vector<double> us;
      for (const double ms : init_ms) us.push_back(ms * 1000);
      const Summary i = summarize(us);
      results_.summary("cold.init", i);
      init_text = fmt::format("Init Duration p50 {:.1f} p99 {:.1f} ms over {}", i.p50_us / 1000,
                              i.p99_us / 1000, i.count);
    }
    if (!first_error.empty()) results_.note("cold.first_error", first_error);
    std::printf(
        "%s cold start (%s, %zu-byte event): p50 %.1f p99 %.1f max %.1f ms over %zu "
        "(%llu bad); %s\n",
        o_.label.c_str(), reply.c_str(), event.size(), s.p50_us / 1000, s.p99_us / 1000,
        s.max_us / 1000, s.count, static_cast<unsigned long long>(bad), init_text.c_str());
    if (!first_error.empty()) std::printf("  first error: %s\n", first_error.c_str());
    std::fflush(stdout);
    return bad == 0;
  }

  Options o_;
  std::string host_header_;
  tcp::endpoint sluice_;
  asio::io_context io_;
  Connection control_;
  Results results_;
};

// ---------------------------------------------------------------------------------------------
// Direct mode: runtime::InProcessInvoker::invoke() without HTTP, beside a plain call.

struct DirectOptions {
  std::string library;
  std::vector<size_t> payloads{1024, 1 << 20};
  std::vector<std::string> replies{"echo", "small"};
  double seconds = 4;
  double warmup = 0.5;
  int slices = 2;
  std::string json_path;
};

// What Sluice's set_result does, for the plain-call baseline: copy the body.
void copy_result(void* host, const char* body, size_t body_size, const char*, size_t) {
  static_cast<std::string*>(host)->assign(body, body_size);
}
void ignore_error(void*, const char*, size_t, const char*, size_t) {}
void ignore_log(void*, const char*, size_t) {}

int direct_main(const DirectOptions& o) {
  namespace fs = std::filesystem;
  std::string dir_template = (fs::temp_directory_path() / "sluice-invoke-direct.XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    std::fprintf(stderr, "invoke_load: mkdtemp: %s\n", std::strerror(errno));
    return 1;
  }
  const fs::path dir = dir_template;
  std::error_code fec;
  fs::create_directories(dir / "code/lib", fec);
  fs::copy_file(o.library, dir / "code/lib/bench_handler.so", fec);
  if (fec) {
    std::fprintf(stderr, "invoke_load: copying %s: %s\n", o.library.c_str(), fec.message().c_str());
    return 1;
  }
  const std::string account = "000000000000";
  const std::string region = "us-east-1";
  auto spec_for = [&](const std::string& reply) {
    function::FunctionSpec spec;
    spec.account = account;
    spec.region = region;
    spec.name = "bench-" + reply;
    spec.arn = function::function_arn(region, account, spec.name);
    spec.runtime = std::string(runtime::kInProcessRuntime);
    spec.handler = "lib/bench_handler.so:bench_" + reply;
    spec.timeout_s = 30;
    spec.memory_mb = 512;
    spec.task_root = (dir / "code").string();
    spec.revision_id = "rev-1";
    spec.log_group = "/aws/lambda/" + spec.name;
    return spec;
  };
  std::map<std::string, function::FunctionSpec> specs;
  for (const std::string& reply : o.replies) {
    function::FunctionSpec spec = spec_for(reply);
    specs[spec.arn] = spec;
  }
  runtime::FunctionLookup lookup =
      [&specs](const std::string& arn) -> Result<runtime::FunctionTarget> {
    const auto it = specs.find(arn);
    if (it == specs.end()) return Status::not_found("no function " + arn);
    return runtime::FunctionTarget{it->second, std::nullopt};
  };
  runtime::InProcessInvokerOptions options;
  options.log_dir = dir / "logs";
  options.scratch_dir = dir / "scratch";
  auto created = runtime::InProcessInvoker::create(options, lookup);
  if (!created.ok()) {
    std::fprintf(stderr, "invoke_load: InProcessInvoker::create: %s\n",
                 created.status().to_string().c_str());
    return 1;
  }
  std::unique_ptr<runtime::InProcessInvoker> invoker = std::move(*created);

  void* lib = ::dlopen((dir / "code/lib/bench_handler.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    std::fprintf(stderr, "invoke_load: dlopen: %s\n", ::dlerror());
    return 1;
  }

  Results results;
  bool ok = true;
  uint64_t request_number = 0;
  for (const size_t bytes : o.payloads) {
    const std::string event = make_event(bytes, bytes);
    for (const std::string& reply : o.replies) {
      const std::string key = fmt::format("p{}.{}", bytes, reply);
      const function::FunctionSpec& spec = specs.at(spec_for(reply).arn);
      auto entry = reinterpret_cast<sluice_handler_v1_fn>(
          ::dlsym(lib, fmt::format("bench_{}", reply).c_str()));
      if (entry == nullptr) {
        std::fprintf(stderr, "invoke_load: no symbol bench_%s\n", reply.c_str());
        return 1;
      }
      uint64_t bad = 0;
      std::string first_error;
      // One invoke() through the InProcessInvoker, waited for as the Invoke API waits (a
      // promise fulfilled by `done`). The Invocation, with its copy of the event, is built
      // before the clock starts.
      auto via_invoker = [&]() -> double {
        function::Invocation inv;
        inv.request_id = fmt::format("00000000-0000-4000-8000-{:012d}", ++request_number);
        inv.function_arn = spec.arn;
        inv.deadline = std::chrono::system_clock::now() + std::chrono::seconds(30);
        inv.payload = event;
        auto promise = std::make_shared<std::promise<function::InvokeOutcome>>();
        auto future = promise->get_future();
        const auto t0 = SteadyClock::now();
        invoker->invoke(std::move(inv), [promise](function::InvokeOutcome outcome) {
          promise->set_value(std::move(outcome));
        });
        const function::InvokeOutcome outcome = future.get();
        const auto t1 = SteadyClock::now();
        if (outcome.kind != function::InvokeOutcome::Kind::kOk ||
            (reply == "echo" ? outcome.payload.size() != event.size()
                             : outcome.payload.find("\"ok\"") == std::string::npos)) {
          ++bad;
          if (first_error.empty()) first_error = outcome.payload.substr(0, 300);
        }
        return micros_between(t0, t1);
      };
      // The same entry point called on this thread, with what Sluice fills in.
      std::string request_id = "00000000-0000-4000-8000-000000000000";
      auto direct = [&]() -> double {
        std::string result;
        sluice_invocation_v1 inv{};
        inv.abi_version = SLUICE_HANDLER_ABI_VERSION;
        inv.struct_size = sizeof inv;
        inv.payload = {event.data(), event.size()};
        inv.request_id = {request_id.data(), request_id.size()};
        inv.function_arn = {spec.arn.data(), spec.arn.size()};
        inv.function_name = {spec.name.data(), spec.name.size()};
        inv.deadline_ms = 0;
        inv.memory_mb = spec.memory_mb;
        inv.log = ignore_log;
        sluice_reply_v1 rep{&result, copy_result, ignore_error};
        const auto t0 = SteadyClock::now();
        const int rc = entry(&inv, &rep);
        const auto t1 = SteadyClock::now();
        if (rc != 0 || result.empty()) ++bad;
        return micros_between(t0, t1);
      };
      const auto warm_stop = SteadyClock::now() + seconds_duration(o.warmup);
      while (SteadyClock::now() < warm_stop) {
        via_invoker();
        direct();
      }
      std::vector<double> invoker_us;
      std::vector<double> direct_us;
      double invoker_seconds = 0;
      double direct_seconds = 0;
      const double slice = o.seconds / std::max(1, o.slices);
      for (int s = 0; s < std::max(1, o.slices); ++s) {
        auto start = SteadyClock::now();
        auto stop = start + seconds_duration(slice);
        while (SteadyClock::now() < stop) invoker_us.push_back(via_invoker());
        invoker_seconds += micros_between(start, SteadyClock::now()) / 1e6;
        start = SteadyClock::now();
        stop = start + seconds_duration(slice);
        while (SteadyClock::now() < stop) direct_us.push_back(direct());
        direct_seconds += micros_between(start, SteadyClock::now()) / 1e6;
      }
      const Summary inv_s = summarize(invoker_us);
      const Summary dir_s = summarize(direct_us);
      results.summary(key + ".invoker", inv_s);
      results.summary(key + ".direct", dir_s);
      results.set(key + ".invoker.rate", static_cast<double>(inv_s.count) / invoker_seconds);
      results.set(key + ".direct.rate", static_cast<double>(dir_s.count) / direct_seconds);
      results.set(key + ".overhead_p50_us", inv_s.p50_us - dir_s.p50_us);
      results.set(key + ".bad", static_cast<double>(bad));
      results.set(key + ".event_bytes", static_cast<double>(event.size()));
      if (!first_error.empty()) results.note(key + ".first_error", first_error);
      std::printf(
          "direct %s: InProcessInvoker::invoke p50 %.2f p99 %.2f max %.1f us (%zu calls, "
          "%.0f/s) | plain call p50 %.2f p99 %.2f us | overhead p50 %.2f us; %llu bad\n",
          key.c_str(), inv_s.p50_us, inv_s.p99_us, inv_s.max_us, inv_s.count,
          static_cast<double>(inv_s.count) / invoker_seconds, dir_s.p50_us, dir_s.p99_us,
          inv_s.p50_us - dir_s.p50_us, static_cast<unsigned long long>(bad));
      if (!first_error.empty()) std::printf("  first error: %s\n", first_error.c_str());
      std::fflush(stdout);
      ok = ok && bad == 0;
    }
  }
  invoker->shutdown();
  invoker.reset();
  ::dlclose(lib);
  fs::remove_all(dir, fec);
  if (!results.write(o.json_path)) {
    std::fprintf(stderr, "invoke_load: cannot write %s\n", o.json_path.c_str());
    return 1;
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  CLI::App app{"Lambda Invoke benchmark driver for bench/run-invoke.sh"};
  Options o;
  DirectOptions d;
  std::string direct_library;
  app.add_option("--direct", direct_library,
                 "Measure runtime::InProcessInvoker on this handler library, without HTTP");
  app.add_option("--host", o.host, "Sluice's address (numeric)")->capture_default_str();
  app.add_option("--port", o.port, "Sluice's port")->capture_default_str();
  app.add_option("--function", o.function, "Functions are named FUNCTION-<reply>")
      ->capture_default_str();
  app.add_option("--label", o.label, "Name of this configuration in the output");
  app.add_option("--runtime", o.runtime, "Runtime of the functions");
  app.add_option("--handler-echo", o.handler_echo, "Handler that returns the event");
  app.add_option("--handler-small", o.handler_small, "Handler that returns a small constant");
  app.add_option("--zip", o.zip_path, "The functions' code (a zip file)");
  app.add_option("--memory", o.memory_mb, "MemorySize, MB")->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "Timeout, seconds")->capture_default_str();
  app.add_option("--payloads", o.payloads, "Event sizes, bytes")
      ->delimiter(',')
      ->check(CLI::Range(size_t{432}, size_t{6000000}))
      ->capture_default_str();
  app.add_option("--replies", o.replies, "echo and/or small")
      ->delimiter(',')
      ->check(CLI::IsMember({"echo", "small"}))
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "Measured seconds per configuration and target")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "Unmeasured seconds before each configuration")
      ->capture_default_str();
  app.add_option("--slices", o.slices, "Alternating Sluice/null turns per configuration")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connections", o.connections, "Closed-loop connections")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--concurrent", o.concurrent,
                 "Also run the first configuration on this many connections (0: no)")
      ->capture_default_str();
  app.add_flag("--floor", o.floor,
               "Also measure GetFunctionConfiguration: the Lambda API without an invoke");
  app.add_option("--cold", o.cold, "Cold starts to measure (first payload and reply)")
      ->capture_default_str();
  app.add_option("--cold-pause", o.cold_pause, "Seconds between update and cold invoke")
      ->capture_default_str();
  app.add_option("--json", o.json_path, "Also write the results as one JSON object here");
  CLI11_PARSE(app, argc, argv);

  if (!direct_library.empty()) {
    d.library = direct_library;
    d.payloads = o.payloads;
    d.replies = o.replies;
    d.seconds = o.seconds;
    d.warmup = o.warmup;
    d.slices = o.slices;
    d.json_path = o.json_path;
    return direct_main(d);
  }
  if (o.runtime.empty() || o.zip_path.empty() || o.handler_echo.empty() ||
      (o.handler_small.empty() &&
       std::find(o.replies.begin(), o.replies.end(), "small") != o.replies.end())) {
    std::fprintf(stderr, "invoke_load: --runtime, --zip and the handlers are required\n");
    return 2;
  }
  if (o.label.empty()) o.label = o.runtime;
  HttpBench bench(o);
  return bench.run();
}
