#pragma once

#include "runtime/process_invoker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace sluice::runtime::testing {

// Python handlers used by the tests; each test picks one with its Handler setting.
inline constexpr const char* kPythonApp = R"PY(import os, signal, time
count = 0
def ok(event, context):
    return {"ok": True, "e": event}
def counter(event, context):
    global count
    count += 1
    return {"count": count, "pid": os.getpid()}
def fail(event, context):
    raise ValueError("bad")
def sleepy(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
def crash(event, context):
    os._exit(3)
def sigkill(event, context):
    os.kill(os.getpid(), signal.SIGKILL)
def env(event, context):
    return {"env": dict(os.environ), "cwd": os.getcwd()}
def printer(event, context):
    print("hello from the handler")
    return 1
def big(event, context):
    return "x" * (7 * 1024 * 1024)
def hog(event, context):
    block = bytearray(1024 * 1024 * 1024)
    return len(block)
def ctx(event, context):
    return {"id": context.aws_request_id, "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
            "stream": context.log_stream_name, "memory": context.memory_limit_in_mb}
)PY";

// A ProcessInvoker over a temporary directory, with functions registered in a map that the
// lookup reads (tests change revisions and reserved concurrency through it).
class InvokerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = std::filesystem::temp_directory_path() /
            ("sluice-runtime-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(root_);
    python_root_ = root_ / "code-python";
    write_file(python_root_ / "app.py", kPythonApp);
  }

  void TearDown() override {
    invoker_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  ProcessInvokerOptions options() const {
    ProcessInvokerOptions o;
    o.clients_dir = root_ / "clients";
    o.log_dir = root_ / "logs";
    o.scratch_dir = root_ / "scratch";
    o.stop_grace = std::chrono::milliseconds(500);
    return o;
  }

  void start(ProcessInvokerOptions o) {
    auto created = ProcessInvoker::create(std::move(o), [this](const std::string& arn) {
      std::lock_guard lock(mu_);
      auto it = functions_.find(arn);
      if (it == functions_.end()) return Result<FunctionTarget>(Status::not_found(arn));
      return Result<FunctionTarget>(it->second);
    });
    ASSERT_TRUE(created.ok()) << created.status();
    invoker_ = std::move(*created);
  }
  void start() { start(options()); }

  static void write_file(const std::filesystem::path& path, std::string_view text,
                         bool executable = false) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    ::chmod(path.c_str(), executable ? 0755 : 0644);
  }

  // Registers (or replaces) a function and returns its ARN.
  std::string add_function(const std::string& name, const std::string& runtime,
                           const std::string& handler, const std::filesystem::path& task_root,
                           int32_t timeout_s = 5, std::optional<int32_t> reserved = std::nullopt) {
    FunctionTarget t;
    t.spec.account = "123456789012";
    t.spec.region = "us-east-1";
    t.spec.name = name;
    t.spec.arn = "arn:aws:lambda:us-east-1:123456789012:function:" + name;
    t.spec.runtime = runtime;
    t.spec.handler = handler;
    t.spec.timeout_s = timeout_s;
    t.spec.memory_mb = 128;
    t.spec.task_root = task_root.string();
    t.spec.revision_id = "rev-1";
    t.spec.environment = {{"USER_VAR", "user-value"}};
    t.reserved_concurrency = reserved;
    std::lock_guard lock(mu_);
    functions_[t.spec.arn] = t;
    return t.spec.arn;
  }

  void set_revision(const std::string& arn, const std::string& revision) {
    std::lock_guard lock(mu_);
    functions_[arn].spec.revision_id = revision;
  }

  std::string python_function(const std::string& handler, int32_t timeout_s = 5) {
    return add_function("py-" + std::string(handler.substr(handler.find('.') + 1)), "python3.11",
                        handler, python_root_, timeout_s);
  }

  function::Invocation invocation(const std::string& arn, std::string payload) {
    function::Invocation inv;
    inv.request_id = fmt::format("00000000-0000-4000-8000-{:012x}", ++next_id_);
    inv.function_arn = arn;
    inv.payload = std::move(payload);
    return inv;  // deadline left default: now + the function's timeout
  }

  // Starts an invocation; the future is ready when `done` was called.
  std::future<function::InvokeOutcome> invoke_async(function::Invocation inv) {
    auto promise = std::make_shared<std::promise<function::InvokeOutcome>>();
    auto future = promise->get_future();
    invoker_->invoke(std::move(inv), [promise](function::InvokeOutcome outcome) {
      promise->set_value(std::move(outcome));
    });
    return future;
  }

  function::InvokeOutcome invoke(const std::string& arn, std::string payload,
                                 std::string* request_id = nullptr) {
    auto inv = invocation(arn, std::move(payload));
    if (request_id != nullptr) *request_id = inv.request_id;
    auto future = invoke_async(std::move(inv));
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "invocation did not complete";
      return {};
    }
    return future.get();
  }

  std::filesystem::path root_;
  std::filesystem::path python_root_;
  std::unique_ptr<ProcessInvoker> invoker_;
  std::mutex mu_;
  std::map<std::string, FunctionTarget> functions_;
  std::atomic<uint64_t> next_id_{0};  // invocation() runs on several test threads
};

inline bool process_exists(const std::string& pid_text) {
  return ::kill(std::stoi(pid_text), 0) == 0;
}

}  // namespace sluice::runtime::testing
