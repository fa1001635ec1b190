#pragma once

#include "base/status.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

namespace sluice::logging {

// One named logger per layer ("storage", "net", "server", ...), all writing to stderr with the
// level set by init(). Say what happened with ids (`log=orders-0 offset=1042`); never log
// record data or partition keys.
std::shared_ptr<spdlog::logger> get(std::string_view layer);

// Sets the level of every logger: trace, debug, info, warn, error, critical, off.
// kInvalidArgument for an unknown level name.
Status init(std::string_view level);

}  // namespace sluice::logging
