// Crash test: a child process (crash_child.cc) appends to a Log on the real disk from
// several threads and is SIGKILLed at a random moment; then the log is reopened here and
// every append the child reported as acknowledged must be there, bit for bit, at the
// offsets it was given, with offsets contiguous from the start and every read clean. The
// next cycle's child recovers the same directory and continues; offsets are never reused.
//
// A process kill loses no page-cache data, so this holds under every fsync policy; power
// loss is the model test's business (log_model_test.cc drops unsynced bytes).
//
// SLUICE_CRASH_CYCLES=<n> sets the cycles under --fsync group (default kDefaultCycles);
// SLUICE_CRASH_SEED=<n> replays a seed. The seed is printed on failure.

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "storage/batch_format.h"
#include "storage/log.h"
#include "tests/storage/crash_records.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <poll.h>
#include <random>
#include <sstream>
#include <string>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifndef SLUICE_CRASH_CHILD
#error "SLUICE_CRASH_CHILD must name the crash_child binary"
#endif

namespace sluice::storage {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kDefaultCycles = 50;
// Start a fresh log once this one holds this much, to bound the verification per cycle.
constexpr uint64_t kMaxLogBytes = 24ull << 20;
const milliseconds kReadyDeadline(30'000);  // the child's start-up, sanitizers included
const milliseconds kExitDeadline(10'000);   // from SIGKILL to EOF and reaped

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

uint64_t test_seed() {
  if (const char* v = std::getenv("SLUICE_CRASH_SEED"); v != nullptr && *v != '\0') {
    return std::strtoull(v, nullptr, 10);
  }
  return std::random_device()();
}

LogOptions child_options(FsyncPolicy policy) {  // as crash_child.cc opens it
  LogOptions options;
  options.fsync = policy;
  options.segment_max_bytes = 64 * 1024;
  options.index_interval_bytes = 4096;
  return options;
}

// True when the newest segment in `dir` ends in something that is not a whole, valid batch:
// the kill tore a write, and recovery has a tail to cut. Read before recovery, for the
// statistics only (recovery itself is what the test checks).
bool newest_segment_has_torn_tail(const std::string& dir) {
  std::filesystem::path newest;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 24 && name.ends_with(".log") && (newest.empty() || e.path() > newest)) {
      newest = e.path();
    }
  }
  if (newest.empty()) return false;
  auto data = read_file(FileSystem::posix(), newest.string());
  if (!data.ok()) return false;
  const ByteView bytes = as_bytes(*data);
  if (bytes.size() < kSegmentHeaderSize) return true;
  size_t pos = kSegmentHeaderSize;
  while (pos < bytes.size()) {
    auto h = decode_batch_header(bytes.subspan(pos), FilePos(pos));
    if (!h.ok() || h->batch_bytes > bytes.size() - pos) return true;
    if (!verify_batch(*h, bytes.subspan(pos, h->batch_bytes), FilePos(pos)).ok()) return true;
    pos += h->batch_bytes;
  }
  return false;
}

struct Ack {
  uint64_t base = 0;
  uint64_t count = 0;
  uint64_t digest = 0;
};

// What one run of the child said before it died.
struct ChildReport {
  bool ready = false;
  uint64_t start = 0;
  uint64_t end = 0;
  std::vector<Ack> acks;
};

// Parses whole lines; a last line without '\n' was cut by the kill and is ignored.
::testing::AssertionResult parse_report(const std::string& out, ChildReport* report) {
  size_t pos = 0;
  while (true) {
    const size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) break;
    std::istringstream line(out.substr(pos, nl - pos));
    pos = nl + 1;
    std::string kind;
    line >> kind;
    if (kind == "ready") {
      line >> report->start >> report->end;
      report->ready = !line.fail();
    } else if (kind == "ack") {
      Ack a;
      line >> a.base >> a.count >> std::hex >> a.digest;
      if (line.fail() || a.count == 0)
        return ::testing::AssertionFailure() << "bad line: " << line.str();
      report->acks.push_back(a);
    } else {
      return ::testing::AssertionFailure() << "unexpected output from child: " << line.str();
    }
  }
  return ::testing::AssertionSuccess();
}

