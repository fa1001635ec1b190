#include "net/server.h"

#include "net/event_loop.h"
#include "net/router.h"
#include "tests/net/http_test_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::net {
namespace {

using namespace std::chrono_literals;
using testing::TestClient;

constexpr std::string_view kGetHealth = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";

// A started Server on 127.0.0.1:0 over a running two-thread loop, with a /health route.
// Routes must be added to `router` before start().
class ServerTest : public ::testing::Test {
 protected:
  ServerTest() : loop_(2) {
    router_.add("GET", "/health", [](const Request&) { return Response::text(200, "ok"); });
  }
  ~ServerTest() override {
    if (server_) server_->shutdown(0ms);
    loop_.stop();
    loop_.join();
  }

  void start(ServerOptions options = {}) {
    options.port = 0;
    loop_.start();
    server_ = std::make_unique<Server>(&loop_, &router_, options);
    const Status s = server_->start();
    ASSERT_TRUE(s.ok()) << s;
  }
  uint16_t port() const { return server_->port(); }

  EventLoop loop_;
  Router router_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ReportsTheEphemeralPortItBound) {
  start();
  EXPECT_NE(port(), 0);
  EXPECT_EQ(server_->local_address(), "127.0.0.1");
  TestClient client(port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(kGetHealth));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "ok");
  EXPECT_EQ(reply->headers["server"], "sluice");
}

TEST_F(ServerTest, HeadAnnouncesTheLengthAGetWouldHaveWithoutABody) {
  router_.add("HEAD", "/object", [](const Request&) {
    Response r = Response::text(200, "");
    r.head_content_length = 12345;
    return r;
  });
  router_.add("HEAD", "/small", [](const Request&) { return Response::text(200, "four"); });
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("HEAD /object HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto reply = client.read_reply(5s, /*to_head=*/true);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->headers["content-length"], "12345");
  // Without it, the body's size; and no body bytes either way: the next answer follows.
  ASSERT_TRUE(client.send("HEAD /small HTTP/1.1\r\nHost: t\r\n\r\n"));
  reply = client.read_reply(5s, /*to_head=*/true);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->headers["content-length"], "4");
  ASSERT_TRUE(client.send(kGetHealth));
  reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->body, "ok");
}

TEST_F(ServerTest, StartFailsWithInUseWhenThePortIsTaken) {
  start();
  Server second(&loop_, &router_, ServerOptions{.port = port()});
  const Status s = second.start();
  EXPECT_EQ(s.code(), Code::kInUse) << s;
  EXPECT_NE(s.message().find(std::to_string(port())), std::string_view::npos) << s;
}

TEST_F(ServerTest, RequestViewCarriesMethodPathQueryHeadersAndBody) {
  std::promise<std::string> seen;
  router_.add("PUT", "/echo", [&seen](const Request& r) {
    seen.set_value(std::string(r.method) + "|" + std::string(r.target) + "|" + std::string(r.path) +
                   "|" + std::string(r.query) + "|" + std::string(r.header("x-custom")) + "|" +
                   std::string(r.body));
    return Response::text(201, "made");
  });
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send(
      "PUT /echo?a=1&b HTTP/1.1\r\nHost: t\r\nX-Custom: v1\r\nContent-Length: 5\r\n\r\nhello"));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 201);
  EXPECT_EQ(seen.get_future().get(), "PUT|/echo?a=1&b|/echo|a=1&b|v1|hello");
}

