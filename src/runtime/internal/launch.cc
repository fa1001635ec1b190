#include "runtime/internal/launch.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sluice::runtime::internal {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// The interpreter for `family_key` ("python", "node", "bash"), looked up under `names` in
// order: overrides first, then the search path.
std::string pick_interpreter(const LaunchSettings& s, const std::vector<std::string>& names,
                             const std::string& family_key) {
  for (const auto& n : names) {
    if (auto it = s.interpreters.find(n); it != s.interpreters.end()) return it->second;
  }
  if (auto it = s.interpreters.find(family_key); it != s.interpreters.end()) return it->second;
  for (const auto& n : names) {
    std::string found = find_executable(n, s.search_path);
    if (!found.empty()) return found;
  }
  return {};
}

std::string first_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

Result<RuntimeFamily> runtime_family(std::string_view runtime) {
  if (starts_with(runtime, "python3.") && runtime.size() > 8) return RuntimeFamily::kPython;
  if (starts_with(runtime, "nodejs") && runtime.size() > 8 && runtime.ends_with(".x")) {
    return RuntimeFamily::kNode;
  }
  if (runtime == "provided" || runtime == "provided.al2" || runtime == "provided.al2023") {
    return RuntimeFamily::kProvided;
  }
  return Status::invalid_argument(fmt::format("runtime {} is not supported", runtime));
}

std::string find_executable(std::string_view name, std::string_view dirs) {
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t colon = dirs.find(':', pos);
    if (colon == std::string_view::npos) colon = dirs.size();
    const std::string dir(dirs.substr(pos, colon - pos));
    pos = colon + 1;
    if (dir.empty() || dir.front() != '/') continue;  // relative entries mean nothing here
    if (dir.ends_with("/shims")) continue;
    std::string candidate = dir + "/" + std::string(name);
    if (is_executable_file(candidate)) return candidate;
  }
  return {};
}

Result<LaunchPlan> plan_launch(const function::FunctionSpec& spec, const LaunchSettings& s) {
  auto family = runtime_family(spec.runtime);
  if (!family.ok()) return family.status();
  LaunchPlan plan;
  plan.family = *family;
  switch (plan.family) {
    case RuntimeFamily::kPython: {
      std::string python = pick_interpreter(s, {spec.runtime, "python3"}, "python");
      if (python.empty()) {
        return Status::unavailable(
            fmt::format("no {} or python3 in {}", spec.runtime, s.search_path));
      }
      if (!python.ends_with("/" + spec.runtime)) {
        plan.warning = fmt::format("runtime {} runs on {}", spec.runtime, python);
      }
      plan.interpreter_dir = dir_of(python);
      plan.argv = {python, s.clients_dir + "/sluice_runtime.py"};
      break;
    }
    case RuntimeFamily::kNode: {
      std::string node = pick_interpreter(s, {"node"}, "node");
      if (node.empty()) return Status::unavailable("no node in " + s.search_path);
      plan.interpreter_dir = dir_of(node);
      // V8 sizes its heap from the machine, not from the function: cap the old generation at
      // the function's memory as AWS's own Node bootstrap does (RLIMIT_AS cannot: V8 reserves
      // far more address space than it uses).
      plan.argv = {node,
                   fmt::format("--max-old-space-size={}", std::max(16, spec.memory_mb * 9 / 10)),
                   s.clients_dir + "/sluice_runtime.mjs"};
      break;
    }
    case RuntimeFamily::kProvided: {
      const std::string bootstrap = spec.task_root + "/bootstrap";
      if (!is_executable_file(bootstrap)) return Status::not_found(bootstrap);
      const std::string shebang = first_line(bootstrap);
      if (s.run_sh_bootstrap_with_bash &&
          (shebang == "#!/bin/sh" || starts_with(shebang, "#!/bin/sh ") ||
           starts_with(shebang, "#! /bin/sh"))) {
        std::string bash = pick_interpreter(s, {"bash"}, "bash");
        if (!bash.empty()) {
          plan.argv = {bash, bootstrap};
          return plan;
        }
      }
      plan.argv = {bootstrap};
      return plan;  // a custom runtime gets no wrapper and no arguments
    }
  }
  if (auto it = spec.environment.find("AWS_LAMBDA_EXEC_WRAPPER");
      it != spec.environment.end() && !it->second.empty()) {
    plan.argv.insert(plan.argv.begin(), it->second);
  }
  return plan;
}

std::vector<std::string> build_environment(const function::FunctionSpec& spec, RuntimeFamily family,
                                           const EnvironmentValues& v) {
  std::map<std::string, std::string> env;
  // Not reserved: the function's own variables may replace these.
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  if (!v.interpreter_dir.empty() && v.interpreter_dir != "/usr/local/bin" &&
      v.interpreter_dir != "/usr/bin" && v.interpreter_dir != "/bin") {
    path = v.interpreter_dir + ":" + path;
  }
  env["PATH"] = path;
  env["LANG"] = "en_US.UTF-8";
  env["LD_LIBRARY_PATH"] = spec.task_root + ":" + spec.task_root + "/lib";
  env["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR";
  env["TMPDIR"] = v.scratch_dir;
  if (!v.endpoint_url.empty()) env["AWS_ENDPOINT_URL"] = v.endpoint_url;
  // A hot-reload directory is the user's: Python's bytecode cache goes to the environment's
  // scratch space instead, which also keeps a fresh environment from trusting a cached file
  // whose source changed within the same second at the same size (the cache checks only
  // those two).
  if (spec.hot_reload) env["PYTHONPYCACHEPREFIX"] = v.scratch_dir + "/pycache";
  for (const auto& [name, value] : spec.environment) env[name] = value;
  // Reserved: always Sluice's values, or none. (The control plane refuses them already; a
  // catalog written by an older Sluice could still hold one.)
  for (const std::string_view key : function::kReservedEnvironmentKeys) {
    env.erase(std::string(key));
  }
  env["AWS_LAMBDA_RUNTIME_API"] = v.runtime_api;
  env["_HANDLER"] = spec.handler;
  env["LAMBDA_TASK_ROOT"] = spec.task_root;
  env["LAMBDA_RUNTIME_DIR"] = v.clients_dir;
  if (family != RuntimeFamily::kProvided) env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + spec.runtime;
  env["AWS_REGION"] = spec.region;
  env["AWS_DEFAULT_REGION"] = spec.region;
  env["AWS_LAMBDA_FUNCTION_NAME"] = spec.name;
  env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(spec.memory_mb);
  env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST";
  env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand";
  env["AWS_LAMBDA_LOG_GROUP_NAME"] =
      spec.log_group.empty() ? "/aws/lambda/" + spec.name : spec.log_group;
  env["AWS_LAMBDA_LOG_STREAM_NAME"] = v.log_stream_name;
  env["AWS_ACCESS_KEY_ID"] = spec.account;
  env["AWS_SECRET_ACCESS_KEY"] = "test";
  env["AWS_SESSION_TOKEN"] = "test";
  env["TZ"] = ":UTC";
  // AWS_ACCESS_KEY and _X_AMZN_TRACE_ID stay unset: the runtime client sets the trace id per
  // invocation.
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

Result<pid_t> spawn_process(const SpawnRequest& r) {
  std::vector<char*> argv;
  for (const auto& a : r.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : r.envp) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, r.output_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, r.output_fd, 2);
  // Sluice's sockets and files (Asio does not mark them close-on-exec) stay out of functions.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawn_file_actions_addchdir_np(&actions, r.cwd.c_str());
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK);
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Status::from_errno("starting " + r.argv[0], err);
  return pid;
}

}  // namespace sluice::runtime::internal
