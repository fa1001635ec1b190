#pragma once

#include "base/clock.h"
#include "net/router.h"

#include <chrono>
#include <string>

namespace sluice::server {

// What GET /_sluice/health reports besides "status":"ok".
struct HealthInfo {
  std::string version;
  std::string data_dir;          // absolute
  const Clock* clock = nullptr;  // borrowed; must outlive the handler
  std::chrono::steady_clock::time_point started;
};

// 200 application/json
//   {"status":"ok","version":"0.1.0","uptime_seconds":12.345,"data_dir":"/abs/path"}
// Thread-safe; the handler only reads `info` and the clock.
net::Handler make_health_handler(HealthInfo info);

}  // namespace sluice::server