TEST_F(ServerTest, HandlerExceptionBecomes500AndTheConnectionLivesOn) {
  router_.add("GET", "/boom",
              [](const Request&) -> Response { throw std::runtime_error("handler bug"); });
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("GET /boom HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500);
  EXPECT_EQ(reply->body, R"({"__type":"InternalFailure","message":"internal error"})");
  ASSERT_TRUE(client.send(kGetHealth));
  reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST_F(ServerTest, AsyncHandlerAnswersLaterFromAnotherThread) {
  // The answer comes from a thread the server knows nothing of, after the handler returned;
  // the request's body must still be readable then.
  std::vector<std::thread> answerers;
  std::atomic<int> returned{0};
  router_.add("POST", "/later", AsyncHandler([&](const Request& r, Responder responder) {
                answerers.emplace_back([&r, responder, &returned] {
                  while (returned.load() == 0) std::this_thread::sleep_for(1ms);
                  std::this_thread::sleep_for(20ms);
                  responder.answer(Response::text(202, "later:" + std::string(r.body)));
                  responder.answer(Response::text(500, "ignored: a second answer"));
                });
                returned.store(1);
              }));
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("POST /later HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 202);
  EXPECT_EQ(reply->body, "later:abc");
  // The connection goes on with the next request.
  ASSERT_TRUE(client.send(kGetHealth));
  reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->body, "ok");
  for (std::thread& t : answerers) t.join();
}

TEST_F(ServerTest, AsyncHandlerRunsOnTheLoopAndItsBlockingWorkOnThePool) {
  std::promise<bool> handler_on_loop;
  std::promise<bool> work_on_loop;
  router_.add("GET", "/mixed", AsyncHandler([&](const Request&, Responder responder) {
                handler_on_loop.set_value(loop_.in_loop_thread());
                responder.answer_blocking([&] {
                  work_on_loop.set_value(loop_.in_loop_thread());
                  return Response::text(200, "worked");
                });
              }));
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("GET /mixed HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->body, "worked");
  EXPECT_TRUE(handler_on_loop.get_future().get());
  EXPECT_FALSE(work_on_loop.get_future().get());
}

TEST_F(ServerTest, AnAnswerFromAnotherThreadWhileTheAsyncHandlerStillRunsIsSentAtOnce) {
  // The handler keeps its loop thread while another thread answers (an in-process function
  // run inline past its deadline, answered by the invoker's watcher): the client must not
  // wait for the handler to return.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> handler_returned;
  std::thread watcher;
  router_.add("GET", "/answered-elsewhere",
              AsyncHandler([released, &watcher, &handler_returned](const Request&, Responder r) {
                watcher = std::thread([r] { r.answer(Response::text(200, "on time")); });
                released.wait_for(5s);
                handler_returned.set_value();
              }));
  start();
  TestClient client(port());
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.send("GET /answered-elsewhere HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto reply = client.read_reply();
  const auto took = std::chrono::steady_clock::now() - began;
  release.set_value();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->body, "on time");
  EXPECT_LT(took, 2s);
  handler_returned.get_future().wait();  // so `watcher` is set
  watcher.join();
}

TEST_F(ServerTest, AsyncHandlerThatDropsOrThrowsItsResponderGets500) {
  router_.add("GET", "/dropped", AsyncHandler([](const Request&, Responder) {}));
  router_.add("GET", "/thrown", AsyncHandler([](const Request&, Responder) {
                throw std::runtime_error("async handler bug");
              }));
  router_.add("GET", "/work-thrown", AsyncHandler([](const Request&, Responder responder) {
                responder.answer_blocking([]() -> Response { throw std::runtime_error("bug"); });
              }));
  start();
  TestClient client(port());
  for (std::string_view path : {"/dropped", "/thrown", "/work-thrown"}) {
    ASSERT_TRUE(client.send("GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto reply = client.read_reply();
    ASSERT_TRUE(reply) << path;
    EXPECT_EQ(reply->status, 500) << path;
    EXPECT_EQ(reply->body, R"({"__type":"InternalFailure","message":"internal error"})") << path;
  }
}

TEST_F(ServerTest, ConnectionOverTheLimitGets503WithRetryAfter) {
  start(ServerOptions{.max_connections = 1});
  TestClient first(port());
  ASSERT_TRUE(first.send(kGetHealth));
  ASSERT_TRUE(first.read_reply());  // registered and kept alive
  TestClient second(port());
  auto reply = second.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(reply->headers["retry-after"], "1");
  EXPECT_EQ(reply->headers["connection"], "close");
  EXPECT_TRUE(second.wait_closed());
  // The first connection is unaffected.
  ASSERT_TRUE(first.send(kGetHealth));
  reply = first.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  start(ServerOptions{.idle_timeout = 1s});
  TestClient client(port());
  const auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.wait_closed(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 900ms);
}

TEST_F(ServerTest, ShutdownLetsAnInFlightRequestFinishAndThenCloses) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  router_.add("GET", "/slow", [&entered, released](const Request&) {
    entered.set_value();
    released.wait();  // blocks one loop thread; the other keeps serving
    return Response::text(200, "done");
  });
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_EQ(entered.get_future().wait_for(5s), std::future_status::ready);

  auto stats = std::async(std::launch::async, [this] { return server_->shutdown(10s); });
  EXPECT_EQ(stats.wait_for(200ms), std::future_status::timeout);  // waits for the handler
  TestClient late(port());
  EXPECT_FALSE(late.connected() && late.send(kGetHealth) && late.read_reply(1s));
  release.set_value();

  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "done");
  EXPECT_EQ(reply->headers["connection"], "close");
  EXPECT_TRUE(client.wait_closed());
  ASSERT_EQ(stats.wait_for(5s), std::future_status::ready);
  const ShutdownStats s = stats.get();
  EXPECT_EQ(s.forced, 0u);
}

TEST_F(ServerTest, ShutdownClosesIdleKeepAliveConnectionsAtOnce) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send(kGetHealth));
  ASSERT_TRUE(client.read_reply());
  const auto began = std::chrono::steady_clock::now();
  const ShutdownStats s = server_->shutdown(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
  EXPECT_EQ(s.finished, 1u);
  EXPECT_EQ(s.forced, 0u);
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(ServerTest, ShutdownForcesClosedARequestStillArrivingAtTheDeadline) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("GET /health HTTP/1.1\r\nHost: t\r\n"));  // head not finished
  // Drain spares it only once its bytes are in the server's buffer. Connections are
  // accepted in order, so by the time a second one has been served the first has long had
  // its read started, and Asio reads speculatively when a read starts.
  TestClient probe(port());
  ASSERT_TRUE(probe.send(kGetHealth));
  ASSERT_TRUE(probe.read_reply());
  const ShutdownStats s = server_->shutdown(300ms);
  EXPECT_EQ(s.forced, 1u);
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(ServerTest, ShutdownIsIdempotent) {
  start();
  server_->shutdown(1s);
  const ShutdownStats again = server_->shutdown(1s);
  EXPECT_EQ(again.finished, 0u);
  EXPECT_EQ(again.forced, 0u);
}

}  // namespace
}  // namespace sluice::net
