// The process log_crash_test.cc kills: appends random batches to a Log on the real disk
// from several threads until it is killed.
//
//   crash_child <dir> <seed> <fsync-policy>
//
// After opening the log it prints "ready <start_offset> <end_offset>". After each
// acknowledged append it prints "ack <base_offset> <count> <digest>" (digest in hex, see
// crash_records.h) with one write(2), before that thread appends again. Exits 2 when the
// log does not open and 3 when an append fails; never exits by itself otherwise (a
// watchdog ends it after kWatchdogSeconds in case its parent is gone).

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "storage/log.h"
#include "tests/storage/crash_records.h"

#include <fmt/format.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <sys/prctl.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace sluice::storage::crash_test {
namespace {

constexpr int kThreads = 4;
constexpr int kWatchdogSeconds = 120;

// One line, one write(2): lines are short, so writes to the parent's pipe are atomic.
void write_line(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::_Exit(5);  // the parent is gone
    }
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void fail(int code, const std::string& why) {
  const std::string line = "crash_child: " + why + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  std::_Exit(code);
}

void append_forever(Log* log, uint64_t seed, int thread) {
  std::mt19937_64 rng(seed * 1'000'003 + static_cast<uint64_t>(thread));
  auto uniform = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  struct Owned {
    std::string payload;
    std::string key;
    std::string hash_key;
  };
  std::vector<Owned> owned;
  std::vector<RecordIn> records;
  while (true) {
    const size_t n = uniform(1, 8);
    owned.resize(n);
    records.resize(n);
    const int64_t now = SystemClock::instance()->now_ms();
    for (size_t i = 0; i < n; ++i) {
      owned[i].payload = make_payload(rng(), uniform(0, 4096));
      owned[i].key = fmt::format("pk-{}-{}", thread, uniform(0, 1'000'000));
      owned[i].hash_key = uniform(0, 3) == 0 ? std::to_string(rng() >> 1) : std::string();
      records[i] = RecordIn{as_bytes(owned[i].payload), owned[i].key, owned[i].hash_key,
                            now - static_cast<int64_t>(uniform(0, 3))};
    }
    auto r = log->append(records);
    if (!r.ok()) fail(3, "append failed: " + r.status().to_string());
    const uint64_t digest = batch_digest(std::span<const RecordIn>(records));
    write_line(fmt::format("ack {} {} {:016x}\n", r->base_offset.value(), n, digest));
  }
}

int run(int argc, char** argv) {
  if (argc != 4) fail(64, "usage: crash_child <dir> <seed> <always|group|never>");
  // Ends with the test that started it, even if that test dies first.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const std::string dir = argv[1];
  const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  const auto policy = parse_fsync_policy(argv[3]);
  if (!policy) fail(64, std::string("unknown fsync policy ") + argv[3]);
  if (!logging::init("error").ok()) fail(64, "logging");

  LogOptions options;
  options.fsync = *policy;
  options.segment_max_bytes = 64 * 1024;  // segments roll many times per run
  options.index_interval_bytes = 4096;
  auto opened = Log::open(FileSystem::posix(), dir, options, SystemClock::instance());
  if (!opened.ok()) fail(2, "open failed: " + opened.status().to_string());
  std::unique_ptr<Log> log = std::move(*opened);
  write_line(fmt::format("ready {} {}\n", log->start_offset().value(), log->end_offset().value()));

  for (int t = 0; t < kThreads; ++t) {
    std::thread(append_forever, log.get(), seed, t).detach();
  }
  std::this_thread::sleep_for(std::chrono::seconds(kWatchdogSeconds));
  fail(4, "watchdog: not killed in time");
}

}  // namespace
}  // namespace sluice::storage::crash_test

int main(int argc, char** argv) { return sluice::storage::crash_test::run(argc, argv); }
