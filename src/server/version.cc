#include "server/version.h"

#ifndef SLUICE_VERSION
#error "SLUICE_VERSION must be defined by the build (src/server/CMakeLists.txt)"
#endif

namespace sluice::server {

std::string_view version() { return SLUICE_VERSION; }

}  // namespace sluice::server
