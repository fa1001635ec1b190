// What one durable acknowledgement costs on this disk, apart from any server: each of N threads
// writes a small record to a file of its own and calls fdatasync, in a loop, for a fixed number
// of rounds. N = 1 is one shard's log alone; N = 4 is scenario (b)'s four shards, each flushing
// its own log at the same time. Two layouts:
//   append     the file grows with every write (as Sluice's segments do): the flush also
//              commits the new file size to the journal
//   overwrite  the file was filled with zeros and flushed first, so the flush carries data only
// The latencies bound what a closed loop of C connections can get acknowledged: at most
// C / (one flush) requests per second, even with no CPU spent and every flush shared
// (docs/performance.md, "Why (b) is bound by the disk").

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

struct Result {
  std::vector<double> latencies_us;
  std::string error;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void run_file(const std::string& path, bool overwrite, int rounds, size_t bytes, Result& out) {
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    out.error = fmt::format("open {}: {}", path, std::strerror(errno));
    return;
  }
  const std::string record(bytes, 'r');
  if (overwrite) {
    const std::string zeros(1 << 20, '\0');
    const size_t needed = static_cast<size_t>(rounds) * bytes;
    for (size_t done = 0; done < needed; done += zeros.size()) {
      if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(done)) < 0) {
        out.error = fmt::format("pwrite {}: {}", path, std::strerror(errno));
        ::close(fd);
        return;
      }
    }
    ::fdatasync(fd);
  }
  out.latencies_us.reserve(static_cast<size_t>(rounds));
  off_t at = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (::pwrite(fd, record.data(), record.size(), at) != static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      out.error = fmt::format("write or fdatasync {}: {}", path, std::strerror(errno));
      break;
    }
    at += static_cast<off_t>(record.size());
    out.latencies_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
  }
  ::close(fd);
  ::unlink(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"write + fdatasync latency of N files flushed at once"};
  std::string dir = ".";
  std::vector<int> file_counts{1, 4};
  int rounds = 2000;
  size_t bytes = 150;
  int connections = 8;
  app.add_option("--dir", dir, "directory on the file system to probe (a data dir's)");
  app.add_option("--files", file_counts, "file counts to run, each with one thread per file")
      ->delimiter(',');
  app.add_option("--rounds", rounds, "write + fdatasync rounds per file");
  app.add_option("--bytes", bytes, "bytes per write (one PutRecord's batch is about 150)");
  app.add_option("--connections", connections, "closed-loop connections for the bound column");
  CLI11_PARSE(app, argc, argv);

  fmt::print(
      "| layout | files flushed at once | flush p50 / p99, µs | flushes/s, all files | "
      "bound for {} closed-loop connections (C / p50), requests/s |\n",
      connections);
  fmt::print("|---|---:|---:|---:|---:|\n");
  for (const bool overwrite : {false, true}) {
    for (const int files : file_counts) {
      std::vector<Result> results(static_cast<size_t>(files));
      std::vector<std::thread> threads;
      const auto start = std::chrono::steady_clock::now();
      for (int f = 0; f < files; ++f) {
        const std::string path =
            (std::filesystem::path(dir) / fmt::format("fsync-probe-{}-{}", ::getpid(), f)).string();
        threads.emplace_back(run_file, path, overwrite, rounds, bytes,
                             std::ref(results[static_cast<size_t>(f)]));
      }
      for (auto& t : threads) t.join();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::vector<double> all;
      for (const auto& r : results) {
        if (!r.error.empty()) {
          std::fprintf(stderr, "fsync_probe: %s\n", r.error.c_str());
          return 1;
        }
        all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
      }
      const double p50 = percentile(all, 0.50);
      fmt::print("| {} | {} | {:.0f} / {:.0f} | {:.0f} | {:.0f} |\n",
                 overwrite ? "overwrite" : "append", files, p50, percentile(all, 0.99),
                 static_cast<double>(all.size()) / seconds, connections / (p50 / 1e6));
    }
  }
  return 0;
}
