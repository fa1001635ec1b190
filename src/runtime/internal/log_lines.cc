#include "runtime/internal/log_lines.h"

#include "net/http_message.h"

#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <ctime>
#include <sys/wait.h>

namespace sluice::runtime::internal {
namespace {

std::string hex_digits(std::mt19937_64& rng, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n, '0');
  for (char& c : out) c = kHex[rng() & 0xf];
  return out;
}

}  // namespace

std::string json_escape(std::string_view text) {
  std::string quoted = net::json_quote(text);  // the one escaper of the HTTP layer
  return quoted.substr(1, quoted.size() - 2);
}

std::string start_line(std::string_view request_id) {
  return fmt::format("START RequestId: {} Version: $LATEST", request_id);
}

std::string end_line(std::string_view request_id) {
  return fmt::format("END RequestId: {}", request_id);
}

std::string report_line(std::string_view request_id, const ReportFields& f) {
  const auto billed = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(f.duration_ms)));
  std::string out = fmt::format(
      "REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} ms\tMemory Size: {} "
      "MB\tMax Memory Used: {} MB\t",
      request_id, f.duration_ms, billed, f.memory_size_mb, f.max_memory_used_mb);
  if (f.init_duration_ms) out += fmt::format("Init Duration: {:.2f} ms\t", *f.init_duration_ms);
  return out;
}

std::string timeout_line(std::chrono::system_clock::time_point now, std::string_view request_id,
                         double timeout_s) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format(
      "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} Task timed out after {:.2f} seconds",
      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000,
      request_id, timeout_s);
}

std::string timed_out_document(std::string_view request_id, double timeout_s) {
  return fmt::format(
      R"({{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: {} Error: Task timed out after {:.2f} seconds"}})",
      json_escape(request_id), timeout_s);
}

std::string signal_description(int signo) {
  switch (signo) {
    case SIGHUP:
      return "hangup";
    case SIGINT:
      return "interrupt";
    case SIGQUIT:
      return "quit";
    case SIGILL:
      return "illegal instruction";
    case SIGTRAP:
      return "trace/breakpoint trap";
    case SIGABRT:
      return "aborted";
    case SIGBUS:
      return "bus error";
    case SIGFPE:
      return "floating point exception";
    case SIGKILL:
      return "killed";
    case SIGUSR1:
      return "user defined signal 1";
    case SIGSEGV:
      return "segmentation fault";
    case SIGUSR2:
      return "user defined signal 2";
    case SIGPIPE:
      return "broken pipe";
    case SIGALRM:
      return "alarm clock";
    case SIGTERM:
      return "terminated";
    case SIGXCPU:
      return "CPU time limit exceeded";
    case SIGXFSZ:
      return "file size limit exceeded";
    case SIGSYS:
      return "bad system call";
    default:
      return fmt::format("signal {}", signo);
  }
}

std::string exit_error_document(std::string_view request_id, int wait_status) {
  std::string reason;
  if (WIFSIGNALED(wait_status)) {
    reason = "Runtime exited with error: signal: " + signal_description(WTERMSIG(wait_status));
  } else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) != 0) {
    reason = fmt::format("Runtime exited with error: exit status {}", WEXITSTATUS(wait_status));
  } else {
    reason = "Runtime exited without providing a reason";
  }
  return fmt::format(
      R"({{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {} Error: {}"}})",
      json_escape(request_id), reason);
}

std::string invalid_entrypoint_document(std::string_view request_id, std::string_view task_root) {
  return fmt::format(
      R"({{"errorType":"Runtime.InvalidEntrypoint","errorMessage":"RequestId: {} Error: Couldn't find valid bootstrap(s): [{}/bootstrap /opt/bootstrap]"}})",
      json_escape(request_id), json_escape(task_root));
}

std::string launch_failed_document(std::string_view request_id, std::string_view detail) {
  return fmt::format(
      R"({{"errorType":"Runtime.InvalidEntrypoint","errorMessage":"RequestId: {} Error: {}"}})",
      json_escape(request_id), json_escape(detail));
}

std::string response_too_large_document() {
  return R"({"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"})";
}

std::string log_stream_name(std::chrono::system_clock::time_point now, std::mt19937_64& rng) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}/{:02}/{:02}/[$LATEST]{}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     hex_digits(rng, 32));
}

std::string new_trace_id(std::chrono::system_clock::time_point now, std::mt19937_64& rng) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  return fmt::format("Root=1-{:08x}-{};Parent={};Sampled=0", static_cast<uint32_t>(secs.count()),
                     hex_digits(rng, 24), hex_digits(rng, 16));
}

}  // namespace sluice::runtime::internal
