#include "runtime/dispatch_invoker.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <unistd.h>

namespace sluice::runtime {
namespace {

using function::InvokeOutcome;
using Kind = function::InvokeOutcome::Kind;
using namespace std::chrono_literals;

// The three invokers behind one DispatchInvoker, with functions of each kind.
class DispatchInvokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = std::filesystem::temp_directory_path() /
            ("sluice-dispatch-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(root_ / "code");
    std::filesystem::copy_file(
        std::filesystem::path(SLUICE_TEST_HANDLER_DIR) / "libtest_handlers_v1.so",
        root_ / "code" / "handler.so");
    add("cpp", std::string(kInProcessRuntime), "handler.so:echo");
    add("remote", std::string(kRemoteRuntime),
        "http://127.0.0.1:" + std::to_string(closed_port()) + "/x");
    add("provided", "provided.al2023", "ignored");  // no bootstrap in the code

    const FunctionLookup lookup = [this](const std::string& arn) -> Result<FunctionTarget> {
      std::lock_guard lock(mu_);
      auto it = functions_.find(arn);
      if (it == functions_.end()) return Status::not_found(arn);
      return it->second;
    };
    ProcessInvokerOptions p;
    p.clients_dir = root_ / "clients";
    p.log_dir = root_ / "logs";
    p.scratch_dir = root_ / "scratch";
    auto process = ProcessInvoker::create(p, lookup);
    ASSERT_TRUE(process.ok());
    InProcessInvokerOptions i;
    i.log_dir = root_ / "logs";
    i.scratch_dir = root_ / "inprocess";
    auto in_process = InProcessInvoker::create(i, lookup);
    ASSERT_TRUE(in_process.ok());
    auto remote = RemoteInvoker::create({}, lookup);
    ASSERT_TRUE(remote.ok());
    dispatch_ = std::make_unique<DispatchInvoker>(lookup, std::move(*process),
                                                  std::move(*in_process), std::move(*remote));
  }

  void TearDown() override {
    dispatch_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  static uint16_t closed_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(
        ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
  }

  void add(const std::string& name, const std::string& runtime, const std::string& handler) {
    function::FunctionSpec s;
    s.account = "000000000000";
    s.region = "us-east-1";
    s.name = name;
    s.arn = function::function_arn(s.region, s.account, name);
    s.runtime = runtime;
    s.handler = handler;
    s.task_root = (root_ / "code").string();
    s.revision_id = "r1";
    const std::string arn = s.arn;
    functions_[arn] = FunctionTarget{std::move(s), std::nullopt};
  }

  InvokeOutcome invoke(const std::string& name, std::string payload = "{}") {
    function::Invocation inv;
    inv.request_id = "req-" + name;
    inv.function_arn = function::function_arn("us-east-1", "000000000000", name);
    inv.payload = std::move(payload);
    auto promise = std::make_shared<std::promise<InvokeOutcome>>();
    auto future = promise->get_future();
    dispatch_->invoke(std::move(inv),
                      [promise](InvokeOutcome o) { promise->set_value(std::move(o)); });
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
  }

  std::filesystem::path root_;
  std::mutex mu_;
  std::map<std::string, FunctionTarget> functions_;
  std::unique_ptr<DispatchInvoker> dispatch_;
};

TEST_F(DispatchInvokerTest, InProcessRuntimeRunsInTheInProcessInvoker) {
  InvokeOutcome o = invoke("cpp", "[42]");
  EXPECT_EQ(o.kind, Kind::kOk);
  EXPECT_EQ(o.payload, "[42]");
  EXPECT_EQ(dispatch_->in_process().stats().loads, 1u);
  EXPECT_EQ(dispatch_->process().stats().cold_starts, 0u);
}

TEST_F(DispatchInvokerTest, RemoteRuntimeGoesToTheRemoteInvoker) {
  InvokeOutcome o = invoke("remote");
  EXPECT_EQ(o.kind, Kind::kUnavailable);
  EXPECT_EQ(o.payload, "RemoteUnavailable");  // only the remote invoker says this
}

TEST_F(DispatchInvokerTest, OtherRuntimesGoToTheProcessInvoker) {
  InvokeOutcome o = invoke("provided");
  EXPECT_EQ(o.kind, Kind::kFunctionError);
  EXPECT_NE(o.payload.find("Couldn't find valid bootstrap(s)"), std::string::npos) << o.payload;
  EXPECT_EQ(dispatch_->in_process().stats().loads, 0u);
}

TEST_F(DispatchInvokerTest, UnknownFunctionIsResourceNotFound) {
  InvokeOutcome o = invoke("missing");
  EXPECT_EQ(o.kind, Kind::kUnavailable);
  EXPECT_EQ(o.payload, "ResourceNotFound");
}

TEST_F(DispatchInvokerTest, RetireReachesTheInProcessInvoker) {
  ASSERT_EQ(invoke("cpp").kind, Kind::kOk);
  dispatch_->retire(function::function_arn("us-east-1", "000000000000", "cpp"));
  ASSERT_EQ(invoke("cpp").kind, Kind::kOk);
  EXPECT_EQ(dispatch_->in_process().stats().loads, 2u);
}

TEST_F(DispatchInvokerTest, ShutdownStopsEveryInvoker) {
  dispatch_->shutdown();
  for (const char* name : {"cpp", "remote", "provided"}) {
    InvokeOutcome o = invoke(name);
    EXPECT_EQ(o.kind, Kind::kUnavailable) << name;
    EXPECT_EQ(o.payload, "Stopped") << name;
  }
}

}  // namespace
}  // namespace sluice::runtime
