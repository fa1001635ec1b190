#include "runtime/inprocess_invoker.h"

#include "runtime/internal/log_lines.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace sluice::runtime {
namespace {

using function::InvokeOutcome;
using Kind = function::InvokeOutcome::Kind;
using namespace std::chrono_literals;

std::filesystem::path test_library(int version) {
  return std::filesystem::path(SLUICE_TEST_HANDLER_DIR) /
         ("libtest_handlers_v" + std::to_string(version) + ".so");
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int count_of(std::string_view text, std::string_view needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// Waits (with a deadline) until `cond` holds; false at the deadline.
template <typename Cond>
bool eventually(Cond cond, std::chrono::milliseconds limit = 5s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

class InProcessInvokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = std::filesystem::temp_directory_path() /
            ("sluice-inprocess-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(root_);
  }
  void TearDown() override {
    invoker_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  // A code directory holding libtest_handlers_v<version>.so as "lib/handler.so".
  std::string code(int version, const std::string& dir) {
    const auto lib_dir = root_ / dir / "lib";
    std::filesystem::create_directories(lib_dir);
    std::filesystem::copy_file(test_library(version), lib_dir / "handler.so",
                               std::filesystem::copy_options::overwrite_existing);
    return (root_ / dir).string();
  }

  function::FunctionSpec spec(const std::string& name, const std::string& handler,
                              const std::string& task_root, const std::string& revision = "r1") {
    function::FunctionSpec s;
    s.account = "000000000000";
    s.region = "us-east-1";
    s.name = name;
    s.arn = function::function_arn(s.region, s.account, name);
    s.runtime = std::string(kInProcessRuntime);
    s.handler = handler;
    s.task_root = task_root;
    s.revision_id = revision;
    s.timeout_s = 3;
    return s;
  }

  void put(function::FunctionSpec s, std::optional<int32_t> reserved = std::nullopt) {
    std::lock_guard lock(mu_);
    const std::string arn = s.arn;
    functions_[arn] = FunctionTarget{std::move(s), reserved};
  }

  void start(InProcessInvokerOptions o = {}) {
    if (o.log_dir.empty()) o.log_dir = root_ / "logs";
    if (o.scratch_dir.empty()) o.scratch_dir = root_ / "scratch";
    auto created = InProcessInvoker::create(
        std::move(o), [this](const std::string& arn) -> Result<FunctionTarget> {
          std::lock_guard lock(mu_);
          auto it = functions_.find(arn);
          if (it == functions_.end()) return Status::not_found(arn);
          return it->second;
        });
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    invoker_ = std::move(*created);
  }

  function::Invocation invocation(const std::string& name, std::string payload) {
    function::Invocation inv;
    inv.request_id = "req-" + std::to_string(next_id_++);
    inv.function_arn = function::function_arn("us-east-1", "000000000000", name);
    inv.payload = std::move(payload);
    return inv;
  }

  std::future<InvokeOutcome> invoke_async(function::Invocation inv) {
    auto promise = std::make_shared<std::promise<InvokeOutcome>>();
    auto future = promise->get_future();
    invoker_->invoke(std::move(inv),
                     [promise](InvokeOutcome o) { promise->set_value(std::move(o)); });
    return future;
  }

  InvokeOutcome invoke(const std::string& name, std::string payload = "{}") {
    auto f = invoke_async(invocation(name, std::move(payload)));
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  }

  std::filesystem::path log_file(const std::string& name) const {
    return root_ / "logs" / "us-east-1" / "000000000000" / (name + ".log");
  }

  std::filesystem::path root_;
  std::mutex mu_;
  std::map<std::string, FunctionTarget> functions_;
  std::unique_ptr<InProcessInvoker> invoker_;
  int next_id_ = 1;
};

TEST_F(InProcessInvokerTest, ReturnsTheDefaultEntryPointsResult) {
  put(spec("f", "lib/handler.so", code(1, "a")));
  start();
  InvokeOutcome o = invoke("f", R"({"n":1})");
  EXPECT_EQ(o.kind, Kind::kOk);
  EXPECT_EQ(o.payload, R"({"version":1,"echo":{"n":1}})");
  EXPECT_EQ(o.content_type, "application/json");
}

TEST_F(InProcessInvokerTest, NamedSymbolAndContentTypeAreUsed) {
  const std::string root = code(1, "a");
  put(spec("echo", "lib/handler.so:echo", root));
  put(spec("text", "lib/handler.so:text", root));
  start();
  InvokeOutcome echo = invoke("echo", R"(["a",1])");
  EXPECT_EQ(echo.kind, Kind::kOk);
  EXPECT_EQ(echo.payload, R"(["a",1])");
  InvokeOutcome text = invoke("text");
  EXPECT_EQ(text.kind, Kind::kOk);
  EXPECT_EQ(text.payload, "plain words");
  EXPECT_EQ(text.content_type, "text/plain");
}

TEST_F(InProcessInvokerTest, LogsFramedLinesToTheFunctionLogAndTheTail) {
  put(spec("f", "lib/handler.so:echo", code(1, "a")));
  start();
  InvokeOutcome first = invoke("f", "[1,2]");
  ASSERT_EQ(first.kind, Kind::kOk);
  EXPECT_EQ(first.log_tail.rfind("START RequestId: req-1 Version: $LATEST\necho 5\nEND RequestId: "
                                 "req-1\nREPORT RequestId: req-1\tDuration: ",
                                 0),
            0u)
      << first.log_tail;
  EXPECT_NE(first.log_tail.find("Init Duration: "), std::string::npos);  // the load
  InvokeOutcome second = invoke("f", "[]");
  EXPECT_EQ(second.log_tail.find("req-1"), std::string::npos);  // only its own lines
  EXPECT_EQ(second.log_tail.find("Init Duration"), std::string::npos);
  // Max Memory Used is this process's peak RSS: at least a megabyte, and no more than the
  // peak read after the call.
  const size_t used_at = second.log_tail.find("Max Memory Used: ");
  ASSERT_NE(used_at, std::string::npos) << second.log_tail;
  const int64_t used_mb = std::stoll(second.log_tail.substr(used_at + 17));
  struct rusage usage {};
  ASSERT_EQ(::getrusage(RUSAGE_SELF, &usage), 0);
  EXPECT_GE(used_mb, 1);
  EXPECT_LE(used_mb, (usage.ru_maxrss + 1023) / 1024);
  const std::string log = read_file(log_file("f"));
  EXPECT_NE(log.find("START RequestId: req-1"), std::string::npos);
  EXPECT_NE(log.find("echo 2\nEND RequestId: req-2\nREPORT RequestId: req-2\t"), std::string::npos);
}

TEST_F(InProcessInvokerTest, HandlerErrorBecomesTheErrorDocument) {
  put(spec("f", "lib/handler.so:fail", code(1, "a")));
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kFunctionError);
  EXPECT_EQ(o.payload,
            R"({"errorMessage":"failed \"on purpose\"","errorType":"TestError","stackTrace":[]})");
  EXPECT_NE(o.log_tail.find("about to fail\n"), std::string::npos);
}

TEST_F(InProcessInvokerTest, ExceptionIsAFunctionErrorNamedAfterItsType) {
  put(spec("f", "lib/handler.so:throws", code(1, "a")));
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kFunctionError);
  EXPECT_EQ(o.payload,
            R"({"errorMessage":"bad input","errorType":"std::invalid_argument","stackTrace":[]})");
}

TEST_F(InProcessInvokerTest, ExceptionEscapingTheCEntryPointIsCaught) {
  put(spec("f", "lib/handler.so:raw_throw", code(1, "a")));
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kFunctionError);
  EXPECT_EQ(
      o.payload,
      R"({"errorMessage":"escaped the entry point","errorType":"std::out_of_range","stackTrace":[]})");
  EXPECT_EQ(invoke("f").kind, Kind::kFunctionError);  // and the invoker still works
}

