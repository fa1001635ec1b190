#include "runtime/process_invoker.h"

#include "tests/runtime/invoker_fixture.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace sluice::runtime::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Kind = function::InvokeOutcome::Kind;

std::string pid_of(const std::string& payload) {
  std::smatch m;
  if (!std::regex_search(payload, m, std::regex(R"re("pid": (\d+))re"))) return "";
  return m[1];
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ProcessInvokerTest : public InvokerFixture {
 protected:
  void SetUp() override {
    InvokerFixture::SetUp();
    start();
  }
};

TEST_F(ProcessInvokerTest, PythonHandlerResultIsReturned) {
  const auto arn = python_function("app.ok");
  auto out = invoke(arn, R"({"a":1})");
  EXPECT_EQ(out.kind, Kind::kOk);
  EXPECT_EQ(out.payload, R"({"ok": true, "e": {"a": 1}})");
}

TEST_F(ProcessInvokerTest, HandlerExceptionIsAFunctionErrorWithThePythonDocument) {
  const auto arn = python_function("app.fail");
  std::string id;
  auto out = invoke(arn, "{}", &id);
  EXPECT_EQ(out.kind, Kind::kFunctionError);
  EXPECT_THAT(out.payload, HasSubstr(R"("errorMessage": "bad", "errorType": "ValueError", )"
                                     R"("requestId": ")" +
                                     id + R"(", "stackTrace": [)"));
  // The environment survives a handler error: the next call is warm.
  EXPECT_EQ(invoke(arn, "{}").kind, Kind::kFunctionError);
  EXPECT_EQ(invoker_->stats().cold_starts, 1u);
}

TEST_F(ProcessInvokerTest, InitErrorReturnsThePostedDocumentAndInitRunsAgainNextTime) {
  const auto arn = python_function("nosuch.handler");
  auto out = invoke(arn, "{}");
  EXPECT_EQ(out.kind, Kind::kFunctionError);
  EXPECT_EQ(out.payload,
            R"({"errorMessage": "Unable to import module 'nosuch': No module named 'nosuch'", )"
            R"("errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []})");
  EXPECT_EQ(invoke(arn, "{}").kind, Kind::kFunctionError);
  EXPECT_EQ(invoker_->stats().cold_starts, 2u);
}

TEST_F(ProcessInvokerTest, TimeoutKillsTheEnvironmentAndTheNextCallStartsFresh) {
  const auto arn = python_function("app.sleepy", /*timeout_s=*/1);
  const auto warm = invoke(arn, R"({"sleep":0})");
  ASSERT_EQ(warm.kind, Kind::kOk) << warm.payload;
  const std::string first_pid = pid_of(warm.payload);
  std::string id;
  const auto start = std::chrono::steady_clock::now();
  auto out = invoke(arn, R"({"sleep":30})", &id);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(out.kind, Kind::kTimedOut);
  EXPECT_EQ(out.payload, R"({"errorType":"Sandbox.Timedout","errorMessage":"RequestId: )" + id +
                             R"( Error: Task timed out after 1.00 seconds"})");
  EXPECT_THAT(out.log_tail,
              HasSubstr(id + " Task timed out after 1.00 seconds\nEND RequestId: " + id));
  auto again = invoke(arn, R"({"sleep":0})");
  ASSERT_EQ(again.kind, Kind::kOk) << again.payload;
  EXPECT_NE(pid_of(again.payload), first_pid);
  EXPECT_FALSE(process_exists(first_pid));
}

TEST_F(ProcessInvokerTest, ExitDuringInvocationIsRuntimeExitErrorAndTheEnvironmentIsReplaced) {
  const auto arn = python_function("app.crash");
  std::string id;
  auto out = invoke(arn, "{}", &id);
  EXPECT_EQ(out.kind, Kind::kFunctionError);
  EXPECT_EQ(out.payload, R"({"errorType":"Runtime.ExitError","errorMessage":"RequestId: )" + id +
                             R"( Error: Runtime exited with error: exit status 3"})");
  const auto arn2 = python_function("app.counter");
  EXPECT_EQ(invoke(arn2, "{}").kind, Kind::kOk);
  EXPECT_EQ(invoke(arn, "{}").kind, Kind::kFunctionError);
  EXPECT_EQ(invoker_->stats().cold_starts, 3u);  // crash, counter, crash again: no reuse
}

