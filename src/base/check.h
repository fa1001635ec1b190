#pragma once

#include <fmt/format.h>

#include <cstdlib>
#include <string>

// SLUICE_CHECK(cond, fmt, args...): a broken invariant is a bug. Logs where and why, then
// aborts, in release builds too. Not for conditions a caller can cause: those return Status.
#define SLUICE_CHECK(cond, ...)                                                            \
  do {                                                                                     \
    if (!(cond)) [[unlikely]] {                                                            \
      ::sluice::detail::check_failed(__FILE__, __LINE__, #cond, fmt::format(__VA_ARGS__)); \
    }                                                                                      \
  } while (0)

namespace sluice::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* cond,
                               const std::string& msg);
}  // namespace sluice::detail