// Runs crash_child until a random moment, SIGKILLs it and collects its output. Every wait
// has a deadline.
class ChildRun {
 public:
  ChildRun(const std::string& dir, uint64_t seed, FsyncPolicy policy) {
    args_ = {SLUICE_CRASH_CHILD, dir, std::to_string(seed), std::string(fsync_policy_name(policy))};
  }
  ~ChildRun() {
    if (pid_ > 0) {  // only after a failure
      ::kill(pid_, SIGKILL);
      int status = 0;
      (void)wait_for_exit(Clock::now() + kExitDeadline, &status);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }

  // Kills the child `kill_after` after it reported ready, or after its start when
  // `before_ready` (a kill during recovery).
  void run(milliseconds kill_after, bool before_ready, std::string* out) {
    ASSERT_NO_FATAL_FAILURE(spawn());
    const auto started = Clock::now();
    auto kill_at = before_ready ? started + kill_after : started + kReadyDeadline;
    bool ready = false;
    while (true) {
      const auto now = Clock::now();
      if (now >= kill_at) {
        ASSERT_TRUE(ready || before_ready) << "child not ready within " << kReadyDeadline.count()
                                           << " ms; output so far: " << *out;
        break;
      }
      bool eof = false;
      ASSERT_NO_FATAL_FAILURE(read_some(kill_at - now, out, &eof));
      if (eof) {
        int status = 0;
        const bool exited = wait_for_exit(Clock::now() + kExitDeadline, &status);
        FAIL() << "child ended by itself ("
               << (exited ? describe(status) : std::string("closed its output"))
               << "); output: " << *out;
      }
      if (!ready && !before_ready && out->find('\n') != std::string::npos) {
        ready = true;
        kill_at = Clock::now() + kill_after;
      }
    }
    ASSERT_EQ(::kill(pid_, SIGKILL), 0) << std::strerror(errno);
    // Everything it wrote before dying is in the pipe; EOF once it is gone.
    const auto deadline = Clock::now() + kExitDeadline;
    bool eof = false;
    while (!eof) {
      const auto now = Clock::now();
      ASSERT_LT(now, deadline) << "no EOF from the killed child";
      ASSERT_NO_FATAL_FAILURE(read_some(deadline - now, out, &eof));
    }
    ASSERT_NO_FATAL_FAILURE(reap(deadline));
  }

 private:
  void spawn() {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
    std::vector<char*> argv;
    for (std::string& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      // Only async-signal-safe calls until exec.
      if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(126);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    pid_ = pid;
    out_fd_ = fds[0];
  }

  void read_some(Clock::duration budget, std::string* out, bool* eof) {
    pollfd p{out_fd_, POLLIN, 0};
    const auto ms = std::chrono::duration_cast<milliseconds>(budget).count();
    const int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(ms, 1)));
    if (n < 0 && errno == EINTR) return;
    ASSERT_GE(n, 0) << std::strerror(errno);
    if (n == 0) return;
    char buf[64 * 1024];
    const ssize_t got = ::read(out_fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) return;
    ASSERT_GE(got, 0) << std::strerror(errno);
    if (got == 0) *eof = true;
    out->append(buf, static_cast<size_t>(got));
  }

  // Waits until the child has exited or `deadline`; false at the deadline.
  bool wait_for_exit(Clock::time_point deadline, int* status) {
    while (true) {
      const pid_t r = ::waitpid(pid_, status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) {
        pid_ = -1;
        return r > 0;
      }
      if (Clock::now() >= deadline) return false;
      ::poll(nullptr, 0, 1);
    }
  }

  void reap(Clock::time_point deadline) {
    int status = 0;
    ASSERT_TRUE(wait_for_exit(deadline, &status)) << "killed child not reaped in time";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child did not die of SIGKILL: " << describe(status);
  }

  static std::string describe(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
  }

  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
};

