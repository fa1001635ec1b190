#include "server/config.h"

#include <fmt/format.h>

#include <array>

namespace sluice::server {

namespace {
constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};
}  // namespace

Status validate(const Config& config) {
  if (config.http.host.empty()) return Status::invalid_argument("--host: must not be empty");
  if (config.data_dir.empty()) return Status::invalid_argument("--data-dir: must not be empty");
  bool known_level = false;
  for (std::string_view level : kLogLevels) known_level = known_level || level == config.log_level;
  if (!known_level) {
    return Status::invalid_argument(fmt::format(
        "--log-level: unknown level '{}' (trace, debug, info, warn, error, critical, off)",
        config.log_level));
  }
  if (config.io_threads < 1 || config.io_threads > 64) {
    return Status::invalid_argument(
        fmt::format("io threads: {} is not between 1 and 64", config.io_threads));
  }
  if (config.http.max_body_bytes == 0) {
    return Status::invalid_argument("max body bytes: must be positive");
  }
  if (config.http.max_header_bytes < 1024) {
    return Status::invalid_argument("max header bytes: must be at least 1024");
  }
  if (config.http.max_connections == 0) {
    return Status::invalid_argument("max connections: must be positive");
  }
  if (config.http.idle_timeout.count() <= 0) {
    return Status::invalid_argument("idle timeout: must be positive");
  }
  if (config.async_events.retry_delays_ms.empty()) {
    return Status::invalid_argument("--async-retry-delays-ms: give at least one delay");
  }
  for (const int64_t delay : config.async_events.retry_delays_ms) {
    if (delay < 0 || delay > 21'600'000) {
      return Status::invalid_argument(fmt::format(
          "--async-retry-delays-ms: {} is not between 0 and 21600000 milliseconds", delay));
    }
  }
  if (config.async_events.max_retries < 0 || config.async_events.max_retries > 2) {
    return Status::invalid_argument("--async-max-retries: must be 0, 1 or 2");
  }
  if (config.async_events.max_event_age_ms < 1000 ||
      config.async_events.max_event_age_ms > 21'600'000) {
    return Status::invalid_argument("--async-max-event-age-s: must be between 1 and 21600");
  }
  if (config.shutdown_grace.count() < 0) {
    return Status::invalid_argument("shutdown grace: must not be negative");
  }
  return Status();
}

}  // namespace sluice::server