TEST_F(ProcessInvokerTest, KilledBySignalIsReportedWithTheSignalName) {
  const auto arn = python_function("app.sigkill");
  std::string id;
  auto out = invoke(arn, "{}", &id);
  EXPECT_EQ(out.payload, R"({"errorType":"Runtime.ExitError","errorMessage":"RequestId: )" + id +
                             R"( Error: Runtime exited with error: signal: killed"})");
}

TEST_F(ProcessInvokerTest, WarmEnvironmentKeepsModuleStateAndProcess) {
  const auto arn = python_function("app.counter");
  auto a = invoke(arn, "{}");
  auto b = invoke(arn, "{}");
  auto c = invoke(arn, "{}");
  EXPECT_THAT(a.payload, HasSubstr(R"("count": 1)"));
  EXPECT_THAT(b.payload, HasSubstr(R"("count": 2)"));
  EXPECT_THAT(c.payload, HasSubstr(R"("count": 3)"));
  EXPECT_EQ(pid_of(a.payload), pid_of(c.payload));
  EXPECT_EQ(invoker_->stats().cold_starts, 1u);
}

TEST_F(ProcessInvokerTest, OnlyLambdaVariablesAndTheFunctionsOwnReachTheProcess) {
  ::setenv("SLUICE_SHOULD_NOT_LEAK", "secret", 1);
  const auto arn = python_function("app.env");
  auto out = invoke(arn, "{}");
  ::unsetenv("SLUICE_SHOULD_NOT_LEAK");
  ASSERT_EQ(out.kind, Kind::kOk) << out.payload;
  EXPECT_THAT(out.payload, Not(HasSubstr("SLUICE_SHOULD_NOT_LEAK")));
  const std::set<std::string> allowed = {
      "AWS_LAMBDA_RUNTIME_API",
      "_HANDLER",
      "LAMBDA_TASK_ROOT",
      "LAMBDA_RUNTIME_DIR",
      "AWS_EXECUTION_ENV",
      "AWS_REGION",
      "AWS_DEFAULT_REGION",
      "AWS_LAMBDA_FUNCTION_NAME",
      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
      "AWS_LAMBDA_FUNCTION_VERSION",
      "AWS_LAMBDA_INITIALIZATION_TYPE",
      "AWS_LAMBDA_LOG_GROUP_NAME",
      "AWS_LAMBDA_LOG_STREAM_NAME",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "TZ",
      "LANG",
      "PATH",
      "LD_LIBRARY_PATH",
      "AWS_XRAY_CONTEXT_MISSING",
      "TMPDIR",
      "USER_VAR",
      "_X_AMZN_TRACE_ID",  // set by the client per invocation
      "LC_CTYPE",          // set by the Python interpreter itself (PEP 538 locale coercion)
  };
  const std::regex key(R"re([{,] "([^"]+)": )re");
  std::set<std::string> seen;
  for (auto it = std::sregex_iterator(out.payload.begin(), out.payload.end(), key);
       it != std::sregex_iterator(); ++it) {
    const std::string k = (*it)[1];
    if (k == "env" || k == "cwd") continue;
    seen.insert(k);
    EXPECT_TRUE(allowed.count(k)) << "unexpected variable " << k;
  }
  EXPECT_TRUE(seen.count("AWS_LAMBDA_RUNTIME_API"));
  EXPECT_THAT(out.payload, HasSubstr(R"("USER_VAR": "user-value")"));
  EXPECT_THAT(out.payload, HasSubstr(R"("TZ": ":UTC")"));
  EXPECT_THAT(out.payload, HasSubstr(R"("AWS_EXECUTION_ENV": "AWS_Lambda_python3.11")"));
  EXPECT_THAT(out.payload, HasSubstr(R"("AWS_ACCESS_KEY_ID": "123456789012")"));
  EXPECT_THAT(out.payload, HasSubstr(R"("cwd": ")" + python_root_.string() + "\""));
  EXPECT_THAT(out.payload, HasSubstr(R"("TMPDIR": ")" + (root_ / "scratch").string() + "/env-"));
}

TEST_F(ProcessInvokerTest, ContextCarriesTheInvocationHeaders) {
  const auto arn = python_function("app.ctx");
  std::string id;
  auto out = invoke(arn, "{}", &id);
  ASSERT_EQ(out.kind, Kind::kOk) << out.payload;
  EXPECT_THAT(out.payload, HasSubstr(R"("id": ")" + id + "\""));
  EXPECT_THAT(out.payload, HasSubstr(R"("arn": ")" + arn + "\""));
  EXPECT_THAT(out.payload, HasSubstr(R"("memory": "128")"));
  EXPECT_TRUE(std::regex_search(
      out.payload, std::regex(R"re("stream": "\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}")re")))
      << out.payload;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out.payload, m, std::regex(R"re("remaining": (\d+))re")));
  EXPECT_GT(std::stoi(m[1]), 0);
  EXPECT_LE(std::stoi(m[1]), 5000);
}

