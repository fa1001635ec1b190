// Append and read throughput of storage::Log on the real disk, next to what the disk itself
// allows: the same bytes written with pwrite in the same group sizes, with an fdatasync per
// group (fsync always|group) or without (never). Run through bench/run.sh; the results and
// how to read them are in docs/performance.md.
//
// A driver program rather than Google Benchmark, because group commit is a property of a
// steady concurrent load, not of one call: every configuration runs N appender threads against
// one Log for a fixed time, all released by one latch and stopped by one flag, so the queue is
// as full at the end of a run as in its middle (Benchmark's ->Threads(n) gives each thread a
// fixed iteration count, so the last stragglers commit alone). The raw baseline then replays
// the group sizes that the Log's run produced, which a counting FileSystem observed; and peak
// RSS is taken in a child process of its own, since ru_maxrss only ever rises.

#include "base/checksum.h"
#include "base/clock.h"
#include "base/file.h"
#include "storage/batch_format.h"
#include "storage/log.h"
#include "storage/segment_index.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <latch>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace sluice::bench {
namespace {

using storage::FsyncPolicy;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kKeyBytes = 8;  // every record gets an 8-character partition key
constexpr double kMB = 1e6;      // MB/s in the tables are 10^6 bytes per second

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Resident set size now, from /proc/self/statm (ru_maxrss only gives the peak).
long rss_kb_now() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long total = 0;
  long resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &total, &resident);
  std::fclose(f);
  return n == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "log_append_bench: %s\n", what.c_str());
  std::exit(1);
}

void check(const Status& s, std::string_view what) {
  if (!s.ok()) die(fmt::format("{}: {}", what, s.to_string()));
}

// ---- a FileSystem that counts what the Log asks of the disk ----

// What the Log did to the disk. Segment files are the `.log` files; the write at position 0
// is a new segment's header, every other write is one group commit.
struct IoCounters {
  std::atomic<uint64_t> group_writes{0};
  std::atomic<uint64_t> group_write_bytes{0};
  std::atomic<uint64_t> segment_syncs{0};  // group commits, rolls, new segment headers
  std::atomic<uint64_t> segment_sync_ns{0};
  // Segment syncs with no group write since the previous one: rolls and new segments (under
  // fsync=never every segment sync is one of those).
  std::atomic<uint64_t> extra_syncs{0};
  std::atomic<uint64_t> extra_sync_ns{0};
  std::atomic<uint64_t> segments_created{0};
  std::atomic<uint64_t> other_syncs{0};  // index files and directories
  std::atomic<uint64_t> preads{0};
  std::atomic<uint64_t> pread_bytes{0};

  void reset() {
    for (auto* c :
         {&group_writes, &group_write_bytes, &segment_syncs, &segment_sync_ns, &extra_syncs,
          &extra_sync_ns, &segments_created, &other_syncs, &preads, &pread_bytes}) {
      c->store(0);
    }
  }
};

class CountingFile final : public File {
 public:
  CountingFile(std::unique_ptr<File> file, IoCounters* io)
      : file_(std::move(file)), io_(io), is_segment_(file_->path().ends_with(".log")) {}

  Result<size_t> pread(uint64_t pos, std::span<std::byte> out) const override {
    auto n = file_->pread(pos, out);
    if (n.ok()) {
      io_->preads.fetch_add(1, std::memory_order_relaxed);
      io_->pread_bytes.fetch_add(*n, std::memory_order_relaxed);
    }
    return n;
  }
  Status pwritev(uint64_t pos, std::span<const ByteView> parts) override {
    if (is_segment_ && pos > 0) {
      size_t bytes = 0;
      for (ByteView p : parts) bytes += p.size();
      io_->group_writes.fetch_add(1, std::memory_order_relaxed);
      io_->group_write_bytes.fetch_add(bytes, std::memory_order_relaxed);
      wrote_since_sync_ = true;
    } else if (is_segment_) {
      io_->segments_created.fetch_add(1, std::memory_order_relaxed);
    }
    return file_->pwritev(pos, parts);
  }
  Status sync() override {
    const auto t0 = SteadyClock::now();
    Status s = file_->sync();
    if (is_segment_) {
      const auto ns =
          static_cast<uint64_t>(std::chrono::nanoseconds(SteadyClock::now() - t0).count());
      io_->segment_syncs.fetch_add(1, std::memory_order_relaxed);
      io_->segment_sync_ns.fetch_add(ns, std::memory_order_relaxed);
      if (!wrote_since_sync_) {
        io_->extra_syncs.fetch_add(1, std::memory_order_relaxed);
        io_->extra_sync_ns.fetch_add(ns, std::memory_order_relaxed);
      }
      wrote_since_sync_ = false;
    } else {
      io_->other_syncs.fetch_add(1, std::memory_order_relaxed);
    }
    return s;
  }
  Status truncate(uint64_t size) override { return file_->truncate(size); }
  Result<uint64_t> size() const override { return file_->size(); }
  const std::string& path() const override { return file_->path(); }

