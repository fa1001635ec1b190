#pragma once

#include "server/config.h"

#include <string>

namespace sluice::server {

// What the command line asks for: serve with a validated Config, or exit at once with a
// code and text (help, version, or a usage error).
struct CliCommand {
  enum class Action : uint8_t { kServe, kExit };
  Action action = Action::kExit;
  Config config;      // kServe: validated
  int exit_code = 0;  // kExit: 0 for --help/--version, kUsageError otherwise
  std::string out;    // kExit: for stdout (help, version)
  std::string err;    // kExit: for stderr, one line "sluice: error: ...\n"
};

// Exit code for everything that stops sluice before it serves: bad flags, an unusable,
// locked or incompatible data dir, an address that cannot be bound.
inline constexpr int kUsageError = 2;

// Parses `sluice serve [flags]`, `sluice --version`, `sluice --help`. Never throws.
CliCommand parse_command_line(int argc, const char* const* argv);

// The whole program: parse, then serve until SIGINT/SIGTERM. Returns the exit code: 0 after
// a clean stop, 1 when a shutdown step failed, kUsageError when sluice could not start.
int run_cli(int argc, const char* const* argv);

}  // namespace sluice::server
