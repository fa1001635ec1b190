#include "server/health.h"

#include <fmt/format.h>

namespace sluice::server {

net::Handler make_health_handler(HealthInfo info) {
  return [info = std::move(info)](const net::Request&) {
    const std::chrono::duration<double> uptime = info.clock->steady_now() - info.started;
    return net::Response::json(
        200,
        fmt::format(R"({{"status":"ok","version":{},"uptime_seconds":{:.3f},"data_dir":{}}})",
                    net::json_quote(info.version), uptime.count(), net::json_quote(info.data_dir)));
  };
}

}  // namespace sluice::server
