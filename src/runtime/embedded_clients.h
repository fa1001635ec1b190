#pragma once

#include "base/status.h"

#include <filesystem>
#include <string_view>

namespace sluice::runtime {

// Sluice's own runtime clients (src/runtime/clients/), compiled into the library so that the
// binary is self-contained. The views point at static storage and stay valid forever.
std::string_view embedded_python_client();  // sluice_runtime.py
std::string_view embedded_node_client();    // sluice_runtime.mjs

// File names the clients get in the clients directory (LAMBDA_RUNTIME_DIR).
inline constexpr std::string_view kPythonClientFile = "sluice_runtime.py";
inline constexpr std::string_view kNodeClientFile = "sluice_runtime.mjs";

// Writes both clients into `dir` (created if missing), each through a temporary file and a
// rename, mode 0644, so that a running environment never sees a half-written client. Nothing
// else is written there: Python puts this directory on sys.path. kIOError on failure.
Status install_runtime_clients(const std::filesystem::path& dir);

}  // namespace sluice::runtime
