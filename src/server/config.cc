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
  if (config.shutdown_grace.count() < 0) {
    return Status::invalid_argument("shutdown grace: must not be negative");
  }
  return Status();
}

}  // namespace sluice::server
