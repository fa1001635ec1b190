#include "runtime/remote_invoker.h"

#include "base/base64.h"
#include "base/bytes.h"
#include "runtime/internal/log_lines.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::runtime {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using function::InvokeOutcome;
using Kind = function::InvokeOutcome::Kind;
using namespace std::chrono_literals;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// An HTTP/1.1 endpoint on 127.0.0.1 that answers each request with what `answer` returns
// (nullopt: never answers, until the endpoint is destroyed; a response with the header
// X-Test-Drop: the connection is closed instead). Counts connections, keeps the requests.
// One thread per connection; fine for tests.
class FakeEndpoint {
 public:
  using Answer = std::function<std::optional<HttpResponse>(const HttpRequest&)>;
  explicit FakeEndpoint(Answer answer)
      : answer_(std::move(answer)),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~FakeEndpoint() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    {  // wake accept()
      asio::io_context ioc;
      tcp::socket s(ioc);
      boost::system::error_code ignored;
      s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ignored);
    }
    accept_thread_.join();
    std::vector<std::shared_ptr<tcp::socket>> sockets;
    {
      std::lock_guard lock(mu_);
      sockets = sockets_;
    }
    for (auto& s : sockets) {
      boost::system::error_code ignored;
      s->shutdown(tcp::socket::shutdown_both, ignored);
    }
    for (auto& t : connection_threads_) t.join();
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/2015-03-31/functions/f/invocations") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections() {
    std::lock_guard lock(mu_);
    return connections_;
  }
  std::vector<HttpRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void accept_loop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      std::lock_guard lock(mu_);
      if (stopping_ || ec) return;
      ++connections_;
      sockets_.push_back(socket);
      connection_threads_.emplace_back([this, socket] { serve(socket); });
    }
  }

  void serve(std::shared_ptr<tcp::socket> socket) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      HttpRequest req;
      boost::system::error_code ec;
      http::read(*socket, buffer, req, ec);
      if (ec) return;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      std::optional<HttpResponse> res = answer_(req);
      if (!res) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_; });
        return;
      }
      if (!(*res)["X-Test-Drop"].empty()) {
        socket->shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
      res->version(11);
      res->prepare_payload();
      http::write(*socket, *res, ec);
      if (ec || !res->keep_alive()) return;
    }
  }

  Answer answer_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int connections_ = 0;
  std::vector<HttpRequest> requests_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> connection_threads_;
};

HttpResponse response(http::status status, std::string body,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r(status, 11);
  r.set(http::field::content_type, "application/json");
  for (auto& [k, v] : headers) r.set(k, v);
  r.body() = std::move(body);
  r.keep_alive(true);
  return r;
}

// A port nothing listens on: bound, then closed.
uint16_t closed_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

class RemoteInvokerTest : public ::testing::Test {
 protected:
  void start(RemoteInvokerOptions o = {}) {
    auto created =
        RemoteInvoker::create(o, [this](const std::string& arn) -> Result<FunctionTarget> {
          std::lock_guard lock(mu_);
          auto it = functions_.find(arn);
          if (it == functions_.end()) return Status::not_found(arn);
          return it->second;
        });
    ASSERT_TRUE(created.ok());
    invoker_ = std::move(*created);
  }

  void put(const std::string& name, const std::string& url, int32_t timeout_s = 3,
           std::optional<int32_t> reserved = std::nullopt) {
    function::FunctionSpec s;
    s.account = "000000000000";
    s.region = "us-east-1";
    s.name = name;
    s.arn = function::function_arn(s.region, s.account, name);
    s.runtime = std::string(kRemoteRuntime);
    s.handler = url;
    s.timeout_s = timeout_s;
    std::lock_guard lock(mu_);
    const std::string arn = s.arn;
    functions_[arn] = FunctionTarget{std::move(s), reserved};
  }