TEST_F(InProcessInvokerTest, BareReturnCodesWithoutAReply) {
  const std::string root = code(1, "a");
  put(spec("silent", "lib/handler.so:raw_silent_error", root));
  put(spec("none", "lib/handler.so:raw_no_result", root));
  start();
  InvokeOutcome silent = invoke("silent");
  EXPECT_EQ(silent.kind, Kind::kFunctionError);
  EXPECT_NE(silent.payload.find(R"("errorType":"Sluice.HandlerError")"), std::string::npos);
  EXPECT_NE(silent.payload.find("returned 7"), std::string::npos);
  InvokeOutcome none = invoke("none");
  EXPECT_EQ(none.kind, Kind::kOk);
  EXPECT_EQ(none.payload, "null");
}

TEST_F(InProcessInvokerTest, MissingLibraryOrSymbolIsAnInvalidEntrypoint) {
  const std::string root = code(1, "a");
  put(spec("nolib", "lib/missing.so", root));
  put(spec("nosym", "lib/handler.so:no_such_symbol", root));
  put(spec("escape", "../a/lib/handler.so", root));
  start();
  for (const char* name : {"nolib", "nosym", "escape"}) {
    InvokeOutcome o = invoke(name);
    EXPECT_EQ(o.kind, Kind::kFunctionError) << name;
    EXPECT_NE(o.payload.find(R"("errorType":"Runtime.InvalidEntrypoint")"), std::string::npos)
        << name << ": " << o.payload;
  }
}

