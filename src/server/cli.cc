#include "server/cli.h"

#include "base/clock.h"
#include "base/log.h"
#include "server/server.h"
#include "server/version.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <sstream>

namespace sluice::server {

namespace {

std::string one_line(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

CliCommand usage_error(std::string_view message) {
  CliCommand cmd;
  cmd.action = CliCommand::Action::kExit;
  cmd.exit_code = kUsageError;
  cmd.err = fmt::format("sluice: error: {}\n", one_line(message));
  return cmd;
}

// Prints `message` as the one stderr line of a failed start.
int fail_start(const Status& status) {
  std::fprintf(stderr, "sluice: error: %s\n", one_line(status.message()).c_str());
  std::fflush(stderr);
  return kUsageError;
}

int serve(const Config& config) {
  Status level = logging::init(config.log_level);
  if (!level.ok()) return fail_start(level);

  auto opened = Server::open(config, SystemClock::instance());
  if (!opened.ok()) return fail_start(opened.status());
  std::unique_ptr<Server> server = std::move(opened).value();
  // Later layers register routes and shutdown steps here, between open() and start().

  Status started = server->start();
  if (!started.ok()) return fail_start(started);

  std::printf("sluice ready: listening on %s data-dir=%s fsync=%s version=%s\n",
              server->url().c_str(), server->data_dir().path().c_str(),
              std::string(storage::fsync_policy_name(config.log.fsync)).c_str(),
              std::string(version()).c_str());
  std::fflush(stdout);

  server->wait_for_stop();
  Status stopped = server->shutdown();
  return stopped.ok() ? 0 : 1;
}

}  // namespace

CliCommand parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"Sluice: a self-hosted Kinesis Data Streams and Lambda engine", "sluice"};
  app.set_version_flag("--version", fmt::format("sluice {}", version()));
  app.require_subcommand(1);