 private:
  const std::unique_ptr<File> file_;
  IoCounters* const io_;
  const bool is_segment_;
  bool wrote_since_sync_ = false;  // pwritev() and sync() come from one writer at a time
};

// Forwards to `base`, wrapping every file it opens in a CountingFile. Both must outlive it.
class CountingFileSystem final : public FileSystem {
 public:
  CountingFileSystem(FileSystem* base, IoCounters* io) : base_(base), io_(io) {}

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    SLUICE_ASSIGN_OR_RETURN(auto file, base_->open(path, mode));
    return std::unique_ptr<File>(std::make_unique<CountingFile>(std::move(file), io_));
  }
  Status create_dirs(const std::string& path) override { return base_->create_dirs(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return base_->list_dir(path);
  }
  Status remove_file(const std::string& path) override { return base_->remove_file(path); }
  Status remove_all(const std::string& path) override { return base_->remove_all(path); }
  Status rename(const std::string& from, const std::string& to) override {
    return base_->rename(from, to);
  }
  Status sync_dir(const std::string& path) override {
    io_->other_syncs.fetch_add(1, std::memory_order_relaxed);
    return base_->sync_dir(path);
  }
  bool exists(const std::string& path) override { return base_->exists(path); }

 private:
  FileSystem* const base_;
  IoCounters* const io_;
};

// Empties the bench directory and flushes the file system, so that dirty pages of one run
// (fsync=never writes hundreds of MB) are not written back during the next one.
void clean_dir(const std::string& dir) {
  check(FileSystem::posix()->remove_all(dir), "clean " + dir);
  check(FileSystem::posix()->create_dirs(dir), "create " + dir);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

// Payload bytes that do not repeat in any obvious way (nothing compresses them anyway).
void fill_pseudo_random(std::span<std::byte> out, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::byte& b : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = std::byte(x);
  }
}

// ---- appends through the Log ----

struct AppendConfig {
  FsyncPolicy policy = FsyncPolicy::kGroup;
  int threads = 1;
  int batch = 1;  // records per append() call
  size_t payload_bytes = 100;
  double seconds = 2;
  bool record_latency = true;  // durable policies only; off where the bench's memory counts
};

struct AppendOutcome {
  uint64_t appends = 0;
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  uint64_t group_writes = 0;       // one per group commit
  uint64_t group_write_bytes = 0;  // encoded bytes the Log wrote
  uint64_t segment_syncs = 0;
  double segment_sync_seconds = 0;
  uint64_t extra_syncs = 0;  // not a group commit's own fdatasync: rolls, new segments
  double extra_sync_seconds = 0;
  uint64_t segments_created = 0;
  std::vector<uint32_t> latency_ns;  // of each append; measured for durable policies only

  // Adds the counts of another run of the same configuration.
  void add(const AppendOutcome& o) {
    appends += o.appends;
    records += o.records;
    payload_bytes += o.payload_bytes;
    seconds += o.seconds;
    cpu_seconds += o.cpu_seconds;
    group_writes += o.group_writes;
    group_write_bytes += o.group_write_bytes;
    segment_syncs += o.segment_syncs;
    segment_sync_seconds += o.segment_sync_seconds;
    extra_syncs += o.extra_syncs;
    extra_sync_seconds += o.extra_sync_seconds;
    segments_created += o.segments_created;
    latency_ns.insert(latency_ns.end(), o.latency_ns.begin(), o.latency_ns.end());
  }
  // Mean time of a group commit's own fdatasync.
  double group_sync_us() const {
    const uint64_t n = segment_syncs - extra_syncs;
    return n ? (segment_sync_seconds - extra_sync_seconds) * 1e6 / static_cast<double>(n) : 0;
  }
  // Append latency at quantile q, in microseconds; 0 without samples.
  double latency_us(double q) {
    if (latency_ns.empty()) return 0;
    const auto k = static_cast<size_t>(q * static_cast<double>(latency_ns.size() - 1));
    std::nth_element(latency_ns.begin(), latency_ns.begin() + static_cast<ptrdiff_t>(k),
                     latency_ns.end());
    return latency_ns[k] / 1e3;
  }