TEST_F(InProcessInvokerTest, ContextCarriesTheInvocation) {
  auto s = spec("ctx", "lib/handler.so:context_fields", code(1, "a"));
  s.memory_mb = 256;
  put(s);
  start();
  function::Invocation inv = invocation("ctx", "{}");
  inv.client_context = "cc";
  inv.trace_id = "Root=1-abc";
  inv.deadline = std::chrono::system_clock::now() + 2s;
  auto f = invoke_async(std::move(inv));
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  InvokeOutcome o = f.get();
  ASSERT_EQ(o.kind, Kind::kOk);
  EXPECT_NE(o.payload.find(R"("request_id":"req-1")"), std::string::npos) << o.payload;
  EXPECT_NE(o.payload.find(R"("arn":"arn:aws:lambda:us-east-1:000000000000:function:ctx")"),
            std::string::npos);
  EXPECT_NE(o.payload.find(R"("name":"ctx")"), std::string::npos);
  EXPECT_NE(o.payload.find(R"("client_context":"cc")"), std::string::npos);
  EXPECT_NE(o.payload.find(R"("trace_id":"Root=1-abc")"), std::string::npos);
  EXPECT_NE(o.payload.find(R"("memory_mb":256)"), std::string::npos);
  const size_t at = o.payload.find(R"("remaining_ms":)");
  ASSERT_NE(at, std::string::npos);
  const long remaining = std::stol(o.payload.substr(at + 15));
  EXPECT_GT(remaining, 1000);
  EXPECT_LE(remaining, 2000);
}

TEST_F(InProcessInvokerTest, OversizedResultIsResponseSizeTooLarge) {
  put(spec("f", "lib/handler.so:huge", code(1, "a")));
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kFunctionError);
  EXPECT_EQ(o.payload, internal::response_too_large_document());
}

TEST_F(InProcessInvokerTest, TimeoutIsReportedAtTheDeadlineAndTheSlotStaysBusy) {
  put(spec("slow", "lib/handler.so:sleepy", code(1, "a")), /*reserved=*/1);
  start();
  function::Invocation inv = invocation("slow", R"({"ms":700})");
  const auto began = std::chrono::steady_clock::now();
  inv.deadline = std::chrono::system_clock::now() + 150ms;
  auto f = invoke_async(std::move(inv));
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  const auto elapsed = std::chrono::steady_clock::now() - began;
  InvokeOutcome o = f.get();
  EXPECT_EQ(o.kind, Kind::kTimedOut);
  EXPECT_EQ(o.payload, internal::timed_out_document("req-1", 3));
  EXPECT_LT(elapsed, 600ms);  // at the deadline, not when the handler returns
  EXPECT_NE(o.log_tail.find("req-1 Task timed out after 3.00 seconds\nEND RequestId: req-1\n"),
            std::string::npos)
      << o.log_tail;
  // The handler still runs in its thread, holding the function's only slot.
  EXPECT_EQ(invoker_->stats().running, 1u);
  InvokeOutcome refused = invoke("slow", R"({"ms":0})");
  EXPECT_EQ(refused.kind, Kind::kUnavailable);
  EXPECT_EQ(refused.payload, "ReservedFunctionConcurrentInvocationLimitExceeded");
  ASSERT_TRUE(eventually([&] { return invoker_->stats().running == 0; }));
  // Once it has returned, its late result is gone and the slot is free again.
  InvokeOutcome later;
  ASSERT_TRUE(eventually([&] {
    later = invoke("slow", R"({"ms":0})");
    return later.kind != Kind::kUnavailable;
  }));
  EXPECT_EQ(later.kind, Kind::kOk);
  EXPECT_EQ(later.payload, R"({"slept":true})");
  const std::string log = read_file(log_file("slow"));
  EXPECT_NE(log.find("woke up"), std::string::npos);  // a late line still reaches the file
}

