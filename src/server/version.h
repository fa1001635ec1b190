#pragma once

#include <string_view>

namespace sluice::server {

// The project version from CMake's project(VERSION ...), e.g. "0.1.0".
std::string_view version();

}  // namespace sluice::server
