#pragma once

#include "base/result.h"
#include "function/function.h"

#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

// How a runtime process is started: its command line (spec 5.3), its environment built from
// scratch (spec 5.2), and posix_spawn itself. No shell is ever involved: argv goes to execve
// as it is. Called on the invoker's thread.
namespace sluice::runtime::internal {

enum class RuntimeFamily { kPython, kNode, kProvided };

struct LaunchSettings {
  std::string clients_dir;  // holds the embedded clients; LAMBDA_RUNTIME_DIR
  std::string search_path;  // colon-separated directories searched for interpreters
  // Absolute interpreter paths by runtime name ("python3.12") or family ("python", "node",
  // "bash"); an entry wins over the search.
  std::map<std::string, std::string> interpreters;
  bool run_sh_bootstrap_with_bash = true;  // spec 5.3: `#!/bin/sh` bootstraps run under bash
};

struct LaunchPlan {
  RuntimeFamily family = RuntimeFamily::kProvided;
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::string interpreter_dir;    // put first on PATH; empty for provided*
  std::string warning;            // e.g. an interpreter that does not match the runtime
};

// The family of a runtime name; kInvalidArgument for names Sluice does not run.
Result<RuntimeFamily> runtime_family(std::string_view runtime);

// The command for `spec`. kNotFound: a provided* function without an executable regular file
// `<task_root>/bootstrap` (the caller answers Runtime.InvalidEntrypoint); kUnavailable: no
// interpreter found; kInvalidArgument: unknown runtime. For managed runtimes an
// AWS_LAMBDA_EXEC_WRAPPER among the function's variables is put in front of the command.
Result<LaunchPlan> plan_launch(const function::FunctionSpec& spec, const LaunchSettings& settings);

// An executable regular file `name` in one of the colon-separated `dirs`; empty when none.
// Skips directories named "shims" (pyenv, asdf): their launchers depend on the caller's own
// environment, which a function never gets.
std::string find_executable(std::string_view name, std::string_view dirs);

struct EnvironmentValues {
  std::string runtime_api;      // "127.0.0.1:<port>"
  std::string clients_dir;      // LAMBDA_RUNTIME_DIR
  std::string scratch_dir;      // TMPDIR
  std::string log_stream_name;  // AWS_LAMBDA_LOG_STREAM_NAME
  std::string interpreter_dir;  // first entry of PATH when not empty
  std::string endpoint_url;     // AWS_ENDPOINT_URL when not empty
};

// The complete environment of a runtime process, "NAME=value" sorted by name: the Lambda
// variables of spec 5.2, then the function's own variables on top of the non-reserved ones.
// Reserved names always keep Sluice's value. Nothing comes from Sluice's own environment.
std::vector<std::string> build_environment(const function::FunctionSpec& spec, RuntimeFamily family,
                                           const EnvironmentValues& v);

struct SpawnRequest {
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string cwd;
  int output_fd = -1;  // becomes stdout and stderr; stdin is /dev/null
};

// posix_spawn in a new process group (pgid == pid), default signal dispositions, an empty
// signal mask, every descriptor above 2 closed. kIOError (with errno text) on failure.
Result<pid_t> spawn_process(const SpawnRequest& request);

}  // namespace sluice::runtime::internal