TEST_F(InProcessInvokerTest, QuickFunctionRunsOnTheCallersThreadOnlyOnceItHasEarnedIt) {
  put(spec("f", "lib/handler.so:sleepy", code(1, "a")));
  InProcessInvokerOptions options;
  options.inline_max = 30ms;
  start(options);
  // Where `done` ran, and the outcome, for one call that allows running inline.
  auto call = [&](std::string payload, bool may_run_inline = true,
                  std::chrono::milliseconds deadline = 0ms) {
    function::Invocation inv = invocation("f", std::move(payload));
    inv.may_run_inline = may_run_inline;
    if (deadline > 0ms) inv.deadline = std::chrono::system_clock::now() + deadline;
    auto where = std::make_shared<std::promise<std::pair<std::thread::id, InvokeOutcome>>>();
    auto got = where->get_future();
    invoker_->invoke(std::move(inv), [where](InvokeOutcome o) {
      where->set_value({std::this_thread::get_id(), std::move(o)});
    });
    EXPECT_EQ(got.wait_for(10s), std::future_status::ready);
    auto [thread, outcome] = got.get();
    EXPECT_EQ(outcome.kind, Kind::kOk) << outcome.payload;
    return thread == std::this_thread::get_id();
  };
  // 16 quick returns on workers before the first inline run.
  for (int i = 0; i < 16; ++i) EXPECT_FALSE(call(R"({"ms":0})")) << i;
  EXPECT_FALSE(call(R"({"ms":0})", /*may_run_inline=*/false));  // the caller said no
  EXPECT_TRUE(call(R"({"ms":0})"));
  EXPECT_TRUE(call(R"({"ms":0})"));
  // One slow call (it still ran inline: nothing could know) sends it back to the workers.
  EXPECT_TRUE(call(R"({"ms":60})"));
  EXPECT_FALSE(call(R"({"ms":0})"));
  const std::string log = read_file(log_file("f"));
  EXPECT_EQ(count_of(log, "START RequestId:"), 21) << log;
  EXPECT_EQ(count_of(log, "REPORT RequestId:"), 21) << log;
}

TEST_F(InProcessInvokerTest, InlineRunStillTimesOutAtTheDeadline) {
  put(spec("f", "lib/handler.so:sleepy", code(1, "a")));
  InProcessInvokerOptions options;
  options.inline_max = 1000ms;
  start(options);
  for (int i = 0; i < 16; ++i) ASSERT_EQ(invoke("f", R"({"ms":0})").kind, Kind::kOk);
  function::Invocation inv = invocation("f", R"({"ms":500})");
  inv.may_run_inline = true;
  inv.deadline = std::chrono::system_clock::now() + 100ms;
  auto reported = std::make_shared<std::promise<std::chrono::steady_clock::time_point>>();
  auto when = reported->get_future();
  std::optional<InvokeOutcome> outcome;
  const auto began = std::chrono::steady_clock::now();
  invoker_->invoke(std::move(inv), [reported, &outcome](InvokeOutcome o) {
    outcome = std::move(o);
    reported->set_value(std::chrono::steady_clock::now());
  });
  const auto returned = std::chrono::steady_clock::now();
  ASSERT_EQ(when.wait_for(1s), std::future_status::ready);
  const auto timed_out_at = when.get();
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->kind, Kind::kTimedOut);
  // The handler ran on this thread (invoke() returned only after its 500 ms), and the
  // watcher reported the deadline while it still ran.
  EXPECT_GE(returned - began, 450ms);
  EXPECT_LT(timed_out_at - began, 400ms);
}

TEST_F(InProcessInvokerTest, ReservedConcurrencyAndTheDefaultCapThrottle) {
  const std::string root = code(1, "a");
  put(spec("two", "lib/handler.so:sleepy", root), /*reserved=*/2);
  put(spec("zero", "lib/handler.so:echo", root), /*reserved=*/0);
  put(spec("capped", "lib/handler.so:sleepy", root));
  InProcessInvokerOptions o;
  o.max_concurrency_per_function = 1;
  start(o);
  auto a = invoke_async(invocation("two", R"({"ms":400})"));
  auto b = invoke_async(invocation("two", R"({"ms":400})"));
  InvokeOutcome third = invoke("two", R"({"ms":0})");
  EXPECT_EQ(third.kind, Kind::kUnavailable);
  EXPECT_EQ(third.payload, "ReservedFunctionConcurrentInvocationLimitExceeded");
  InvokeOutcome zero = invoke("zero");
  EXPECT_EQ(zero.kind, Kind::kUnavailable);
  EXPECT_EQ(zero.payload, "ReservedFunctionConcurrentInvocationLimitExceeded");
  auto c = invoke_async(invocation("capped", R"({"ms":400})"));
  InvokeOutcome over = invoke("capped", R"({"ms":0})");
  EXPECT_EQ(over.kind, Kind::kUnavailable);
  EXPECT_EQ(over.payload, "ConcurrentInvocationLimitExceeded");
  EXPECT_EQ(a.get().kind, Kind::kOk);
  EXPECT_EQ(b.get().kind, Kind::kOk);
  EXPECT_EQ(c.get().kind, Kind::kOk);
}

