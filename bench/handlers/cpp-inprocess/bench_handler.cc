// Benchmark handlers of bench/run-invoke.sh for the in-process runtime "sluice.cpp"
// (include/sluice/handler.h). One library, two entry points named in the function's Handler:
//   lib/bench_handler.so:bench_echo   the event bytes back, unchanged
//   lib/bench_handler.so:bench_small  a constant small result
//   lib/bench_handler.so:bench_stamp  for bench/run-esm.sh: appends "<unix ns> <partitionKey>"
//                                     per record to $BENCH_STAMP_DIR/<function name>.stamps
//                                     (the server's environment: in-process functions have no
//                                     other), one write() per invocation, then a small result
// echo and small neither parse the event nor log: what is measured is Sluice's cost, not the
// handler's.

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <sluice/handler.h>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

using sluice::handler::Context;
using sluice::handler::Response;

Response echo(std::string_view event, const Context&) {
  return Response::success(std::string(event));
}

Response small(std::string_view, const Context&) { return Response::success(R"({"ok":true})"); }

Response stamp(std::string_view event, const Context& c) {
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const char* dir = std::getenv("BENCH_STAMP_DIR");
  if (dir == nullptr) return Response::failure("BenchError", "BENCH_STAMP_DIR is not set");
  std::string lines;
  constexpr std::string_view kKey = R"("partitionKey":")";
  for (size_t at = event.find(kKey); at != std::string_view::npos; at = event.find(kKey, at)) {
    at += kKey.size();
    const size_t end = event.find('"', at);
    if (end == std::string_view::npos) break;
    lines += std::to_string(now_ns);
    lines += ' ';
    lines += event.substr(at, end - at);
    lines += '\n';
  }
  const std::string path = std::string(dir) + "/" + std::string(c.function_name()) + ".stamps";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Response::failure("BenchError", "cannot open " + path);
  const bool whole = ::write(fd, lines.data(), lines.size()) == static_cast<ssize_t>(lines.size());
  ::close(fd);
  if (!whole) return Response::failure("BenchError", "short write to " + path);
  return Response::success(R"({"ok":true})");
}

}  // namespace

SLUICE_HANDLER_AS(bench_echo, echo)
SLUICE_HANDLER_AS(bench_small, small)
SLUICE_HANDLER_AS(bench_stamp, stamp)