  InvokeOutcome invoke(const std::string& name, std::string payload = "{}",
                       std::function<void(function::Invocation&)> edit = {}) {
    function::Invocation inv;
    inv.request_id = "req-" + std::to_string(next_id_++);
    inv.function_arn = function::function_arn("us-east-1", "000000000000", name);
    inv.payload = std::move(payload);
    if (edit) edit(inv);
    auto promise = std::make_shared<std::promise<InvokeOutcome>>();
    auto future = promise->get_future();
    invoker_->invoke(std::move(inv),
                     [promise](InvokeOutcome o) { promise->set_value(std::move(o)); });
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
  }

  std::mutex mu_;
  std::map<std::string, FunctionTarget> functions_;
  std::unique_ptr<RemoteInvoker> invoker_;
  int next_id_ = 1;
};

TEST(ParseRemoteUrlTest, AcceptsHttpUrlsWithHostPortAndPath) {
  auto a = parse_remote_url("http://127.0.0.1:9000/2015-03-31/functions/function/invocations");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9000);
  EXPECT_EQ(a->target, "/2015-03-31/functions/function/invocations");
  auto b = parse_remote_url("http://lambda.internal");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->target, "/");
  auto c = parse_remote_url("http://[::1]:8080/x?y=1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->target, "/x?y=1");
}

TEST(ParseRemoteUrlTest, RefusesOtherSchemesAndMalformedAuthorities) {
  for (const char* bad : {"https://h/", "ftp://h/", "h:80/x", "http://", "http:///x",
                          "http://u:p@h/", "http://h:0/", "http://h:65536/", "http://h:x/",
                          "http://h:/", "http://h/#frag", "http://h /", "http://[::1/"}) {
    EXPECT_FALSE(parse_remote_url(bad).ok()) << bad;
  }
}

TEST_F(RemoteInvokerTest, ForwardsThePayloadAndHeadersAndReturnsTheResult) {
  FakeEndpoint endpoint([](const HttpRequest& req) {
    return response(http::status::ok, R"({"got":)" + req.body() + "}",
                    {{"Content-Type", "application/vnd.test+json"},
                     {"X-Amz-Log-Result", base64_encode(as_bytes("START\nline\n"))}});
  });
  put("f", endpoint.url());
  start();
  InvokeOutcome o = invoke("f", R"({"a":1})", [](function::Invocation& inv) {
    inv.client_context = R"({"custom":{"k":"v"}})";
    inv.trace_id = "Root=1-5e1b4151-5ac6c58f5b5daa6532e6dbd3";
  });
  EXPECT_EQ(o.kind, Kind::kOk);
  EXPECT_EQ(o.payload, R"({"got":{"a":1}})");
  EXPECT_EQ(o.content_type, "application/vnd.test+json");
  EXPECT_EQ(o.log_tail, "START\nline\n");
  auto requests = endpoint.requests();
  ASSERT_EQ(requests.size(), 1u);
  const HttpRequest& req = requests[0];
  EXPECT_EQ(req.method(), http::verb::post);
  EXPECT_EQ(req.target(), "/2015-03-31/functions/f/invocations");
  EXPECT_EQ(req[http::field::content_type], "application/json");
  EXPECT_EQ(req["X-Amz-Client-Context"], base64_encode(as_bytes(R"({"custom":{"k":"v"}})")));
  EXPECT_EQ(req["X-Amzn-Trace-Id"], "Root=1-5e1b4151-5ac6c58f5b5daa6532e6dbd3");
  EXPECT_EQ(req["X-Amz-Log-Type"], "Tail");
}

TEST_F(RemoteInvokerTest, FunctionErrorHeaderMakesAFunctionError) {
  FakeEndpoint endpoint([](const HttpRequest&) {
    return response(http::status::ok, R"({"errorMessage":"boom","errorType":"ValueError"})",
                    {{"X-Amz-Function-Error", "Unhandled"}});
  });
  put("f", endpoint.url());
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kFunctionError);
  EXPECT_EQ(o.payload, R"({"errorMessage":"boom","errorType":"ValueError"})");
}