TEST_F(InProcessInvokerTest, TotalCapThrottlesAcrossFunctions) {
  const std::string root = code(1, "a");
  put(spec("x", "lib/handler.so:sleepy", root));
  put(spec("y", "lib/handler.so:sleepy", root));
  InProcessInvokerOptions o;
  o.max_concurrency_total = 1;
  start(o);
  auto a = invoke_async(invocation("x", R"({"ms":300})"));
  InvokeOutcome other = invoke("y", R"({"ms":0})");
  EXPECT_EQ(other.kind, Kind::kUnavailable);
  EXPECT_EQ(other.payload, "ConcurrentInvocationLimitExceeded");
  EXPECT_EQ(a.get().kind, Kind::kOk);
}

TEST_F(InProcessInvokerTest, NewRevisionLoadsTheNewLibraryAndClosesTheOldAfterItsLastCall) {
  const std::string v1 = code(1, "v1");
  const std::string v2 = code(2, "v2");
  put(spec("f", "lib/handler.so:sleepy", v1, "r1"));
  start();
  auto slow = invoke_async(invocation("f", R"({"ms":800})"));
  ASSERT_TRUE(eventually([&] { return invoker_->stats().running == 1; }));
  put(spec("f", "lib/handler.so", v2, "r2"));  // a code update
  InvokeOutcome updated = invoke("f", "0");
  EXPECT_EQ(updated.kind, Kind::kOk);
  EXPECT_EQ(updated.payload, R"({"version":2,"echo":0})");
  EXPECT_EQ(invoker_->stats().loads, 2u);
  // The first library still has an invocation running in it: it stays loaded.
  EXPECT_EQ(invoker_->stats().unloads, 0u);
  EXPECT_EQ(slow.get().payload, R"({"slept":true})");
  EXPECT_TRUE(eventually([&] { return invoker_->stats().unloads == 1; }));
  // The same revision keeps its library: no further load.
  EXPECT_EQ(invoke("f", "1").payload, R"({"version":2,"echo":1})");
  EXPECT_EQ(invoker_->stats().loads, 2u);
}

TEST_F(InProcessInvokerTest, RetireUnloadsAndTheNextInvocationLoadsAgain) {
  put(spec("f", "lib/handler.so", code(1, "a")));
  start();
  EXPECT_EQ(invoke("f").kind, Kind::kOk);
  invoker_->retire(function::function_arn("us-east-1", "000000000000", "f"));
  EXPECT_TRUE(eventually([&] { return invoker_->stats().unloads == 1; }));
  EXPECT_EQ(invoke("f").kind, Kind::kOk);
  EXPECT_EQ(invoker_->stats().loads, 2u);
}

TEST_F(InProcessInvokerTest, HotReloadPicksUpARebuiltLibrary) {
  const std::string root = code(1, "dev");
  auto s = spec("f", "lib/handler.so", root);
  s.hot_reload = true;
  put(s);
  start();
  EXPECT_EQ(invoke("f", "0").payload, R"({"version":1,"echo":0})");
  // A rebuild writes a new file at the same path (same revision).
  const auto path = std::filesystem::path(root) / "lib" / "handler.so";
  std::filesystem::remove(path);
  std::filesystem::copy_file(test_library(2), path);
  EXPECT_EQ(invoke("f", "0").payload, R"({"version":2,"echo":0})");
}

TEST_F(InProcessInvokerTest, HotReloadFunctionNeverRunsOnTheCallersThread) {
  auto s = spec("f", "lib/handler.so:sleepy", code(1, "dev"));
  s.hot_reload = true;
  put(s);
  InProcessInvokerOptions options;
  options.inline_max = 30ms;
  start(options);
  int on_caller = 0;
  for (int i = 0; i < 24; ++i) {  // well past the 16 quick returns that earn inline runs
    function::Invocation inv = invocation("f", R"({"ms":0})");
    inv.may_run_inline = true;
    auto where = std::make_shared<std::promise<std::thread::id>>();
    auto got = where->get_future();
    invoker_->invoke(std::move(inv), [where](InvokeOutcome o) {
      EXPECT_EQ(o.kind, Kind::kOk) << o.payload;
      where->set_value(std::this_thread::get_id());
    });
    ASSERT_EQ(got.wait_for(10s), std::future_status::ready);
    on_caller += got.get() == std::this_thread::get_id();
  }
  EXPECT_EQ(on_caller, 0);
}