TEST_F(ProcessInvokerTest, LogFileAndTailHaveStartEndReportAndHandlerOutput) {
  const auto arn = python_function("app.printer");
  std::string id;
  auto out = invoke(arn, "{}", &id);
  ASSERT_EQ(out.kind, Kind::kOk) << out.payload;
  EXPECT_THAT(out.log_tail, HasSubstr("START RequestId: " + id + " Version: $LATEST\n"));
  EXPECT_THAT(out.log_tail, HasSubstr("hello from the handler\n"));
  EXPECT_THAT(out.log_tail, HasSubstr("\nEND RequestId: " + id + "\n"));
  EXPECT_TRUE(std::regex_search(
      out.log_tail,
      std::regex(
          "REPORT RequestId: " + id +
          R"(\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t\n$)")))
      << out.log_tail;
  const std::string file = read_file(root_ / "logs/us-east-1/123456789012/py-printer.log");
  EXPECT_THAT(file, HasSubstr("START RequestId: " + id));
  EXPECT_THAT(file, HasSubstr("hello from the handler"));
  EXPECT_THAT(file, HasSubstr("REPORT RequestId: " + id));
  // A warm invocation's REPORT has no Init Duration.
  auto warm = invoke(arn, "{}");
  EXPECT_THAT(warm.log_tail, Not(HasSubstr("Init Duration")));
}

TEST_F(ProcessInvokerTest, LogTailKeepsTheLast4096Bytes) {
  write_file(
      python_root_ / "chatty.py",
      "def handler(e, c):\n    for i in range(2000):\n        print('line', i)\n    return 0\n");
  const auto arn = add_function("chatty", "python3.11", "chatty.handler", python_root_);
  auto out = invoke(arn, "{}");
  ASSERT_EQ(out.kind, Kind::kOk);
  EXPECT_EQ(out.log_tail.size(), 4096u);
  EXPECT_THAT(out.log_tail, HasSubstr("line 1999\n"));
}

TEST_F(ProcessInvokerTest, ResponseOver6MBIsFunctionResponseSizeTooLarge) {
  const auto arn = python_function("app.big");
  auto out = invoke(arn, "{}");
  EXPECT_EQ(out.kind, Kind::kFunctionError);
  EXPECT_EQ(
      out.payload,
      R"({"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"})");
}

TEST_F(ProcessInvokerTest, AddressSpaceLimitStopsAHugeAllocation) {
  const auto arn = python_function("app.hog");
  auto out = invoke(arn, "{}");
  EXPECT_EQ(out.kind, Kind::kFunctionError);
  EXPECT_THAT(out.payload, HasSubstr(R"("errorType": "MemoryError")"));
}

TEST_F(ProcessInvokerTest, NewRevisionGetsANewEnvironment) {
  const auto arn = python_function("app.counter");
  auto a = invoke(arn, "{}");
  set_revision(arn, "rev-2");
  auto b = invoke(arn, "{}");
  EXPECT_THAT(b.payload, HasSubstr(R"("count": 1)"));
  EXPECT_NE(pid_of(a.payload), pid_of(b.payload));
  invoker_->retire(arn);
  auto c = invoke(arn, "{}");
  EXPECT_THAT(c.payload, HasSubstr(R"("count": 1)"));
  EXPECT_NE(pid_of(b.payload), pid_of(c.payload));
}