  double appends_per_group() const {
    return group_writes ? static_cast<double>(appends) / static_cast<double>(group_writes) : 0;
  }
  double bytes_per_group() const {
    return group_writes ? static_cast<double>(group_write_bytes) / static_cast<double>(group_writes)
                        : 0;
  }
  double bytes_per_record() const {
    return records ? static_cast<double>(group_write_bytes) / static_cast<double>(records) : 0;
  }
};

// `threads` appenders on one Log in `dir` for `seconds`. `on_tick(elapsed)` runs on the
// calling thread about every 100 ms while they run.
AppendOutcome run_append(const std::string& dir, const AppendConfig& cfg,
                         const std::function<void(double)>& on_tick = {}) {
  clean_dir(dir);
  IoCounters io;
  CountingFileSystem fs(FileSystem::posix(), &io);
  storage::LogOptions options;
  options.fsync = cfg.policy;
  auto log = storage::Log::open(&fs, dir + "/log", options, SystemClock::instance());
  check(log.status(), "open log");
  io.reset();

  const bool timed = cfg.policy != FsyncPolicy::kNever && cfg.record_latency;
  std::atomic<bool> stop{false};
  std::latch start(cfg.threads + 1);
  struct PerThread {
    uint64_t appends = 0;
    std::vector<uint32_t> latency_ns;
    Status error;
  };
  std::vector<PerThread> per(static_cast<size_t>(cfg.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < cfg.threads; ++t) {
    threads.emplace_back([&, t] {
      PerThread& me = per[static_cast<size_t>(t)];
      const auto n = static_cast<size_t>(cfg.batch);
      std::vector<std::byte> payloads(n * cfg.payload_bytes);
      fill_pseudo_random(payloads, static_cast<uint64_t>(t) + 1);
      std::vector<std::string> keys;
      std::vector<storage::RecordIn> records(n);
      for (size_t i = 0; i < n; ++i) keys.push_back(fmt::format("{:08x}", t * 100000 + i));
      for (size_t i = 0; i < n; ++i) {
        records[i].payload = ByteView(payloads.data() + i * cfg.payload_bytes, cfg.payload_bytes);
        records[i].partition_key = keys[i];
      }
      if (timed) me.latency_ns.reserve(1 << 16);
      const Clock* clock = SystemClock::instance();
      start.arrive_and_wait();
      while (!stop.load(std::memory_order_relaxed)) {
        const int64_t now_ms = clock->now_ms();  // as a server stamps arrival per request
        for (auto& r : records) r.arrival_ms = now_ms;
        const auto t0 = timed ? SteadyClock::now() : SteadyClock::time_point{};
        auto result = log.value()->append(records);
        if (!result.ok()) {
          me.error = result.status();
          return;
        }
        if (timed) {
          me.latency_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(
              std::chrono::nanoseconds(SteadyClock::now() - t0).count(), UINT32_MAX)));
        }
        ++me.appends;
      }
    });
  }
  const double cpu0 = cpu_seconds();
  start.arrive_and_wait();
  const auto t0 = SteadyClock::now();
  for (double elapsed = 0; elapsed < cfg.seconds; elapsed = seconds_since(t0)) {
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::min(0.1, cfg.seconds - elapsed)));
    if (on_tick) on_tick(seconds_since(t0));
  }
  stop = true;
  for (auto& th : threads) th.join();

  AppendOutcome out;
  out.seconds = seconds_since(t0);  // every append started before the stop is counted
  out.cpu_seconds = cpu_seconds() - cpu0;
  for (const PerThread& p : per) {
    check(p.error, "append");
    out.appends += p.appends;
    out.latency_ns.insert(out.latency_ns.end(), p.latency_ns.begin(), p.latency_ns.end());
  }
  out.records = out.appends * static_cast<uint64_t>(cfg.batch);
  out.payload_bytes = out.records * cfg.payload_bytes;
  out.group_writes = io.group_writes;
  out.group_write_bytes = io.group_write_bytes;
  out.segment_syncs = io.segment_syncs;
  out.segment_sync_seconds = static_cast<double>(io.segment_sync_ns) / 1e9;
  if (cfg.policy == FsyncPolicy::kNever) {
    out.extra_syncs = out.segment_syncs;
    out.extra_sync_seconds = out.segment_sync_seconds;
  } else {
    out.extra_syncs = io.extra_syncs;
    out.extra_sync_seconds = static_cast<double>(io.extra_sync_ns) / 1e9;
  }
  out.segments_created = io.segments_created;
  check(log.value()->close(), "close log");
  return out;
}

// ---- the raw limit: pwrite straight on a file descriptor ----

struct RawOutcome {
  uint64_t writes = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  double sync_seconds = 0;

