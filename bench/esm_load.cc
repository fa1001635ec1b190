// Event source mapping benchmark driver, used by bench/run-esm.sh: records/s through a
// mapping to a do-nothing handler, put-to-handler latency, and the memory an idle mapping and
// an idle shard cost, all through the public APIs of a running `sluice serve` (Kinesis JSON
// 1.1 and the Lambda REST API on one port). Results and how to read them: docs/performance.md,
// "Event source mappings". Phases, chosen with --phases (run-esm.sh runs them in this order):
//
//   preload     creates --stream with --shards shards and writes --records records of
//               --record-bytes bytes with PutRecords of 500 on --connections connections (one
//               thread each); also creates --latency-stream (--shards shards, empty).
//   drain       the baseline: the same records read back with GetRecords (Limit 10000) from
//               TRIM_HORIZON, one connection per shard, until every shard is caught up:
//               records/s of the public read path with no function at all.
//   throughput  per --batch-sizes B: a mapping of --function-small (created from --zip) on
//               --stream, TRIM_HORIZON, BatchSize B, window 0. The clock runs from the 202
//               of CreateEventSourceMapping to the first GET /metrics (polled every 5 ms)
//               that shows all --records records read and no invocation in flight
//               (sluice_esm_invocations_total == sluice_esm_batches_total, no errors):
//               records / elapsed, nothing subtracted (the transition delay and a runtime's
//               cold start are inside). The mapping is deleted before the next B.
//   latency     a mapping of --function-stamp (a handler that appends "<unix ns> <key>" per
//               record to <--stamp-dir>/<function>.stamps) on --latency-stream, LATEST,
//               BatchSize 100, window 0; after warm-up records reach the handler, PutRecord of
//               one record at a time at --latency-rate per second (open loop), --latency-count
//               of them, partition key "lat-<i>". Latency of record i = handler time - time the
//               PutRecord was sent (and - time its answer arrived), on CLOCK_REALTIME in both
//               processes. p50/p99/max.
//   memory      --mem-mappings functions; VmRSS of --server-pid with none of their mappings,
//               then with one LATEST mapping each on a 1-shard stream, then one more each on a
//               --mem-shards-shard stream, each read after the mappings are Enabled and idle
//               for 2.5 s: KiB per mapping (1 shard) and per idle shard-mapping pair.
//
// The HTTP client is bench/http_client.h (shared with invoke_load); base64 is sluice_base's.

#include "base/base64.h"
#include "http_client.h"

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string b64(std::string_view bytes) { return base64_encode(as_bytes(bytes)); }

// ---------------------------------------------------------------------------------------------
// Flat JSON lookups, enough for the members these APIs answer with (no nesting interpreted).

