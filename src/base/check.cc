#include "base/check.h"

#include <cstdio>

namespace sluice::detail {

void check_failed(const char* file, int line, const char* cond, const std::string& msg) {
  // stderr directly: the logger may be the thing that is broken.
  std::fprintf(stderr, "SLUICE_CHECK failed at %s:%d: %s: %s\n", file, line, cond, msg.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace sluice::detail