  void add(const RawOutcome& o) {
    writes += o.writes;
    bytes += o.bytes;
    seconds += o.seconds;
    sync_seconds += o.sync_seconds;
  }
};

// Sequential pwrite of `bytes_per_write` bytes at a time to a new file, each followed by
// fdatasync when `sync`, for `seconds`: what the disk allows at that group size.
RawOutcome run_raw(const std::string& dir, size_t bytes_per_write, bool sync, double seconds) {
  clean_dir(dir);
  const std::string path = dir + "/raw.dat";
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) die("open " + path);
  std::vector<std::byte> buf(std::max<size_t>(bytes_per_write, 1));
  fill_pseudo_random(buf, 42);
  RawOutcome out;
  uint64_t pos = 0;
  const auto t0 = SteadyClock::now();
  do {
    size_t done = 0;
    while (done < buf.size()) {
      const ssize_t n =
          ::pwrite(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(pos + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) die("pwrite " + path);
      done += static_cast<size_t>(n);
    }
    pos += buf.size();
    if (sync) {
      const auto s0 = SteadyClock::now();
      if (::fdatasync(fd) != 0) die("fdatasync " + path);
      out.sync_seconds += seconds_since(s0);
    }
    ++out.writes;
  } while (seconds_since(t0) < seconds);
  out.seconds = seconds_since(t0);
  out.bytes = pos;
  ::close(fd);
  ::unlink(path.c_str());
  return out;
}

// ---- reading the whole log back ----

struct ReadOutcome {
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t calls = 0;
  uint64_t pread_bytes = 0;
  uint64_t log_bytes = 0;
  double seconds = 0;
};

ReadOutcome read_whole_log(const storage::Log& log, IoCounters& io) {
  io.reset();
  ReadOutcome out;
  const storage::ReadLimits limits{.max_records = 10000, .max_bytes = 10 * 1024 * 1024};
  storage::Offset from = log.start_offset();
  const storage::Offset end = log.end_offset();
  uint8_t sink = 0;
  const auto t0 = SteadyClock::now();
  while (from < end) {
    auto r = log.read(from, limits);
    check(r.status(), "read");
    ++out.calls;
    if (r->records.empty()) die("read returned nothing before the end of the log");
    if (r->records.front().offset != from) die("read did not continue where it left off");
    for (const storage::RecordView& rec : r->records) {
      out.payload_bytes += rec.payload.size();
      sink ^= static_cast<uint8_t>(rec.payload[0]);  // a consumer looks at the bytes
    }
    out.records += r->records.size();
    from = r->next_offset;
  }
  out.seconds = seconds_since(t0);
  out.pread_bytes = io.pread_bytes;
  if (sink == 0x5a && out.records == 0) std::puts("");  // keep `sink` alive
  return out;
}