// Cycles of run, kill, recover and verify on one directory; what was acknowledged in any
// earlier cycle is checked again in every later one.
class CrashCycles {
 public:
  CrashCycles(std::string root, uint64_t seed, FsyncPolicy policy)
      : root_(std::move(root)), seed_(seed), policy_(policy), rng_(seed) {}

  void run(int cycles) {
    std::filesystem::remove_all(root_);
    new_generation();
    for (int i = 0; i < cycles; ++i) {
      SCOPED_TRACE(::testing::Message() << "cycle " << i << " dir " << dir_);
      ASSERT_NO_FATAL_FAILURE(cycle(i));
      if (log_bytes_ > kMaxLogBytes) new_generation();
    }
    std::filesystem::remove_all(root_);
  }

  uint64_t records_verified() const { return records_verified_; }
  uint64_t acks() const { return total_acks_; }
  int kills_before_ready() const { return kills_before_ready_; }
  int torn_tails() const { return torn_tails_; }

 private:
  void new_generation() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);  // checked in its last cycle
    dir_ = root_ + "/gen-" + std::to_string(generation_++);
    acked_.clear();
    recovered_end_ = 0;
    log_bytes_ = 0;
  }

  void cycle(int i) {
    // One kill in eight lands while the child may still be recovering.
    const bool before_ready = std::uniform_int_distribution<int>(0, 7)(rng_) == 0;
    const milliseconds after(before_ready ? std::uniform_int_distribution<int>(0, 10)(rng_)
                                          : std::uniform_int_distribution<int>(5, 200)(rng_));
    std::string out;
    {
      ChildRun child(dir_, seed_ * 1000 + static_cast<uint64_t>(i), policy_);
      ASSERT_NO_FATAL_FAILURE(child.run(after, before_ready, &out));
    }
    ChildReport report;
    ASSERT_TRUE(parse_report(out, &report));
    if (before_ready) kills_before_ready_ += report.ready ? 0 : 1;
    ASSERT_TRUE(report.ready || before_ready) << out;
    if (report.ready) {
      // The child recovered exactly what the previous check recovered: recovery is
      // idempotent and nothing after the last recovered offset came back from the dead.
      ASSERT_EQ(report.start, 0u);
      ASSERT_EQ(report.end, recovered_end_);
    }
    for (const Ack& a : report.acks) {
      // Offsets continue after what was recovered and are never handed out twice.
      ASSERT_GE(a.base, recovered_end_) << "offset reused";
      ASSERT_TRUE(acked_.emplace(a.base, a).second)
          << "base offset " << a.base << " acknowledged twice";
    }
    total_acks_ += report.acks.size();
    if (std::filesystem::exists(dir_) && newest_segment_has_torn_tail(dir_)) ++torn_tails_;
    ASSERT_NO_FATAL_FAILURE(recover_and_verify());
  }

  void recover_and_verify() {
    auto opened =
        Log::open(FileSystem::posix(), dir_, child_options(policy_), SystemClock::instance());
    ASSERT_TRUE(opened.ok()) << opened.status();
    std::unique_ptr<Log> log = std::move(*opened);
    ASSERT_TRUE(log->health().ok()) << log->health();
    ASSERT_EQ(log->start_offset().value(), 0u);
    const uint64_t end = log->end_offset().value();
    uint64_t acked_end = recovered_end_;
    for (const auto& [base, a] : acked_) {
      // Overlapping acknowledged ranges would mean an offset handed out twice.
      const auto next = acked_.upper_bound(base);
      if (next != acked_.end()) {
        ASSERT_LE(base + a.count, next->first) << "overlapping appends";
      }
      acked_end = std::max(acked_end, base + a.count);
    }
    ASSERT_GE(end, acked_end) << "acknowledged records missing at the end";

    // Read everything: contiguous offsets from 0, every read clean, every payload intact.
    std::vector<ReadResult> results;
    std::vector<const RecordView*> by_offset;
    by_offset.reserve(end);
    uint64_t from = 0;
    uint64_t bytes = 0;
    while (from < end) {
      auto r = log->read(Offset(from), ReadLimits{10000, 4 << 20});
      ASSERT_TRUE(r.ok()) << "read at " << from << ": " << r.status();
      ASSERT_FALSE(r->records.empty()) << "nothing read at " << from << " below end " << end;
      for (const RecordView& v : r->records) {
        ASSERT_EQ(v.offset.value(), from) << "offsets not contiguous";
        ASSERT_TRUE(crash_test::payload_is_consistent(v.payload)) << "damaged payload at " << from;
        bytes += v.payload.size();
        ++from;
      }
      ASSERT_EQ(r->next_offset.value(), from);
      results.push_back(std::move(*r));
      for (const RecordView& v : results.back().records) by_offset.push_back(&v);
    }
    auto tail = log->read(Offset(end), ReadLimits{});
    ASSERT_TRUE(tail.ok()) << tail.status();
    ASSERT_TRUE(tail->records.empty());

    // Every acknowledged batch, from this cycle and all earlier ones, bit for bit.
    std::vector<RecordView> batch;
    for (const auto& [base, a] : acked_) {
      batch.clear();
      for (uint64_t o = base; o < base + a.count; ++o) batch.push_back(*by_offset[o]);
      ASSERT_EQ(crash_test::batch_digest(std::span<const RecordView>(batch)), a.digest)
          << "acknowledged batch at " << base << " (" << a.count << " records) differs";
    }
    records_verified_ += end;
    log_bytes_ = bytes;
    recovered_end_ = end;
    const Status closed = log->close();
    ASSERT_TRUE(closed.ok()) << closed;
  }

  const std::string root_;
  const uint64_t seed_;
  const FsyncPolicy policy_;
  std::mt19937_64 rng_;
  std::string dir_;
  int generation_ = 0;
  std::map<uint64_t, Ack> acked_;  // by base offset, every cycle of this generation
  uint64_t recovered_end_ = 0;     // end offset found by the last recovery
  uint64_t log_bytes_ = 0;
  uint64_t records_verified_ = 0;
  uint64_t total_acks_ = 0;
  int kills_before_ready_ = 0;
  int torn_tails_ = 0;
};

