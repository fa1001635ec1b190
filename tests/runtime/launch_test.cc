#include "runtime/internal/launch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace sluice::runtime::internal {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

function::FunctionSpec spec(std::string runtime) {
  function::FunctionSpec s;
  s.account = "000000000000";
  s.region = "eu-west-1";
  s.name = "f";
  s.runtime = std::move(runtime);
  s.handler = "app.handler";
  s.task_root = "/code";
  s.memory_mb = 256;
  return s;
}

TEST(LaunchTest, PythonUsesTheOverrideAndTheEmbeddedClient) {
  LaunchSettings s;
  s.clients_dir = "/rt";
  s.interpreters = {{"python3.12", "/opt/py/bin/python3.12"}};
  auto plan = plan_launch(spec("python3.12"), s);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->argv, ElementsAre("/opt/py/bin/python3.12", "/rt/sluice_runtime.py"));
  EXPECT_EQ(plan->interpreter_dir, "/opt/py/bin");
  EXPECT_TRUE(plan->warning.empty());
}

TEST(LaunchTest, PythonFallsBackToPython3WithAWarning) {
  LaunchSettings s;
  s.clients_dir = "/rt";
  s.search_path = "/usr/bin:/bin";
  auto plan = plan_launch(spec("python3.99"), s);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->argv[0], "/usr/bin/python3");
  EXPECT_FALSE(plan->warning.empty());
}

TEST(LaunchTest, ExecWrapperGoesFirstForManagedRuntimes) {
  auto f = spec("nodejs20.x");
  f.environment["AWS_LAMBDA_EXEC_WRAPPER"] = "/code/wrap";
  LaunchSettings s;
  s.clients_dir = "/rt";
  s.interpreters = {{"node", "/n/node"}};
  auto plan = plan_launch(f, s);
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(plan->argv, ElementsAre("/code/wrap", "/n/node", "--max-old-space-size=230",
                                      "/rt/sluice_runtime.mjs"));
}

TEST(LaunchTest, UnknownRuntimeAndMissingBootstrapAreRefused) {
  EXPECT_EQ(plan_launch(spec("java21"), {}).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(plan_launch(spec("provided.al2023"), {}).status().is_not_found());
}

TEST(LaunchTest, ShimDirectoriesAreSkipped) {
  EXPECT_EQ(find_executable("sh", "/nonexistent/shims:/bin"), "/bin/sh");
  EXPECT_EQ(find_executable("sh", "relative:/nonexistent"), "");
}

TEST(LaunchTest, EnvironmentHasTheLambdaSetAndReservedNamesWin) {
  auto f = spec("python3.12");
  f.environment = {{"PATH", "/mine"}, {"AWS_REGION", "xx"}, {"MY", "1"}};
  EnvironmentValues v;
  v.runtime_api = "127.0.0.1:9";
  v.clients_dir = "/rt";
  v.scratch_dir = "/s";
  v.log_stream_name = "ls";
  auto env = build_environment(f, RuntimeFamily::kPython, v);
  EXPECT_THAT(env, Contains("PATH=/mine"));
  EXPECT_THAT(env, Contains("AWS_REGION=eu-west-1"));
  EXPECT_THAT(env, Contains("MY=1"));
  EXPECT_THAT(env, Contains("AWS_LAMBDA_RUNTIME_API=127.0.0.1:9"));
  EXPECT_THAT(env, Contains("AWS_EXECUTION_ENV=AWS_Lambda_python3.12"));
  EXPECT_THAT(env, Contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256"));
  EXPECT_THAT(env, Contains("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/f"));
  EXPECT_THAT(env, Contains("LD_LIBRARY_PATH=/code:/code/lib"));
  EXPECT_THAT(env, Contains("TZ=:UTC"));
  EXPECT_THAT(env, Contains("TMPDIR=/s"));
  auto provided = build_environment(spec("provided"), RuntimeFamily::kProvided, {});
  EXPECT_FALSE(std::any_of(provided.begin(), provided.end(), [](const std::string& e) {
    return e.starts_with("AWS_EXECUTION_ENV=");
  }));
}

TEST(LaunchTest, OnlyHotReloadFunctionsKeepPythonsBytecodeCacheInTheirScratchSpace) {
  EnvironmentValues v;
  v.scratch_dir = "/s";
  auto f = spec("python3.12");
  const auto has_prefix = [](const std::vector<std::string>& env) {
    return std::any_of(env.begin(), env.end(),
                       [](const std::string& e) { return e.starts_with("PYTHONPYCACHEPREFIX="); });
  };
  EXPECT_FALSE(has_prefix(build_environment(f, RuntimeFamily::kPython, v)));
  f.hot_reload = true;
  EXPECT_THAT(build_environment(f, RuntimeFamily::kPython, v),
              Contains("PYTHONPYCACHEPREFIX=/s/pycache"));
  f.environment = {{"PYTHONPYCACHEPREFIX", "/mine"}};  // the function's own value wins
  EXPECT_THAT(build_environment(f, RuntimeFamily::kPython, v),
              Contains("PYTHONPYCACHEPREFIX=/mine"));
}

// Every reserved name a function sets (an older catalog could hold one) is either replaced by
// Sluice's value or removed; none keeps the function's value.
TEST(LaunchTest, NoReservedNameKeepsTheFunctionsValue) {
  for (const RuntimeFamily family : {RuntimeFamily::kPython, RuntimeFamily::kProvided}) {
    auto f = spec(family == RuntimeFamily::kPython ? "python3.12" : "provided.al2023");
    for (const std::string_view key : function::kReservedEnvironmentKeys) {
      f.environment[std::string(key)] = "from-the-function";
    }
    for (const std::string& entry : build_environment(f, family, EnvironmentValues{})) {
      EXPECT_FALSE(entry.ends_with("=from-the-function")) << entry;
    }
  }
}

}  // namespace
}  // namespace sluice::runtime::internal