// Drops the segment files of `dir` from the page cache (they are clean: the log was synced).
void evict_from_page_cache(const std::string& dir) {
  auto names = FileSystem::posix()->list_dir(dir);
  check(names.status(), "list " + dir);
  for (const std::string& name : *names) {
    const std::string path = dir + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

// ---- peak RSS, in a child process ----

struct RssOutcome {
  long rss_kb_at_1s = 0;   // resident size one second into the run
  long rss_kb_at_end = 0;  // ... and at its end
  long hwm_kb = 0;         // VmHWM: the peak of the child's own address space since exec
  long maxrss_kb = 0;      // ru_maxrss of the child: also counts the parent's RSS at fork
  double records_per_s = 0;
  double mb_per_s = 0;
  double log_mb = 0;  // encoded bytes appended, MB
};

// Runs `self --child-rss ...` and collects what it prints and its rusage.
RssOutcome run_rss_child(const std::string& self, const std::string& dir, const AppendConfig& cfg) {
  int fds[2];
  if (::pipe(fds) != 0) die("pipe");
  const std::vector<std::string> args = {
      self,        "--child-rss",
      "--dir",     dir,
      "--policy",  std::string(storage::fsync_policy_name(cfg.policy)),
      "--threads", std::to_string(cfg.threads),
      "--batch",   std::to_string(cfg.batch),
      "--payload", std::to_string(cfg.payload_bytes),
      "--seconds", std::to_string(cfg.seconds)};
  const pid_t pid = ::fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  rusage ru{};
  if (::wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    die("rss child failed: " + text);
  }
  RssOutcome out;
  out.maxrss_kb = ru.ru_maxrss;
  if (std::sscanf(text.c_str(),
                  "rss_kb_at_1s=%ld rss_kb_at_end=%ld hwm_kb=%ld records_per_s=%lf mb_per_s=%lf "
                  "log_mb=%lf",
                  &out.rss_kb_at_1s, &out.rss_kb_at_end, &out.hwm_kb, &out.records_per_s,
                  &out.mb_per_s, &out.log_mb) != 6) {
    die("rss child printed: " + text);
  }
  return out;
}

// VmHWM of /proc/self/status: peak resident size of this address space (reset by exec).
long hwm_kb_now() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb;
}

int child_rss_main(const std::string& dir, AppendConfig cfg) {
  cfg.record_latency = false;  // the latency samples would be the bench's memory, not Sluice's
  long at_1s = rss_kb_now();
  long at_end = at_1s;
  AppendOutcome r = run_append(dir, cfg, [&](double elapsed) {
    if (elapsed < 1.05) at_1s = rss_kb_now();
    at_end = rss_kb_now();
  });
  const long hwm = hwm_kb_now();
  clean_dir(dir);
  std::printf(
      "rss_kb_at_1s=%ld rss_kb_at_end=%ld hwm_kb=%ld records_per_s=%f mb_per_s=%f "
      "log_mb=%f\n",
      at_1s, at_end, hwm, static_cast<double>(r.records) / r.seconds,
      static_cast<double>(r.payload_bytes) / r.seconds / kMB,
      static_cast<double>(r.group_write_bytes) / kMB);
  return 0;
}

int one_run_main(const std::string& dir, const AppendConfig& cfg) {
  AppendOutcome r = run_append(dir, cfg);
  clean_dir(dir);
  std::printf(
      "fsync=%s threads=%d batch=%d payload=%zu: %.0f records/s, %.1f MB/s, "
      "%.1f appends/write, CPU %.0f %%, p50 %.0f us, p99 %.0f us\n",
      std::string(storage::fsync_policy_name(cfg.policy)).c_str(), cfg.threads, cfg.batch,
      cfg.payload_bytes, static_cast<double>(r.records) / r.seconds,
      static_cast<double>(r.payload_bytes) / r.seconds / kMB, r.appends_per_group(),
      100 * r.cpu_seconds / r.seconds, r.latency_us(0.5), r.latency_us(0.99));
  return 0;
}

// ---- the suite ----

std::string policy_name(FsyncPolicy p) { return std::string(storage::fsync_policy_name(p)); }

std::string si(double v) {
  if (v >= 1e6) return fmt::format("{:.2f} M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f} k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

std::string loadavg() {
  FILE* f = std::fopen("/proc/loadavg", "r");  // size 0 to stat(): read_file() sees nothing
  if (f == nullptr) return "?";
  char buf[128] = {};
  const bool got = std::fgets(buf, sizeof buf, f) != nullptr;
  std::fclose(f);
  std::string s = got ? buf : "?";
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

struct Options {
  std::string dir;
  std::string sections = "always,group,never,read,anatomy,rss";
  double durable_seconds = 2.0;
  double never_seconds = 1.5;
  size_t read_mb = 256;  // encoded size of each log read back
  int slices = 4;        // Sluice/raw alternations per configuration
  double rss_seconds = 4;
  std::string self;
};

void append_section(const Options& o, FsyncPolicy policy, const std::vector<int>& threads,
                    const std::vector<int>& batches, const std::vector<size_t>& sizes) {
  const bool durable = policy != FsyncPolicy::kNever;
  const double seconds = durable ? o.durable_seconds : o.never_seconds;
  const double slice = seconds / o.slices;
  std::printf("\n### fsync=%s (%d x %.2f s of Sluice, each followed by %.2f s of raw)\n\n",
              policy_name(policy).c_str(), o.slices, slice, slice);
  std::printf(
      "| rec B | thr | batch | Sluice rec/s | Sluice MB/s | appends/write | KiB/write | "
      "raw rec/s | raw MB/s | Sluice/raw | fdatasync us Sluice/raw | p50/p99 us | CPU %% | "
      "extra syncs |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::fflush(stdout);
  for (size_t size : sizes) {
    for (int b : batches) {
      for (int t : threads) {
        // Sluice and raw take turns in short slices, so that both see the same disk: its
        // fdatasync latency changes by an order of magnitude with the machine's load.
        AppendOutcome s;
        RawOutcome raw;
        for (int i = 0; i < o.slices; ++i) {
          const AppendOutcome part = run_append(o.dir, AppendConfig{policy, t, b, size, slice});
          // The same bytes in the same group sizes, straight to a file descriptor.
          const auto group_bytes = static_cast<size_t>(part.bytes_per_group() + 0.5);
          raw.add(run_raw(o.dir, group_bytes, durable, slice));
          s.add(part);
        }
        const double s_rps = static_cast<double>(s.records) / s.seconds;
        const double s_mbps = static_cast<double>(s.payload_bytes) / s.seconds / kMB;
        const double raw_rps = static_cast<double>(raw.bytes) / raw.seconds / s.bytes_per_record();
        const double raw_mbps = raw_rps * static_cast<double>(size) / kMB;
        const std::string sync_us =
            durable ? fmt::format("{:.0f} / {:.0f}", s.group_sync_us(),
                                  raw.sync_seconds * 1e6 / static_cast<double>(raw.writes))
                    : "-";
        const std::string latency =
            durable ? fmt::format("{:.0f} / {:.0f}", s.latency_us(0.5), s.latency_us(0.99)) : "-";
        const std::string extra =
            s.extra_syncs ? fmt::format("{} ({:.2f} s)", s.extra_syncs, s.extra_sync_seconds) : "0";
        std::printf(
            "| %zu | %d | %d | %s | %.1f | %.1f | %.1f | %s | %.1f | %.0f %% | %s | %s | "
            "%.0f | %s |\n",
            size, t, b, si(s_rps).c_str(), s_mbps, s.appends_per_group(),
            s.bytes_per_group() / 1024, si(raw_rps).c_str(), raw_mbps, 100 * s_rps / raw_rps,
            sync_us.c_str(), latency.c_str(), 100 * s.cpu_seconds / s.seconds, extra.c_str());
        std::fflush(stdout);
      }
    }
  }
}

void read_section(const Options& o) {
  std::printf(
      "\n### sequential read of the whole log (ReadLimits 10000 records / 10 MiB per call)\n\n"
      "| rec B | records | cache | rec/s | MB/s | calls | bytes pread / log bytes |\n"
      "|---:|---:|---|---:|---:|---:|---:|\n");
  std::fflush(stdout);
  for (size_t size : {size_t{100}, size_t{1024}}) {
    clean_dir(o.dir);
    IoCounters io;
    CountingFileSystem fs(FileSystem::posix(), &io);
    storage::LogOptions options;
    options.fsync = FsyncPolicy::kNever;
    const std::string dir = o.dir + "/log";
    auto log = storage::Log::open(&fs, dir, options, SystemClock::instance());
    check(log.status(), "open log");
    // Fill with appends of 1000 records until the log holds about read_mb MB.
    constexpr size_t kBatch = 1000;
    std::vector<std::byte> payloads(kBatch * size);
    fill_pseudo_random(payloads, 7);
    std::vector<std::string> keys;
    std::vector<storage::RecordIn> records(kBatch);
    for (size_t i = 0; i < kBatch; ++i) {
      keys.push_back(fmt::format("{:08x}", i));
      records[i].payload = ByteView(payloads.data() + i * size, size);
      records[i].partition_key = keys[i];
      records[i].arrival_ms = SystemClock::instance()->now_ms();
    }
    const size_t per_batch = storage::encoded_batch_bytes(records);
    const size_t batches = std::max<size_t>(1, o.read_mb * 1000 * 1000 / per_batch);
    for (size_t i = 0; i < batches; ++i) check(log.value()->append(records).status(), "append");
    check(log.value()->sync(), "sync");
    const uint64_t log_bytes = batches * per_batch;

    for (bool cold : {false, true}) {
      if (cold) evict_from_page_cache(dir);
      ReadOutcome r = read_whole_log(**log, io);
      if (r.records != batches * kBatch) die("read back a different number of records");
      std::printf("| %zu | %s | %s | %s | %.0f | %" PRIu64 " | %.2f |\n", size,
                  si(static_cast<double>(r.records)).c_str(), cold ? "cold" : "hot",
                  si(static_cast<double>(r.records) / r.seconds).c_str(),
                  static_cast<double>(r.payload_bytes) / r.seconds / kMB, r.calls,
                  static_cast<double>(r.pread_bytes) / static_cast<double>(log_bytes));
      std::fflush(stdout);
    }
    check(log.value()->close(), "close");
  }
}

// Mean nanoseconds per call of fn(), called repeatedly for about `seconds`.
template <typename Fn>
double ns_per_call(double seconds, Fn&& fn) {
  uint64_t calls = 0;
  const auto t0 = SteadyClock::now();
  do {
    fn();
    ++calls;
  } while (seconds_since(t0) < seconds);
  return seconds_since(t0) * 1e9 / static_cast<double>(calls);
}

// The CPU cost of one fsync=never append of 1000 records, piece by piece, with the real
// BatchEncoder and PosixFile: encoding (record headers and keys into a buffer, XXH3 over the
// pieces), and writing the encoder's pieces (two iovecs per record) against writing the same
// bytes as one buffer. Writes overwrite a resident 64 MiB region, so no page is allocated:
// what is left is the copy into the page cache.
void anatomy_section(const Options& o) {
  std::printf(
      "\n### anatomy of one fsync=never append of 1000 records (ns per record, one thread)\n\n"
      "| rec B | encode (add+finish) | XXH3 over pieces | XXH3 one buffer | pwritev of the "
      "encoder's pieces | pwrite of the same bytes, one buffer | memcpy into one buffer + "
      "pwrite |\n|---:|---:|---:|---:|---:|---:|---:|\n");
  std::fflush(stdout);
  constexpr size_t kBatch = 1000;
  constexpr uint64_t kRegion = 64 << 20;
  for (size_t size : {size_t{100}, size_t{1024}}) {
    clean_dir(o.dir);
    auto file = FileSystem::posix()->open(o.dir + "/anatomy.dat", OpenMode::kCreate);
    check(file.status(), "open anatomy file");
    {
      std::vector<std::byte> zeros(1 << 20);
      const ByteView part(zeros);
      for (uint64_t pos = 0; pos < kRegion + (4 << 20); pos += zeros.size()) {
        check((*file)->pwritev(pos, std::span(&part, 1)), "prefill");
      }
    }
    std::vector<std::byte> payloads(kBatch * size);
    fill_pseudo_random(payloads, 3);
    std::vector<std::string> keys;
    std::vector<storage::RecordIn> records(kBatch);
    for (size_t i = 0; i < kBatch; ++i) {
      keys.push_back(fmt::format("{:08x}", i));
      records[i].payload = ByteView(payloads.data() + i * size, size);
      records[i].partition_key = keys[i];
      records[i].arrival_ms = 1700000000000;
    }
    storage::BatchEncoder enc;
    const double encode = ns_per_call(0.3, [&] {
      enc.clear();
      enc.add(storage::Offset(0), records);
      (void)enc.finish();
    });
    enc.clear();
    enc.add(storage::Offset(0), records);
    const std::span<const ByteView> parts = enc.finish();
    std::vector<std::byte> flat;
    for (ByteView p : parts) flat.insert(flat.end(), p.begin(), p.end());
    const ByteView flat_part(flat);
    uint64_t sink = 0;
    const double sum_pieces = ns_per_call(0.2, [&] { sink += checksum(parts); });
    const double sum_flat = ns_per_call(0.2, [&] { sink += checksum(flat_part); });
    uint64_t pos = 0;
    auto next_pos = [&] {
      const uint64_t at = pos;
      pos = pos + flat.size() > kRegion ? 0 : pos + flat.size();
      return at;
    };
    const double write_pieces =
        ns_per_call(0.3, [&] { check((*file)->pwritev(next_pos(), parts), "pwritev"); });
    const double write_flat = ns_per_call(
        0.3, [&] { check((*file)->pwritev(next_pos(), std::span(&flat_part, 1)), "pwrite"); });
    std::vector<std::byte> gather(flat.size());
    const double copy_and_write = ns_per_call(0.3, [&] {
      std::byte* out = gather.data();
      for (ByteView p : parts) {
        std::memcpy(out, p.data(), p.size());
        out += p.size();
      }
      const ByteView g(gather);
      check((*file)->pwritev(next_pos(), std::span(&g, 1)), "pwrite");
    });
    const double n = kBatch;
    std::printf("| %zu | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", size, encode / n,
                sum_pieces / n, sum_flat / n, write_pieces / n, write_flat / n, copy_and_write / n);
    if (sink == 42) std::puts("");  // keep the checksums alive
    std::fflush(stdout);
  }
}

void rss_section(const Options& o) {
  constexpr int kThreads = 64;
  constexpr int kBatch = 10;
  constexpr size_t kPayload = 1024;
  std::printf(
      "\n### memory (a child process per run; %d threads x appends of %d x %zu B records, "
      "%.1f s)\n\n"
      "| run | rec/s | MB/s | log written | RSS at 1 s | RSS at end | peak RSS (VmHWM) | "
      "ru_maxrss | sparse index held (est.) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
      kThreads, kBatch, kPayload, o.rss_seconds);
  std::fflush(stdout);
  const RssOutcome base =
      run_rss_child(o.self, o.dir, AppendConfig{FsyncPolicy::kGroup, 0, 1, 1024, 0});
  std::printf(
      "| log opened and closed, no appends | - | - | - | - | - | %.1f MiB | %.1f MiB | - |\n",
      base.hwm_kb / 1024.0, base.maxrss_kb / 1024.0);
  // One sparse index entry (16 bytes, kept in memory for every segment) per batch once
  // index_interval_bytes (4096) have passed since the last: here every batch gets one.
  const double batch_bytes =
      storage::kBatchHeaderSize + kBatch * (storage::kRecordHeaderSize + kKeyBytes + kPayload);
  const double bytes_per_entry = std::max(4096.0, batch_bytes);
  for (FsyncPolicy p : {FsyncPolicy::kGroup, FsyncPolicy::kNever}) {
    const RssOutcome r =
        run_rss_child(o.self, o.dir, AppendConfig{p, kThreads, kBatch, kPayload, o.rss_seconds});
    const double index_mib =
        r.log_mb * kMB / bytes_per_entry * sizeof(storage::IndexEntry) / (1 << 20);
    std::printf(
        "| fsync=%s | %s | %.1f | %.0f MB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | "
        "%.1f MiB |\n",
        policy_name(p).c_str(), si(r.records_per_s).c_str(), r.mb_per_s, r.log_mb,
        r.rss_kb_at_1s / 1024.0, r.rss_kb_at_end / 1024.0, r.hwm_kb / 1024.0, r.maxrss_kb / 1024.0,
        index_mib);
    std::fflush(stdout);
  }
}

bool wants(const Options& o, std::string_view section) {
  return ("," + o.sections + ",").find("," + std::string(section) + ",") != std::string::npos;
}

int suite_main(const Options& o) {
  std::printf("bench dir: %s\nload at start: %s\n", o.dir.c_str(), loadavg().c_str());
  std::printf(
      "rec B = payload bytes per record (plus an 8-byte key and 16 bytes of record header; 48 "
      "bytes of batch header per append). MB = 10^6 payload bytes.\n"
      "appends/write = appends committed by one group write (and one fdatasync unless "
      "fsync=never). raw = pwrite of the same bytes in the same write sizes on one fd, "
      "+ fdatasync per write unless fsync=never.\n");
  std::fflush(stdout);
  const std::vector<size_t> sizes = {100, 1024};
  // First, while this process is small: a child's ru_maxrss includes our RSS at fork.
  if (wants(o, "rss")) rss_section(o);
  if (wants(o, "always")) append_section(o, FsyncPolicy::kAlways, {1, 16}, {1, 10}, sizes);
  if (wants(o, "group")) append_section(o, FsyncPolicy::kGroup, {1, 4, 16, 64}, {1, 10}, sizes);
  if (wants(o, "never")) {
    append_section(o, FsyncPolicy::kNever, {1}, {1, 10, 100, 1000}, sizes);
    append_section(o, FsyncPolicy::kNever, {64}, {10}, sizes);
  }
  if (wants(o, "read")) read_section(o);
  if (wants(o, "anatomy")) anatomy_section(o);
  clean_dir(o.dir);
  std::printf("\nload at end: %s\n", loadavg().c_str());
  return 0;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  CLI::App app{"Append and read throughput of storage::Log beside a raw-disk baseline"};
  Options o;
  bool child_rss = false;
  bool one = false;
  std::string policy = "group";
  AppendConfig child;
  app.add_option("--dir", o.dir, "Scratch directory on the disk to measure (emptied)")->required();
  app.add_option("--sections", o.sections, "Comma-separated: always,group,never,read,anatomy,rss");
  app.add_option("--durable-seconds", o.durable_seconds, "Length of each always/group run");
  app.add_option("--never-seconds", o.never_seconds, "Length of each fsync=never run");
  app.add_option("--read-mb", o.read_mb, "Size of each log read back, in MB");
  app.add_option("--rss-seconds", o.rss_seconds, "Length of each memory run");
  app.add_option("--slices", o.slices, "Sluice/raw alternations per configuration")
      ->check(CLI::PositiveNumber);
  app.add_flag("--child-rss", child_rss, "Internal: one append run for the RSS section");
  app.add_flag("--one", one,
               "Only one Sluice append run, no raw baseline (for profilers): --policy, "
               "--threads, --batch, --payload, --seconds");
  app.add_option("--policy", policy)->check(CLI::IsMember({"always", "group", "never"}));
  app.add_option("--threads", child.threads);
  app.add_option("--batch", child.batch);
  app.add_option("--payload", child.payload_bytes);
  app.add_option("--seconds", child.seconds);
  CLI11_PARSE(app, argc, argv);
  if (!o.dir.empty() && o.dir.front() != '/') {
    o.dir = std::filesystem::absolute(o.dir).string();
  }
  child.policy = *sluice::storage::parse_fsync_policy(policy);
  if (child_rss) return child_rss_main(o.dir, child);
  if (one) return one_run_main(o.dir, child);
  o.self = argv[0];
  return suite_main(o);
}