TEST_F(RemoteInvokerTest, ServerErrorIsARemoteErrorDocument) {
  FakeEndpoint endpoint([](const HttpRequest&) {
    return response(http::status::bad_gateway, "upstream down",
                    {{"x-amzn-ErrorType", "ServiceException"}});
  });
  put("f", endpoint.url());
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kFunctionError);
  EXPECT_NE(o.payload.find(R"("errorType":"Sluice.RemoteError")"), std::string::npos) << o.payload;
  EXPECT_NE(o.payload.find("HTTP 502 ServiceException: upstream down"), std::string::npos)
      << o.payload;
}

TEST_F(RemoteInvokerTest, ThrottleOfTheEndpointIsPassedOn) {
  FakeEndpoint endpoint([](const HttpRequest&) {
    return response(http::status::too_many_requests,
                    R"({"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"})");
  });
  put("f", endpoint.url());
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kUnavailable);
  EXPECT_EQ(o.payload, "ReservedFunctionConcurrentInvocationLimitExceeded");
}

TEST_F(RemoteInvokerTest, RefusedConnectionMeansNothingRan) {
  put("f", "http://127.0.0.1:" + std::to_string(closed_port()) + "/x");
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kUnavailable);
  EXPECT_EQ(o.payload, "RemoteUnavailable");
}

TEST_F(RemoteInvokerTest, ConnectionClosedAfterTheRequestIsARemoteUnavailableFunctionError) {
  FakeEndpoint endpoint([](const HttpRequest&) {
    return response(http::status::ok, "", {{"X-Test-Drop", "1"}});  // read, then hang up
  });
  put("f", endpoint.url());
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kFunctionError);
  EXPECT_NE(o.payload.find(R"("errorType":"Sluice.RemoteUnavailable")"), std::string::npos)
      << o.payload;
}

TEST_F(RemoteInvokerTest, DeadlineGivesSandboxTimedout) {
  FakeEndpoint endpoint([](const HttpRequest&) { return std::optional<HttpResponse>(); });
  put("f", endpoint.url(), 1);
  start();
  const auto began = std::chrono::steady_clock::now();
  InvokeOutcome o = invoke("f", "{}", [](function::Invocation& inv) {
    inv.deadline = std::chrono::system_clock::now() + 200ms;
  });
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
  EXPECT_EQ(o.kind, Kind::kTimedOut);
  EXPECT_EQ(o.payload, internal::timed_out_document("req-1", 1));
}

TEST_F(RemoteInvokerTest, KeepAliveConnectionsAreReused) {
  FakeEndpoint endpoint(
      [](const HttpRequest& req) { return response(http::status::ok, req.body()); });
  put("f", endpoint.url());
  start();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(invoke("f", std::to_string(i)).payload, std::to_string(i));
  EXPECT_EQ(endpoint.connections(), 1);
  EXPECT_EQ(invoker_->stats().connections_opened, 1u);
  EXPECT_EQ(invoker_->stats().connections_reused, 2u);
}

TEST_F(RemoteInvokerTest, ReservedConcurrencyZeroThrottles) {
  put("f", "http://127.0.0.1:1/x", 3, /*reserved=*/0);
  start();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kUnavailable);
  EXPECT_EQ(o.payload, "ReservedFunctionConcurrentInvocationLimitExceeded");
}

TEST_F(RemoteInvokerTest, AfterShutdownInvocationsAreRefused) {
  put("f", "http://127.0.0.1:1/x");
  start();
  invoker_->shutdown();
  InvokeOutcome o = invoke("f");
  EXPECT_EQ(o.kind, Kind::kUnavailable);
  EXPECT_EQ(o.payload, "Stopped");
}

}  // namespace
}  // namespace sluice::runtime