TEST_F(ProcessInvokerTest, UnknownFunctionIsUnavailable) {
  auto out = invoke("arn:aws:lambda:us-east-1:123456789012:function:nope", "{}");
  EXPECT_EQ(out.kind, Kind::kUnavailable);
  EXPECT_EQ(out.payload, "ResourceNotFound");
}

TEST_F(ProcessInvokerTest, NodeHandlerResultIsReturned) {
  const auto root = root_ / "code-node";
  write_file(root / "index.js",
             "let n = 0;\nexports.handler = async (event, context) => ({n: ++n, "
             "id: context.awsRequestId, e: event});\n");
  const auto arn = add_function("node-ok", "nodejs20.x", "index.handler", root);
  std::string id;
  auto out = invoke(arn, R"({"b":2})", &id);
  ASSERT_EQ(out.kind, Kind::kOk) << out.payload;
  EXPECT_EQ(out.payload, R"({"n":1,"id":")" + id + R"(","e":{"b":2}})");
  EXPECT_THAT(invoke(arn, "{}").payload, HasSubstr(R"("n":2)"));
}

// The custom-runtime tutorial's script: #!/bin/sh with bash-only options, curl for HTTP.
constexpr const char* kBashBootstrap = R"SH(#!/bin/sh
set -euo pipefail
function handle () {
  echo "{\"echo\":$1,\"handler\":\"$_HANDLER\"}"
}
while true; do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "bootstrap got $REQUEST_ID"
  RESPONSE=$(handle "$EVENT_DATA")
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE" > /dev/null
done
)SH";

TEST_F(ProcessInvokerTest, ProvidedBashBootstrapWithCurlWorks) {
  const auto root = root_ / "code-provided";
  write_file(root / "bootstrap", kBashBootstrap, /*executable=*/true);
  const auto arn = add_function("provided-ok", "provided.al2023", "function.handler", root);
  std::string id;
  auto out = invoke(arn, R"({"c":3})", &id);
  ASSERT_EQ(out.kind, Kind::kOk) << out.payload << out.log_tail;
  EXPECT_EQ(out.payload, R"({"echo":{"c":3},"handler":"function.handler"})");
  EXPECT_THAT(out.log_tail, HasSubstr("bootstrap got " + id));
  EXPECT_EQ(invoke(arn, R"({"c":4})").payload, R"({"echo":{"c":4},"handler":"function.handler"})");
  EXPECT_EQ(invoker_->stats().cold_starts, 1u);
}

TEST_F(ProcessInvokerTest, MissingOrNonExecutableBootstrapIsInvalidEntrypoint) {
  const auto root = root_ / "code-empty";
  std::filesystem::create_directories(root);
  const auto arn = add_function("no-bootstrap", "provided.al2", "x", root);
  std::string id;
  auto out = invoke(arn, "{}", &id);
  EXPECT_EQ(out.kind, Kind::kFunctionError);
  EXPECT_EQ(out.payload, R"({"errorType":"Runtime.InvalidEntrypoint","errorMessage":"RequestId: )" +
                             id + " Error: Couldn't find valid bootstrap(s): [" + root.string() +
                             R"(/bootstrap /opt/bootstrap]"})");
  write_file(root / "bootstrap", kBashBootstrap, /*executable=*/false);
  EXPECT_THAT(invoke(arn, "{}").payload, HasSubstr("Runtime.InvalidEntrypoint"));
}

TEST_F(ProcessInvokerTest, RuntimeThatExitsWithoutCallingNextIsExitError) {
  const auto root = root_ / "code-exit0";
  write_file(root / "bootstrap", "#!/bin/bash\necho starting\nexit 0\n", true);
  const auto arn = add_function("exit0", "provided", "x", root);
  std::string id;
  auto out = invoke(arn, "{}", &id);
  EXPECT_EQ(out.payload, R"({"errorType":"Runtime.ExitError","errorMessage":"RequestId: )" + id +
                             R"( Error: Runtime exited without providing a reason"})");
  EXPECT_THAT(out.log_tail, HasSubstr("starting\n"));
}