TEST_F(InProcessInvokerTest, UnknownFunctionIsResourceNotFound) {
  start();
  InvokeOutcome o = invoke("nope");
  EXPECT_EQ(o.kind, Kind::kUnavailable);
  EXPECT_EQ(o.payload, "ResourceNotFound");
}

TEST_F(InProcessInvokerTest, ShutdownEndsRunningHandlersAndRefusesNewOnes) {
  put(spec("f", "lib/handler.so:sleepy", code(1, "a")));
  InProcessInvokerOptions o;
  o.stop_grace = 50ms;
  start(o);
  auto running = invoke_async(invocation("f", R"({"ms":500})"));
  ASSERT_TRUE(eventually([&] { return invoker_->stats().running == 1; }));
  invoker_->shutdown();
  ASSERT_EQ(running.wait_for(1s), std::future_status::ready);
  InvokeOutcome ended = running.get();
  EXPECT_EQ(ended.kind, Kind::kFunctionError);
  EXPECT_NE(ended.payload.find("Runtime.ExitError"), std::string::npos);
  InvokeOutcome after = invoke("f", R"({"ms":0})");
  EXPECT_EQ(after.kind, Kind::kUnavailable);
  EXPECT_EQ(after.payload, "Stopped");
  // The abandoned handler's thread finishes later on its own; the library stays loaded for it.
  EXPECT_TRUE(eventually([&] { return invoker_->stats().running == 0; }));
}

// Many callers at once: every invocation completes once with its own result. Prints the
// mean round trip (the overhead target is 20 us p50; bench/ measures it properly).
TEST_F(InProcessInvokerTest, ConcurrentCallersEachGetTheirOwnResult) {
  put(spec("f", "lib/handler.so:echo", code(1, "a")));
  InProcessInvokerOptions o;
  o.max_concurrency_per_function = 64;
  o.max_concurrency_total = 64;
  start(o);
  ASSERT_EQ(invoke("f").kind, Kind::kOk);  // the load
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  const auto began = std::chrono::steady_clock::now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string payload = "[" + std::to_string(t) + "," + std::to_string(i) + "]";
        function::Invocation inv;
        inv.request_id = "t" + std::to_string(t) + "-" + std::to_string(i);
        inv.function_arn = function::function_arn("us-east-1", "000000000000", "f");
        inv.payload = payload;
        std::promise<InvokeOutcome> p;
        auto fut = p.get_future();
        invoker_->invoke(std::move(inv), [&p](InvokeOutcome out) { p.set_value(std::move(out)); });
        InvokeOutcome out = fut.get();
        if (out.kind != Kind::kOk || out.payload != payload) wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - began).count();
  EXPECT_EQ(wrong.load(), 0);
  std::printf("%d invocations from %d threads: %.1f us mean round trip per caller\n",
              kThreads * kEach, kThreads, us / kEach);
}

// One caller, warm: prints p50/p99 of the whole round trip (invoke() to `done`), which is the
// invoker's overhead plus an echo of 1 KB. Informational: timing is not asserted here.
TEST_F(InProcessInvokerTest, WarmRoundTripIsMeasured) {
  put(spec("f", "lib/handler.so:echo", code(1, "a")));
  start();
  ASSERT_EQ(invoke("f").kind, Kind::kOk);
  const std::string payload = "\"" + std::string(1022, 'x') + "\"";
  std::vector<double> us;
  for (int i = 0; i < 2000; ++i) {
    function::Invocation inv = invocation("f", payload);
    std::promise<InvokeOutcome> p;
    auto fut = p.get_future();
    const auto began = std::chrono::steady_clock::now();
    invoker_->invoke(std::move(inv), [&p](InvokeOutcome out) { p.set_value(std::move(out)); });
    InvokeOutcome out = fut.get();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - began)
                     .count());
    ASSERT_EQ(out.kind, Kind::kOk);
  }
  std::sort(us.begin(), us.end());
  std::printf("warm round trip, 1 KB event: p50 %.1f us, p99 %.1f us\n", us[us.size() / 2],
              us[us.size() * 99 / 100]);
}

}  // namespace
}  // namespace sluice::runtime