std::optional<std::string> string_member(std::string_view json, std::string_view key,
                                         size_t from = 0, size_t* end = nullptr) {
  const std::string quoted = fmt::format("\"{}\"", key);
  for (size_t at = json.find(quoted, from); at != std::string_view::npos;
       at = json.find(quoted, at + 1)) {
    size_t p = at + quoted.size();
    while (p < json.size() && json[p] == ' ') ++p;
    if (p >= json.size() || json[p] != ':') continue;
    ++p;
    while (p < json.size() && json[p] == ' ') ++p;
    if (p >= json.size() || json[p] != '"') continue;
    std::string out;
    for (size_t i = p + 1; i < json.size(); ++i) {
      if (json[i] == '"') {
        if (end != nullptr) *end = i + 1;
        return out;
      }
      if (json[i] == '\\' && i + 1 < json.size()) ++i;  // only \/ and \" occur here
      out.push_back(json[i]);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<int64_t> int_member(std::string_view json, std::string_view key) {
  const std::string quoted = fmt::format("\"{}\":", key);
  const size_t at = json.find(quoted);
  if (at == std::string_view::npos) return std::nullopt;
  return std::strtoll(std::string(json.substr(at + quoted.size(), 24)).c_str(), nullptr, 10);
}

size_t count_occurrences(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string_view::npos;
       at = hay.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

struct Summary {
  size_t count = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

Summary summarize(std::vector<double> v) {
  Summary s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  s.max = v.back();
  return s;
}

// Results printed as text and written as one flat JSON object of numbers and strings.
class Results {
 public:
  void set(const std::string& key, double value) { numbers_[key] = value; }
  void note(const std::string& key, const std::string& text) {
    std::string clean;
    for (const char c : text.substr(0, 300)) {
      if (c == '"' || c == '\\') clean.push_back('\\');
      clean.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
    }
    texts_[key] = clean;
  }
  bool write(const std::string& path) const {
    if (path.empty()) return true;
    std::string out = "{";
    for (const auto& [k, v] : numbers_)
      out += fmt::format("{}\"{}\":{}", out.size() > 1 ? "," : "", k, v);
    for (const auto& [k, v] : texts_) {
      out += fmt::format("{}\"{}\":\"{}\"", out.size() > 1 ? "," : "", k, v);
    }
    std::ofstream f(path);
    f << out << "}\n";
    return static_cast<bool>(f);
  }

 private:
  std::map<std::string, double> numbers_;
  std::map<std::string, std::string> texts_;
};

// VmRSS of `pid` in KiB; 0 when it cannot be read.
long rss_kib(int pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// User + system CPU seconds of `pid` so far; 0 when it cannot be read.
double cpu_seconds_of(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state; utime is 14, stime 15
    if (i == 14 || i == 15) ticks += std::atof(f.c_str());
    if (i == 15) break;
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// ---------------------------------------------------------------------------------------------

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 4761;
  std::string phases = "preload,drain,throughput,latency";
  std::string label = "inprocess";
  std::string runtime;
  std::string handler_small;
  std::string handler_stamp;
  std::string zip_path;
  std::string function = "esm-bench";
  std::string stream = "esm-bench";
  std::string latency_stream = "esm-bench-latency";
  int shards = 2;
  int64_t records = 1'000'000;
  int record_bytes = 100;
  int connections = 4;
  std::vector<int> batch_sizes{100, 1000};
  double max_seconds = 60;
  int latency_count = 1000;
  double latency_rate = 200;
  std::string stamp_dir;
  int server_pid = 0;
  int mem_mappings = 50;
  int mem_shards = 32;
  std::string json_path;
};

// The counters of one mapping in GET /metrics.
struct MappingCounters {
  int64_t records_read = 0;
  int64_t batches = 0;
  int64_t invocations = 0;
  int64_t errors = 0;  // function errors + invocation errors + discarded records
};

class EsmBench {
 public:
  explicit EsmBench(Options o)
      : o_(std::move(o)),
        host_header_(fmt::format("{}:{}", o_.host, o_.port)),
        endpoint_(asio::ip::make_address(o_.host), o_.port),
        control_(io_) {}

  int run() {
    if (auto ec = control_.connect(endpoint_)) {
      std::fprintf(stderr, "esm_load: connect %s: %s\n", host_header_.c_str(),
                   ec.message().c_str());
      return 1;
    }
    results_.note("label", o_.label);
    bool ok = true;
    if (wants("preload")) ok = preload() && ok;
    if (ok && wants("drain")) ok = drain() && ok;
    if (ok && (wants("throughput") || wants("latency"))) ok = create_functions() && ok;
    if (ok && wants("throughput")) {
      for (const int b : o_.batch_sizes) ok = throughput(b) && ok;
    }
    if (ok && wants("latency")) ok = latency() && ok;
    if (ok && wants("memory")) ok = memory() && ok;
    if (!results_.write(o_.json_path)) {
      std::fprintf(stderr, "esm_load: cannot write %s\n", o_.json_path.c_str());
      return 1;
    }
    return ok ? 0 : 1;
  }

 private:
  bool wants(std::string_view phase) const {
    return ("," + o_.phases + ",").find(fmt::format(",{},", phase)) != std::string::npos;
  }

  bool fail(const std::string& what) {
    std::fprintf(stderr, "esm_load: %s\n", what.c_str());
    std::fflush(stderr);
    results_.note("first_error", what);
    return false;
  }

  // ---- requests ----

  std::string kinesis_request(std::string_view op, std::string_view body) const {
    return fmt::format(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\n"
        "X-Amz-Target: Kinesis_20131202.{}\r\nX-Amz-Date: 20260101T000000Z\r\n"
        "Authorization: AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20260101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0000\r\nContent-Length: {}\r\n\r\n{}",
        host_header_, op, body.size(), body);
  }

  std::string lambda_request(std::string_view method, std::string_view path,
                             std::string_view body) const {
    return fmt::format(
        "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n"
        "X-Amz-Date: 20260101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0000\r\nContent-Length: {}\r\n\r\n{}",
        method, path, host_header_, body.size(), body);
  }

  // One call on the control connection; nullopt (after printing why) on an I/O error or a
  // status outside `ok_status`.
  std::optional<Response> call(const std::string& request, std::initializer_list<int> ok_status,
                               std::string_view what) {
    Response r;
    if (auto ec = control_.round_trip(request, r)) {
      fail(fmt::format("{}: {}", what, ec.message()));
      return std::nullopt;
    }
    if (std::find(ok_status.begin(), ok_status.end(), r.status) == ok_status.end()) {
      fail(fmt::format("{}: HTTP {} {}", what, r.status, r.body.substr(0, 300)));
      return std::nullopt;
    }
    return r;
  }

  std::optional<Response> kinesis(std::string_view op, const std::string& body,
                                  std::initializer_list<int> ok_status = {200}) {
    return call(kinesis_request(op, body), ok_status, op);
  }

  std::optional<Response> lambda(std::string_view method, const std::string& path,
                                 const std::string& body, std::initializer_list<int> ok_status) {
    return call(lambda_request(method, path, body), ok_status, fmt::format("{} {}", method, path));
  }

  // ---- streams ----

  // Creates `name` (an existing one is kept) and waits until it is ACTIVE; its ARN, or
  // nullopt.
  std::optional<std::string> ensure_stream(const std::string& name, int shards) {
    Response r;
    const std::string body = fmt::format(R"({{"StreamName":"{}","ShardCount":{}}})", name, shards);
    if (auto ec = control_.round_trip(kinesis_request("CreateStream", body), r)) {
      fail("CreateStream: " + ec.message());
      return std::nullopt;
    }
    if (r.status != 200 && r.body.find("ResourceInUseException") == std::string::npos) {
      fail(fmt::format("CreateStream {}: HTTP {} {}", name, r.status, r.body.substr(0, 300)));
      return std::nullopt;
    }
    const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < give_up) {
      auto d = kinesis("DescribeStreamSummary", fmt::format(R"({{"StreamName":"{}"}})", name));
      if (!d) return std::nullopt;
      if (string_member(d->body, "StreamStatus") == "ACTIVE") {
        return string_member(d->body, "StreamARN");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    fail(fmt::format("stream {} did not become ACTIVE in 30 s", name));
    return std::nullopt;
  }

  std::vector<std::string> shard_ids(const std::string& stream) {
    std::vector<std::string> ids;
    auto r = kinesis("ListShards", fmt::format(R"({{"StreamName":"{}"}})", stream));
    if (!r) return ids;
    size_t at = 0;
    while (auto id = string_member(r->body, "ShardId", at, &at)) ids.push_back(*id);
    return ids;
  }

  bool preload() {
    if (!ensure_stream(o_.stream, o_.shards)) return false;
    if (!ensure_stream(o_.latency_stream, o_.shards)) return false;
    constexpr int kPerRequest = 500;
    const int64_t requests = (o_.records + kPerRequest - 1) / kPerRequest;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> acked{0};
    std::atomic<int64_t> failed{0};
    std::string first_error;
    std::atomic<bool> broken{false};
    const auto start = SteadyClock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < o_.connections; ++t) {
      threads.emplace_back([&, t] {
        asio::io_context io;
        Connection c(io);
        if (auto ec = c.connect(endpoint_)) {
          if (!broken.exchange(true)) first_error = "connect: " + ec.message();
          return;
        }
        std::mt19937_64 rng(static_cast<uint64_t>(t) + 1);
        Response r;
        for (int64_t i = next++; i < requests && !broken; i = next++) {
          const int64_t n = std::min<int64_t>(kPerRequest, o_.records - i * kPerRequest);
          std::string body = fmt::format(R"({{"StreamName":"{}","Records":[)", o_.stream);
          for (int64_t k = 0; k < n; ++k) {
            std::string data(static_cast<size_t>(o_.record_bytes), '\0');
            for (char& ch : data) ch = static_cast<char>('a' + rng() % 26);
            body += fmt::format(R"({}{{"Data":"{}","PartitionKey":"pk-{}"}})", k ? "," : "",
                                b64(data), i * kPerRequest + k);
          }
          body += "]}";
          // A throttled or failed entry is not retried: the count of what is acknowledged is
          // what the later phases expect, and it is checked against --records below.
          if (auto ec = c.round_trip(kinesis_request("PutRecords", body), r)) {
            if (!broken.exchange(true)) first_error = "PutRecords: " + ec.message();
            return;
          }
          if (r.status != 200) {
            if (!broken.exchange(true)) {
              first_error = fmt::format("PutRecords: HTTP {} {}", r.status, r.body.substr(0, 300));
            }
            return;
          }
          const int64_t f = int_member(r.body, "FailedRecordCount").value_or(0);
          failed += f;
          acked += n - f;
        }
      });
    }
    for (auto& th : threads) th.join();
    const double elapsed = seconds_since(start);
    if (broken) return fail(first_error);
    results_.set("preload.records", static_cast<double>(acked.load()));
    results_.set("preload.rate", static_cast<double>(acked.load()) / elapsed);
    std::printf("preload: %lld records of %d bytes in %.2f s (%.0f records/s), %lld failed\n",
                static_cast<long long>(acked.load()), o_.record_bytes, elapsed,
                static_cast<double>(acked.load()) / elapsed, static_cast<long long>(failed.load()));
    std::fflush(stdout);
    if (failed > 0 || acked != o_.records) {
      return fail(fmt::format("preload: {} of {} records acknowledged", acked.load(), o_.records));
    }
    return true;
  }

  // The baseline: GetRecords from TRIM_HORIZON on every shard of --stream until caught up.
  bool drain() {
    const std::vector<std::string> shards = shard_ids(o_.stream);
    if (shards.empty()) return fail("drain: no shards in " + o_.stream);
    std::atomic<int64_t> records{0};
    std::atomic<int64_t> calls{0};
    std::atomic<bool> broken{false};
    std::string first_error;
    const double cpu0 = cpu_seconds_of(o_.server_pid);
    const auto start = SteadyClock::now();
    std::vector<std::thread> threads;
    for (const std::string& shard : shards) {
      threads.emplace_back([&, shard] {
        asio::io_context io;
        Connection c(io);
        Response r;
        auto note = [&](std::string what) {
          if (!broken.exchange(true)) first_error = std::move(what);
        };
        if (auto ec = c.connect(endpoint_)) return note("connect: " + ec.message());
        if (auto ec = c.round_trip(
                kinesis_request(
                    "GetShardIterator",
                    fmt::format(
                        R"({{"StreamName":"{}","ShardId":"{}","ShardIteratorType":"TRIM_HORIZON"}})",
                        o_.stream, shard)),
                r)) {
          return note("GetShardIterator: " + ec.message());
        }
        auto it = string_member(r.body, "ShardIterator");
        while (it && !broken) {
          const std::string req = kinesis_request(
              "GetRecords", fmt::format(R"({{"ShardIterator":"{}","Limit":10000}})", *it));
          if (auto ec = c.round_trip(req, r)) return note("GetRecords: " + ec.message());
          ++calls;
          if (r.status != 200) {
            if (r.body.find("ProvisionedThroughputExceeded") != std::string::npos) continue;
            return note(fmt::format("GetRecords: HTTP {} {}", r.status, r.body.substr(0, 300)));
          }
          const size_t n = count_occurrences(r.body, "\"SequenceNumber\"");
          records += static_cast<int64_t>(n);
          if (n == 0) break;  // caught up
          it = string_member(r.body, "NextShardIterator");
        }
      });
    }
    for (auto& th : threads) th.join();
    const double elapsed = seconds_since(start);
    if (broken) return fail(first_error);
    const double cpu = cpu_seconds_of(o_.server_pid) - cpu0;
    const double rate = static_cast<double>(records.load()) / elapsed;
    results_.set("drain.rate", rate);
    results_.set("drain.records", static_cast<double>(records.load()));
    results_.set("drain.seconds", elapsed);
    results_.set("drain.server_cpu_pct", 100.0 * cpu / elapsed);
    std::printf(
        "drain (GetRecords baseline): %lld records in %.2f s = %.0f records/s over %zu shards, "
        "%lld calls; server CPU %.0f%% of one core\n",
        static_cast<long long>(records.load()), elapsed, rate, shards.size(),
        static_cast<long long>(calls.load()), 100.0 * cpu / elapsed);
    std::fflush(stdout);
    if (records != o_.records) {
      return fail(fmt::format("drain read {} records, expected {}", records.load(), o_.records));
    }
    return true;
  }

  // ---- functions and mappings ----

  std::string function_name(std::string_view what) const {
    return fmt::format("{}-{}", o_.function, what);
  }

  bool create_function(const std::string& name, const std::string& handler,
                       const std::string& zip_b64) {
    if (!lambda("DELETE", fmt::format("/2015-03-31/functions/{}", name), "", {204, 404})) {
      return false;
    }
    const std::string body = fmt::format(
        R"({{"FunctionName":"{}","Runtime":"{}","Handler":"{}",)"
        R"("Role":"arn:aws:iam::000000000000:role/bench","Timeout":60,"MemorySize":1024,)"
        R"("Environment":{{"Variables":{{"BENCH_STAMP_DIR":"{}"}}}},)"
        R"("Code":{{"ZipFile":"{}"}}}})",
        name, o_.runtime, handler, o_.stamp_dir, zip_b64);
    if (!lambda("POST", "/2015-03-31/functions", body, {201})) return false;
    const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < give_up) {
      auto r =
          lambda("GET", fmt::format("/2015-03-31/functions/{}/configuration", name), "", {200});
      if (!r) return false;
      if (r->body.find(R"("State":"Active")") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return fail(name + " did not become Active in 30 s");
  }

  std::optional<std::string> read_zip() {
    std::ifstream f(o_.zip_path, std::ios::binary);
    if (!f) {
      fail("cannot read " + o_.zip_path);
      return std::nullopt;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    return b64(ss.str());
  }

  bool create_functions() {
    if (o_.runtime.empty() || o_.zip_path.empty()) return fail("--runtime and --zip are required");
    const auto zip = read_zip();
    if (!zip) return false;
    if (wants("throughput") && !create_function(function_name("small"), o_.handler_small, *zip)) {
      return false;
    }
    if (wants("latency") && !create_function(function_name("stamp"), o_.handler_stamp, *zip)) {
      return false;
    }
    return true;
  }

  // Creates a mapping; its UUID, or nullopt.
  std::optional<std::string> create_mapping(const std::string& function, const std::string& arn,
                                            std::string_view position, int batch_size) {
    const std::string body =
        fmt::format(R"({{"FunctionName":"{}","EventSourceArn":"{}","StartingPosition":"{}",)"
                    R"("BatchSize":{},"MaximumBatchingWindowInSeconds":0}})",
                    function, arn, position, batch_size);
    auto r = lambda("POST", "/2015-03-31/event-source-mappings/", body, {202});
    if (!r) return std::nullopt;
    auto uuid = string_member(r->body, "UUID");
    if (!uuid) fail("CreateEventSourceMapping answered without a UUID: " + r->body.substr(0, 300));
    return uuid;
  }

  // Waits until the mapping's State is `state` (30 s at most).
  bool wait_state(const std::string& uuid, std::string_view state) {
    const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
    const std::string path = "/2015-03-31/event-source-mappings/" + uuid;
    while (SteadyClock::now() < give_up) {
      auto r = lambda("GET", path, "", {200});
      if (!r) return false;
      if (string_member(r->body, "State") == state) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return fail(fmt::format("mapping {} did not reach {} in 30 s", uuid, state));
  }

  // Deletes the mapping and waits until it is gone (30 s at most).
  bool delete_mapping(const std::string& uuid) {
    const std::string path = "/2015-03-31/event-source-mappings/" + uuid;
    if (!lambda("DELETE", path, "", {202})) return false;
    const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < give_up) {
      auto r = lambda("GET", path, "", {200, 404});
      if (!r) return false;
      if (r->status == 404) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return fail("mapping " + uuid + " was not deleted in 30 s");
  }

  std::optional<MappingCounters> counters(const std::string& uuid) {
    auto r = call(lambda_request("GET", "/metrics", ""), {200}, "GET /metrics");
    if (!r) return std::nullopt;
    MappingCounters c;
    const std::string label = fmt::format("{{mapping=\"{}\"", uuid);
    size_t line_start = 0;
    while (line_start < r->body.size()) {
      size_t line_end = r->body.find('\n', line_start);
      if (line_end == std::string::npos) line_end = r->body.size();
      const std::string_view line(r->body.data() + line_start, line_end - line_start);
      line_start = line_end + 1;
      const size_t at = line.find(label);
      if (line.rfind("sluice_esm_", 0) != 0 || at == std::string_view::npos) continue;
      const std::string_view name = line.substr(11, at - 11);
      const size_t space = line.rfind(' ');
      const int64_t v = std::strtoll(std::string(line.substr(space + 1)).c_str(), nullptr, 10);
      if (name == "records_read_total") c.records_read = v;
      if (name == "batches_total") c.batches = v;
      if (name == "invocations_total") c.invocations = v;
      if (name == "function_errors_total" || name == "invocation_errors_total" ||
          name == "discarded_records_total") {
        c.errors += v;
      }
    }
    return c;
  }

  bool throughput(int batch_size) {
    const std::string key = fmt::format("tp.b{}", batch_size);
    const auto arn = ensure_stream(o_.stream, o_.shards);
    if (!arn) return false;
    const double cpu0 = cpu_seconds_of(o_.server_pid);
    const auto start = SteadyClock::now();
    const auto uuid = create_mapping(function_name("small"), *arn, "TRIM_HORIZON", batch_size);
    if (!uuid) return false;
    MappingCounters c;
    bool done = false;
    while (seconds_since(start) < o_.max_seconds) {
      const auto got = counters(*uuid);
      if (!got) return false;
      c = *got;
      if (c.errors > 0) break;
      if (c.records_read >= o_.records && c.invocations == c.batches) {
        done = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double elapsed = seconds_since(start);
    const double cpu = cpu_seconds_of(o_.server_pid) - cpu0;
    // Unfinished: what is surely done (whole batches of B while there is a backlog).
    const int64_t records_done =
        done ? c.records_read : std::min(c.records_read, c.batches * batch_size);
    const double rate = static_cast<double>(records_done) / elapsed;
    results_.set(key + ".rate", rate);
    results_.set(key + ".records", static_cast<double>(records_done));
    results_.set(key + ".seconds", elapsed);
    results_.set(key + ".finished", done ? 1 : 0);
    results_.set(key + ".invocations", static_cast<double>(c.invocations));
    results_.set(key + ".errors", static_cast<double>(c.errors));
    results_.set(key + ".server_cpu_pct", 100.0 * cpu / elapsed);
    std::printf(
        "%s throughput, BatchSize %d: %.0f records/s (%lld records in %.2f s, %lld invocations, "
        "mean batch %.0f, %s; server CPU %.0f%% of one core)\n",
        o_.label.c_str(), batch_size, rate, static_cast<long long>(records_done), elapsed,
        static_cast<long long>(c.invocations),
        c.invocations ? static_cast<double>(c.records_read) / static_cast<double>(c.invocations)
                      : 0.0,
        done ? "all done" : "NOT finished", 100.0 * cpu / elapsed);
    std::fflush(stdout);
    const bool deleted = delete_mapping(*uuid);
    if (c.errors > 0)
      return fail(fmt::format("{}: {} errors in the mapping's counters", key, c.errors));
    return deleted;
  }

  // "<unix ns> <key>" lines of the stamp file of `function`, by key (first stamp wins).
  std::unordered_map<std::string, int64_t> read_stamps(const std::string& function) const {
    std::unordered_map<std::string, int64_t> out;
    std::ifstream in(fmt::format("{}/{}.stamps", o_.stamp_dir, function));
    int64_t ns = 0;
    std::string k;
    while (in >> ns >> k) out.emplace(k, ns);
    return out;
  }

  bool latency() {
    if (o_.stamp_dir.empty()) return fail("--stamp-dir is required for the latency phase");
    const std::string fn = function_name("stamp");
    const auto arn = ensure_stream(o_.latency_stream, o_.shards);
    if (!arn) return false;
    const auto uuid = create_mapping(fn, *arn, "LATEST", 100);
    if (!uuid || !wait_state(*uuid, "Enabled")) return false;
    auto put = [&](const std::string& partition_key) {
      return kinesis("PutRecord",
                     fmt::format(R"({{"StreamName":"{}","Data":"{}","PartitionKey":"{}"}})",
                                 o_.latency_stream, b64("esm latency probe"), partition_key));
    };
    // Warm-up: until a record reaches the handler (cold start, LATEST resolved), then 50 more.
    bool warm = false;
    for (int i = 0; i < 200 && !warm; ++i) {
      if (!put(fmt::format("warm-{}", i))) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      warm = !read_stamps(fn).empty();
    }
    if (!warm) return fail("latency: no warm-up record reached the handler in 10 s");
    for (int i = 0; i < 50; ++i) {
      if (!put(fmt::format("warm2-{}", i))) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::vector<int64_t> sent_ns(static_cast<size_t>(o_.latency_count));
    std::vector<int64_t> acked_ns(static_cast<size_t>(o_.latency_count));
    const auto interval = std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(1.0 / o_.latency_rate));
    auto next = SteadyClock::now();
    for (int i = 0; i < o_.latency_count; ++i) {
      std::this_thread::sleep_until(next);
      next += interval;
      sent_ns[static_cast<size_t>(i)] = unix_ns();
      if (!put(fmt::format("lat-{}", i))) return false;
      acked_ns[static_cast<size_t>(i)] = unix_ns();
    }
    std::unordered_map<std::string, int64_t> stamps;
    const auto give_up = SteadyClock::now() + std::chrono::seconds(5);
    for (;;) {
      stamps = read_stamps(fn);
      size_t seen = 0;
      for (int i = 0; i < o_.latency_count; ++i) seen += stamps.count(fmt::format("lat-{}", i));
      if (seen == static_cast<size_t>(o_.latency_count) || SteadyClock::now() > give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::vector<double> from_send_ms;
    std::vector<double> from_ack_ms;
    std::vector<double> put_ms;
    for (int i = 0; i < o_.latency_count; ++i) {
      const auto it = stamps.find(fmt::format("lat-{}", i));
      const auto at = static_cast<size_t>(i);
      put_ms.push_back(static_cast<double>(acked_ns[at] - sent_ns[at]) / 1e6);
      if (it == stamps.end()) continue;
      from_send_ms.push_back(static_cast<double>(it->second - sent_ns[at]) / 1e6);
      from_ack_ms.push_back(static_cast<double>(it->second - acked_ns[at]) / 1e6);
    }
    const Summary s = summarize(from_send_ms);
    const Summary a = summarize(from_ack_ms);
    const Summary p = summarize(put_ms);
    results_.set("lat.sent", o_.latency_count);
    results_.set("lat.seen", static_cast<double>(s.count));
    results_.set("lat.p50_ms", s.p50);
    results_.set("lat.p99_ms", s.p99);
    results_.set("lat.max_ms", s.max);
    results_.set("lat.ack.p50_ms", a.p50);
    results_.set("lat.ack.p99_ms", a.p99);
    results_.set("lat.put.p50_ms", p.p50);
    results_.set("lat.put.p99_ms", p.p99);
    std::printf(
        "%s put-to-handler: p50 %.2f p99 %.2f max %.2f ms from PutRecord sent (ack-to-handler "
        "p50 %.2f p99 %.2f ms; PutRecord itself p50 %.2f p99 %.2f ms), %zu of %d records at "
        "%.0f/s\n",
        o_.label.c_str(), s.p50, s.p99, s.max, a.p50, a.p99, p.p50, p.p99, s.count,
        o_.latency_count, o_.latency_rate);
    std::fflush(stdout);
    const bool deleted = delete_mapping(*uuid);
    if (s.count != static_cast<size_t>(o_.latency_count)) {
      return fail(
          fmt::format("latency: {} of {} records reached the handler", s.count, o_.latency_count));
    }
    return deleted;
  }

  // ---- memory ----

  // Creates one LATEST mapping per function on `arn`, waits until all are Enabled, lets the
  // readers settle (2.5 idle polls) and returns the server's VmRSS; -1 on failure.
  long mappings_rss(const std::vector<std::string>& functions, const std::string& arn) {
    std::vector<std::string> uuids;
    for (const std::string& f : functions) {
      auto uuid = create_mapping(f, arn, "LATEST", 100);
      if (!uuid) return -1;
      uuids.push_back(*uuid);
    }
    for (const std::string& u : uuids) {
      if (!wait_state(u, "Enabled")) return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    return rss_kib(o_.server_pid);
  }

  bool memory() {
    if (o_.server_pid <= 0) return fail("--server-pid is required for the memory phase");
    if (o_.runtime.empty() || o_.zip_path.empty()) return fail("--runtime and --zip are required");
    const auto zip = read_zip();
    if (!zip) return false;
    const auto one = ensure_stream(o_.stream + "-mem1", 1);
    const auto many =
        ensure_stream(o_.stream + "-mem" + std::to_string(o_.mem_shards), o_.mem_shards);
    if (!one || !many) return false;
    std::vector<std::string> functions;
    for (int i = 0; i < o_.mem_mappings; ++i) {
      functions.push_back(function_name(fmt::format("mem{}", i)));
      if (!create_function(functions.back(), o_.handler_small, *zip)) return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const long r0 = rss_kib(o_.server_pid);
    const long r1 = mappings_rss(functions, *one);
    if (r1 < 0) return false;
    const long r2 = mappings_rss(functions, *many);
    if (r2 < 0) return false;
    const double k = o_.mem_mappings;
    const double per_mapping = static_cast<double>(r1 - r0) / k;
    const double per_pair = static_cast<double>(r2 - r1) / (k * o_.mem_shards);
    const double per_extra_shard =
        (static_cast<double>(r2 - r1) / k - per_mapping) / (o_.mem_shards - 1);
    results_.set("mem.mappings", k);
    results_.set("mem.shards", o_.mem_shards);
    results_.set("mem.rss0_kib", static_cast<double>(r0));
    results_.set("mem.rss1_kib", static_cast<double>(r1));
    results_.set("mem.rss2_kib", static_cast<double>(r2));
    results_.set("mem.per_mapping_kib", per_mapping);
    results_.set("mem.per_pair_kib", per_pair);
    results_.set("mem.per_extra_shard_kib", per_extra_shard);
    std::printf(
        "memory: VmRSS %ld KiB with %d functions and no mappings, %ld with a mapping each on a "
        "1-shard stream, %ld with one more each on a %d-shard stream: %.1f KiB per mapping "
        "(1 shard), %.1f KiB per idle shard-mapping pair (%d-shard stream), %.1f KiB per "
        "further shard\n",
        r0, o_.mem_mappings, r1, r2, o_.mem_shards, per_mapping, per_pair, o_.mem_shards,
        per_extra_shard);
    std::fflush(stdout);
    return true;
  }

  Options o_;
  std::string host_header_;
  tcp::endpoint endpoint_;
  asio::io_context io_;
  Connection control_;
  Results results_;
};

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  CLI::App app{"Event source mapping benchmark driver for bench/run-esm.sh"};
  Options o;
  // A flag given twice takes its last value, so that flags passed through bench/run-esm.sh
  // override the ones the script sets.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--host", o.host, "Sluice's address (numeric)")->capture_default_str();
  app.add_option("--port", o.port, "Sluice's port (Kinesis and Lambda)")->capture_default_str();
  app.add_option("--phases", o.phases, "preload,drain,throughput,latency,memory")
      ->capture_default_str();
  app.add_option("--label", o.label, "Name of this configuration in the output")
      ->capture_default_str();
  app.add_option("--runtime", o.runtime, "Runtime of the functions");
  app.add_option("--handler-small", o.handler_small, "Do-nothing handler (throughput, memory)");
  app.add_option("--handler-stamp", o.handler_stamp, "Time-stamping handler (latency)");
  app.add_option("--zip", o.zip_path, "The functions' code (a zip file)");
  app.add_option("--function", o.function, "Functions are named FUNCTION-small, -stamp, -memN")
      ->capture_default_str();
  app.add_option("--stream", o.stream, "Stream of the preload, drain and throughput phases")
      ->capture_default_str();
  app.add_option("--latency-stream", o.latency_stream, "Stream of the latency phase")
      ->capture_default_str();
  app.add_option("--shards", o.shards, "Shards of both streams")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--records", o.records, "Records preloaded into --stream (and expected there)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--record-bytes", o.record_bytes, "Bytes of data per record")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--connections", o.connections, "Connections of the preload")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch-sizes", o.batch_sizes, "BatchSize of each throughput run")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--max-seconds", o.max_seconds, "Give up one throughput run after this")
      ->capture_default_str();
  app.add_option("--latency-count", o.latency_count, "Records timed in the latency phase")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--latency-rate", o.latency_rate, "PutRecord per second in the latency phase")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--stamp-dir", o.stamp_dir, "BENCH_STAMP_DIR of the stamp handler");
  app.add_option("--server-pid", o.server_pid, "The server's pid: CPU time and VmRSS");
  app.add_option("--mem-mappings", o.mem_mappings, "Functions (and mappings) of the memory phase")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--mem-shards", o.mem_shards, "Shards of the memory phase's second stream")
      ->check(CLI::Range(2, 500))
      ->capture_default_str();
  app.add_option("--json", o.json_path, "Also write the results as one JSON object here");
  CLI11_PARSE(app, argc, argv);
  EsmBench bench(o);
  return bench.run();
}