  Config config;
  int port = config.http.port;
  std::string fsync(storage::fsync_policy_name(config.log.fsync));
  CLI::App* serve_cmd = app.add_subcommand("serve", "Serve the Kinesis and Lambda APIs over HTTP");
  serve_cmd->add_option("--host", config.http.host, "Address to listen on")->capture_default_str();
  serve_cmd->add_option("--port", port, "TCP port; 0 picks a free one")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            int value = -1;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (ec != std::errc() || end != text.data() + text.size() || value < 0 ||
                value > 65535) {
              return fmt::format("'{}' is not a port number (0 to 65535)", text);
            }
            return {};
          },
          "PORT"))
      ->capture_default_str();
  serve_cmd->add_option("--data-dir", config.data_dir, "Directory for all persistent state")
      ->capture_default_str();
  serve_cmd->add_option("--fsync", fsync, "When appends are made durable: always, group, never")
      ->check(CLI::IsMember({"always", "group", "never"}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--log-level", config.log_level,
                   "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  int64_t transition_delay_ms = config.streams.creating_delay_ms;
  serve_cmd
      ->add_option("--transition-delay-ms", transition_delay_ms,
                   "How long streams stay CREATING, UPDATING or DELETING, and consumers "
                   "CREATING or DELETING (0: at once)")
      ->check(CLI::Range(int64_t{0}, int64_t{600'000}))
      ->capture_default_str();
  serve_cmd->add_flag("--enforce-limits", config.streams.enforce_limits,
                      "Throttle PROVISIONED shards at the service's per-shard limits "
                      "(1 MiB/s and 1000 records/s written; 5 reads/s and 2 MiB/s read; 5 "
                      "GetShardIterator/s) with ProvisionedThroughputExceededException");
  serve_cmd
      ->add_option("--inprocess-inline-us", config.inprocess_inline_us,
                   "In-process C++ handlers whose last 16 calls each returned within this many "
                   "microseconds run on the Invoke request's event-loop thread instead of a "
                   "worker (0: always on a worker)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--io-threads", config.io_threads,
                   "Threads that run the event loop: connections, parsing, and the work that "
                   "runs on the loop (writes, invocations)")
      ->check(CLI::Range(size_t{1}, size_t{64}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--handler-threads", config.http.handler_threads,
                   "Threads that run request handlers, so that requests waiting for the disk "
                   "do not hold the event loop (0: run them on the event loop)")
      ->check(CLI::Range(size_t{0}, size_t{1024}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-request-bytes", config.http.max_body_bytes,
                   "Largest request body; larger ones are answered 413")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  serve_cmd
      ->add_option("--default-account", config.default_account,
                   "Account of requests whose access key id is not a 12-digit account id")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            if (text.size() == 12 &&
                std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
              return {};
            return fmt::format("'{}' is not a 12-digit account id", text);
          },
          "ACCOUNT"))
      ->capture_default_str();
  serve_cmd
      ->add_option("--default-region", config.default_region,
                   "Region of requests whose signature names none")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            const bool ok = !text.empty() && text.size() <= 32 &&
                            std::all_of(text.begin(), text.end(), [](char c) {
                              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                            });
            return ok ? std::string() : fmt::format("'{}' is not a region name", text);
          },
          "REGION"))
      ->capture_default_str();
  serve_cmd->add_flag("--lambda-hot-reload", config.lambda_hot_reload,
                      "Let Lambda functions run from a local directory: Code.S3Bucket "
                      "'hot-reload', S3Key the absolute directory (docs/wire/lambda.md)");
  std::string retry_delays;
  for (const int64_t delay : config.async_events.retry_delays_ms) {
    retry_delays += (retry_delays.empty() ? "" : ",") + std::to_string(delay);
  }
  serve_cmd
      ->add_option("--async-retry-delays-ms", retry_delays,
                   "Waits before the retries of a failed asynchronous invocation, comma-separated "
                   "milliseconds; the last one repeats")
      ->capture_default_str();
  serve_cmd
      ->add_option("--async-max-retries", config.async_events.max_retries,
                   "Retries of an asynchronous invocation after a function error or timeout")
      ->check(CLI::Range(0, 2))
      ->capture_default_str();
  int64_t max_event_age_s = config.async_events.max_event_age_ms / 1000;
  serve_cmd
      ->add_option("--async-max-event-age-s", max_event_age_s,
                   "Asynchronous invocations older than this are dropped instead of run")
      ->check(CLI::Range(int64_t{1}, int64_t{21'600}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--async-max-payload-bytes", config.async_max_payload_bytes,
                   "Largest payload of an asynchronous invocation; larger ones are answered 413")
      ->check(CLI::Range(size_t{1}, size_t{6'291'456}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--esm-retry-base-ms", config.esm.retry_base_ms,
                   "Event source mappings: wait before the first retry of a failed batch; it "
                   "doubles per further attempt")
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--esm-retry-max-ms", config.esm.retry_max_ms,
                   "Event source mappings: longest wait between retries of a failed batch")
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--esm-throttle-wait-ms", config.esm.throttle_wait_ms,
                   "Event source mappings: wait after an invocation that could not run "
                   "(throttled, function missing)")
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--esm-idle-poll-ms", config.esm.idle_poll_ms,
                   "Event source mappings: how often a caught-up shard reader looks again "
                   "without being woken by a put")
      ->check(CLI::Range(int64_t{10}, int64_t{60'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--esm-transition-delay-ms", config.esm.transition_delay_ms,
                   "Event source mappings: how long Creating, Updating, Enabling, Disabling "
                   "and Deleting last")
      ->check(CLI::Range(int64_t{0}, int64_t{600'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--esm-stream-gone-disable-ms", config.esm.stream_gone_disable_ms,
                   "Event source mappings: disable a mapping whose stream has been deleted for "
                   "this long")
      ->check(CLI::Range(int64_t{0}, int64_t{86'400'000}))
      ->capture_default_str();
  serve_cmd
      ->add_option("--esm-destination-retry-ms", config.esm.destination_retry_ms,
                   "Event source mappings: wait this long (doubling up to --esm-retry-max-ms) "
                   "before storing a failure notice again after its destination failed")
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}))
      ->capture_default_str();
  serve_cmd->add_flag("--test-clock", config.test_clock,
                      "Testing only: POST /_sluice/test/clock?advance_ms=N moves the wall clock "
                      "forward (record ages, retention) without waiting");
  serve_cmd->add_flag("--repair", config.log.repair,
                      "Start even when a log is damaged in the middle, setting the damaged bytes "
                      "aside (docs/formats/segment.md)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      std::ostringstream out;
      std::ostringstream err;
      CliCommand cmd;
      cmd.exit_code = app.exit(e, out, err);
      cmd.out = out.str();
      cmd.err = err.str();
      return cmd;
    }
    return usage_error(fmt::format("{} (see sluice serve --help)", e.what()));
  } catch (const std::exception& e) {  // CLI11 may throw others for odd input
    return usage_error(e.what());
  }

  config.http.port = static_cast<uint16_t>(port);
  config.streams.creating_delay_ms = transition_delay_ms;
  config.streams.updating_delay_ms = transition_delay_ms;
  config.streams.deleting_delay_ms = transition_delay_ms;
  config.streams.consumer_delay_ms = transition_delay_ms;
  const auto policy = storage::parse_fsync_policy(fsync);
  if (!policy)
    return usage_error(fmt::format("--fsync: unknown policy '{}' (always, group, never)", fsync));
  config.log.fsync = *policy;
  config.async_events.max_event_age_ms = max_event_age_s * 1000;
  config.async_events.retry_delays_ms.clear();
  for (size_t from = 0; from <= retry_delays.size();) {
    size_t comma = retry_delays.find(',', from);
    if (comma == std::string::npos) comma = retry_delays.size();
    const std::string_view item(retry_delays.data() + from, comma - from);
    int64_t delay = -1;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), delay);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || delay < 0) {
      return usage_error(fmt::format(
          "--async-retry-delays-ms: '{}' is not a list of milliseconds like 60000,120000",
          retry_delays));
    }
    config.async_events.retry_delays_ms.push_back(delay);
    from = comma + 1;
  }
  Status valid = validate(config);
  if (!valid.ok()) return usage_error(valid.message());

  CliCommand cmd;
  cmd.action = CliCommand::Action::kServe;
  cmd.config = std::move(config);
  return cmd;
}

int run_cli(int argc, const char* const* argv) {
  CliCommand cmd = parse_command_line(argc, argv);
  if (cmd.action == CliCommand::Action::kExit) {
    std::fputs(cmd.out.c_str(), stdout);
    std::fputs(cmd.err.c_str(), stderr);
    std::fflush(stdout);
    std::fflush(stderr);
    return cmd.exit_code;
  }
  return serve(cmd.config);
}

}  // namespace sluice::server