void run_cycles(FsyncPolicy policy, int cycles) {
  ASSERT_TRUE(logging::init("error").ok());  // torn-tail warnings are expected here
  const uint64_t seed = test_seed();
  SCOPED_TRACE(::testing::Message()
               << "seed=" << seed << " (replay with SLUICE_CRASH_SEED=" << seed << ")");
  const std::string root = ::testing::TempDir() + "sluice_log_crash_" + std::to_string(::getpid()) +
                           "_" + std::string(fsync_policy_name(policy));
  CrashCycles crash(root, seed, policy);
  const auto started = Clock::now();
  crash.run(cycles);
  const auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
  std::cout << "fsync=" << fsync_policy_name(policy) << " seed=" << seed << " cycles=" << cycles
            << " acks=" << crash.acks() << " records verified=" << crash.records_verified()
            << " kills before ready=" << crash.kills_before_ready()
            << " torn tails=" << crash.torn_tails() << " in " << ms << " ms\n";
}

TEST(LogCrashTest, KilledWriterLosesNothingAcknowledgedUnderFsyncGroup) {
  run_cycles(FsyncPolicy::kGroup, env_int("SLUICE_CRASH_CYCLES", kDefaultCycles));
}

// No fdatasync at all: a process kill still loses nothing, the pages are in the kernel.
TEST(LogCrashTest, KilledWriterLosesNothingAcknowledgedUnderFsyncNever) {
  run_cycles(FsyncPolicy::kNever, std::max(4, env_int("SLUICE_CRASH_CYCLES", kDefaultCycles) / 8));
}

TEST(LogCrashTest, KilledWriterLosesNothingAcknowledgedUnderFsyncAlways) {
  run_cycles(FsyncPolicy::kAlways, std::max(4, env_int("SLUICE_CRASH_CYCLES", kDefaultCycles) / 8));
}

}  // namespace
}  // namespace sluice::storage
