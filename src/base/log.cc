#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>
#include <string>

namespace sluice::logging {
namespace {
std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::info;
}  // namespace

std::shared_ptr<spdlog::logger> get(std::string_view layer) {
  std::lock_guard lock(g_mu);
  const std::string name(layer);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_level(g_level);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] %v", spdlog::pattern_time_type::utc);
  return logger;
}

Status init(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str answers "off" for names it does not know; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return Status::invalid_argument(std::string("unknown log level '") + std::string(level) +
                                    "' (trace, debug, info, warn, error, critical, off)");
  }
  std::lock_guard lock(g_mu);
  g_level = parsed;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
  return Status();
}

}  // namespace sluice::logging