TEST_F(ProcessInvokerTest, RuntimeThatNeverCallsNextTimesOutAndIsKilled) {
  const auto root = root_ / "code-hang";
  write_file(root / "bootstrap", "#!/bin/bash\necho $$ > \"$TMPDIR/../hang.pid\"\nexec sleep 60\n",
             true);
  const auto arn = add_function("hang", "provided", "x", root, /*timeout_s=*/1);
  std::string id;
  auto out = invoke(arn, "{}", &id);
  EXPECT_EQ(out.kind, Kind::kTimedOut);
  EXPECT_THAT(out.payload, HasSubstr("Task timed out after 1.00 seconds"));
  const std::string pid = read_file(root_ / "scratch/hang.pid");
  ASSERT_FALSE(pid.empty());
  for (int i = 0; i < 100 && process_exists(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // SIGKILL is asynchronous
  }
  EXPECT_FALSE(process_exists(pid));
}

TEST_F(ProcessInvokerTest, EndpointUrlReachesEnvironmentsStartedAfterItIsSet) {
  const auto arn = python_function("app.env");
  auto before = invoke(arn, "{}");
  ASSERT_EQ(before.kind, Kind::kOk) << before.payload;
  EXPECT_THAT(before.payload, Not(HasSubstr("AWS_ENDPOINT_URL")));
  invoker_->set_endpoint_url("http://127.0.0.1:4566");
  set_revision(arn, "rev-2");  // a fresh environment
  auto after = invoke(arn, "{}");
  ASSERT_EQ(after.kind, Kind::kOk) << after.payload;
  EXPECT_THAT(after.payload, HasSubstr(R"("AWS_ENDPOINT_URL": "http://127.0.0.1:4566")"));
}

class ProcessInvokerTimersTest : public InvokerFixture {};

TEST_F(ProcessInvokerTimersTest, IdleEnvironmentIsRetiredAfterItsLifetime) {
  auto o = options();
  o.idle_lifetime = std::chrono::milliseconds(300);
  start(std::move(o));
  const auto arn = python_function("app.counter");
  const std::string pid = pid_of(invoke(arn, "{}").payload);
  ASSERT_TRUE(process_exists(pid));
  // The count drops once the invoker thread has reaped the process, a moment after it is gone.
  for (int i = 0; i < 150 && (process_exists(pid) || invoker_->stats().environments != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(process_exists(pid));
  EXPECT_EQ(invoker_->stats().environments, 0u);
  const auto next = invoke(arn, "{}");
  EXPECT_THAT(next.payload, HasSubstr(R"("count": 1)"));  // a new process: module state is new
  EXPECT_NE(pid_of(next.payload), pid);
  EXPECT_EQ(invoker_->stats().cold_starts, 2u);
}

TEST_F(ProcessInvokerTimersTest, InitTimeoutEndsARuntimeThatNeverAsksForWork) {
  auto o = options();
  o.init_timeout = std::chrono::milliseconds(300);
  start(std::move(o));
  const auto root = root_ / "code-silent";
  write_file(root / "bootstrap",
             "#!/bin/bash\necho $$ > \"$TMPDIR/../silent.pid\"\nexec sleep 60\n", true);
  const auto arn = add_function("silent", "provided.al2023", "x", root, /*timeout_s=*/20);
  const auto begin = std::chrono::steady_clock::now();
  auto out = invoke(arn, "{}");
  const auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_EQ(out.kind, Kind::kTimedOut) << out.payload;
  EXPECT_LT(took, std::chrono::seconds(10));  // the init timeout, not the 20 s function timeout
  const std::string pid = read_file(root_ / "scratch/silent.pid");
  ASSERT_FALSE(pid.empty());
  for (int i = 0; i < 100 && process_exists(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(process_exists(pid));
}

TEST_F(ProcessInvokerTest, ShutdownEndsIdleEnvironments) {
  const auto arn = python_function("app.counter");
  const std::string pid = pid_of(invoke(arn, "{}").payload);
  ASSERT_TRUE(process_exists(pid));
  invoker_->shutdown();
  EXPECT_FALSE(process_exists(pid));  // reaped too: not even a zombie
  EXPECT_EQ(invoker_->stats().environments, 0u);
  EXPECT_EQ(invoke(arn, "{}").payload, "Stopped");
}

}  // namespace
}  // namespace sluice::runtime::testing
