// HTTP/2 with prior knowledge (h2c) on the server's one port, driven by an nghttp2 client.

#include "net/event_loop.h"
#include "net/internal/http2_connection.h"
#include "net/router.h"
#include "net/server.h"
#include "tests/net/http2_test_client.h"
#include "tests/net/http_test_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::net {
namespace {

using namespace std::chrono_literals;
using internal::kHttp2ClientPreface;
using internal::match_client_preface;
using internal::PrefaceMatch;
using testing::Http2TestClient;
using testing::TestClient;

constexpr std::string_view kGetHealth = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";

TEST(ClientPrefaceTest, WholePrefaceIsHttp2) {
  EXPECT_EQ(match_client_preface(kHttp2ClientPreface), PrefaceMatch::kHttp2);
  EXPECT_EQ(match_client_preface(std::string(kHttp2ClientPreface) + "\x00\x00\x12\x04"),
            PrefaceMatch::kHttp2);
}

TEST(ClientPrefaceTest, PrefixOfThePrefaceNeedsMoreBytes) {
  EXPECT_EQ(match_client_preface(""), PrefaceMatch::kNeedMore);
  EXPECT_EQ(match_client_preface("P"), PrefaceMatch::kNeedMore);
  EXPECT_EQ(match_client_preface(kHttp2ClientPreface.substr(0, 23)), PrefaceMatch::kNeedMore);
}

TEST(ClientPrefaceTest, Http1RequestsDifferEarly) {
  EXPECT_EQ(match_client_preface("GET / HTTP/1.1\r\n"), PrefaceMatch::kHttp1);
  EXPECT_EQ(match_client_preface("POST / HTTP/1.1\r\n"), PrefaceMatch::kHttp1);
  EXPECT_EQ(match_client_preface("PUT"), PrefaceMatch::kHttp1);
  EXPECT_EQ(match_client_preface("PRI * HTTP/1.1\r\n"), PrefaceMatch::kHttp1);
  EXPECT_EQ(match_client_preface("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"), PrefaceMatch::kHttp1);
}

// A started Server on 127.0.0.1:0 over a running two-thread loop, with /health and an
// /echo route that answers the request body and a few request fields.
class Http2Test : public ::testing::Test {
 protected:
  Http2Test() : loop_(2) {
    router_.add("GET", "/health", [](const Request&) { return Response::text(200, "ok"); });
    router_.add("POST", "/echo", [](const Request& r) {
      Response res = Response::text(200, std::string(r.body));
      res.headers.emplace_back("X-Seen-Query", std::string(r.query));
      res.headers.emplace_back("X-Seen-Host", std::string(r.header("Host")));
      res.headers.emplace_back("X-Seen-Custom", std::string(r.header("x-custom")));
      return res;
    });
  }
  ~Http2Test() override {
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

TEST_F(Http2Test, AnswersOneRequestWithStatusHeadersAndBody) {
  start();
  Http2TestClient client(port());
  ASSERT_TRUE(client.connected());
  const int32_t id =
      client.submit("POST", "/echo?a=1", "hello", {{"x-custom", "v1"}, {"content-length", "5"}});
  ASSERT_GT(id, 0);
  ASSERT_TRUE(client.run_until_complete());
  const auto& r = client.reply(id);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error_code, 0u);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.headers.at("content-length"), "5");
  EXPECT_EQ(r.headers.at("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.headers.at("server"), "sluice");
  // Handler field names go out lower case; :authority reaches handlers as Host.
  EXPECT_EQ(r.headers.at("x-seen-query"), "a=1");
  EXPECT_EQ(r.headers.at("x-seen-host"), "127.0.0.1");
  EXPECT_EQ(r.headers.at("x-seen-custom"), "v1");
  EXPECT_EQ(client.remote_setting(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 100u);
}

TEST_F(Http2Test, RouterAnswersAndHandlerExceptionsAreOnlyThatStreamsBusiness) {
  router_.add("GET", "/boom",
              [](const Request&) -> Response { throw std::runtime_error("handler bug"); });
  start();
  Http2TestClient client(port());
  const int32_t boom = client.submit("GET", "/boom");
  const int32_t missing = client.submit("GET", "/nowhere");
  const int32_t head = client.submit("HEAD", "/health");
  const int32_t ok = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(boom).status, 500);
  EXPECT_EQ(client.reply(boom).body, R"({"__type":"InternalFailure","message":"internal error"})");
  EXPECT_EQ(client.reply(missing).status, 404);
  EXPECT_EQ(client.reply(head).status, 405);  // /health is GET only
  EXPECT_EQ(client.reply(ok).status, 200);
  EXPECT_EQ(client.reply(ok).body, "ok");
}

TEST_F(Http2Test, AsyncHandlerAnswersFromAnotherThread) {
  std::vector<std::thread> answerers;
  router_.add("POST", "/later", AsyncHandler([&answerers](const Request& r, Responder responder) {
                answerers.emplace_back([&r, responder] {
                  std::this_thread::sleep_for(std::chrono::milliseconds(10));
                  responder.answer(Response::text(200, "later:" + std::string(r.body)));
                });
              }));
  start();
  Http2TestClient client(port());
  const int32_t later = client.submit("POST", "/later", "xyz");
  const int32_t ok = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(later).status, 200);
  EXPECT_EQ(client.reply(later).body, "later:xyz");
  EXPECT_EQ(client.reply(ok).body, "ok");
  for (std::thread& t : answerers) t.join();
}

TEST_F(Http2Test, HeadAnswerCarriesTheLengthButNoBody) {
  router_.add("HEAD", "/sized", [](const Request&) { return Response::text(200, "twelve bytes"); });
  start();
  Http2TestClient client(port());
  const int32_t id = client.submit("HEAD", "/sized");
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(id).status, 200);
  EXPECT_EQ(client.reply(id).headers.at("content-length"), "12");
  EXPECT_EQ(client.reply(id).body, "");
}

TEST_F(Http2Test, FiftyConcurrentStreamsOnOneConnection) {
  start();
  Http2TestClient client(port());
  std::vector<int32_t> ids;
  for (int i = 0; i < 50; ++i) {
    // Bodies over one DATA frame (16 KiB) so that frames of different streams interleave.
    ids.push_back(
        client.submit("POST", "/echo", std::string(20000 + i, static_cast<char>('a' + i % 26))));
    ASSERT_GT(ids.back(), 0);
  }
  ASSERT_TRUE(client.run_until_complete());
  for (int i = 0; i < 50; ++i) {
    const auto& r = client.reply(ids[i]);
    EXPECT_EQ(r.status, 200) << "stream " << ids[i];
    EXPECT_EQ(r.body, std::string(20000 + i, static_cast<char>('a' + i % 26)))
        << "stream " << ids[i];
  }
}

TEST_F(Http2Test, LargeResponseRespectsTheClientsSmallWindow) {
  // 256 KiB through a 4 KiB stream window: the server may send only what the client's
  // WINDOW_UPDATEs allow, and must still deliver all of it, in order.
  std::string big(256 << 10, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  router_.add("GET", "/big", [&big](const Request&) { return Response::text(200, big); });
  start();
  Http2TestClient client(port(), {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 4096}});
  const int32_t first = client.submit("GET", "/big");
  const int32_t second = client.submit("GET", "/big");
  ASSERT_TRUE(client.run_until_complete(20s));
  EXPECT_EQ(client.reply(first).status, 200);
  EXPECT_TRUE(client.reply(first).body == big);
  EXPECT_TRUE(client.reply(second).body == big);
}

TEST_F(Http2Test, BodyOverTheLimitGets413AndASiblingStreamSucceeds) {
  start(ServerOptions{.max_body_bytes = 4096});
  Http2TestClient client(port());
  const int32_t big = client.submit("POST", "/echo", std::string(100000, 'x'));
  const int32_t small = client.submit("POST", "/echo", "fits");
  ASSERT_TRUE(client.run_until_complete());
  const auto& r = client.reply(big);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("RequestEntityTooLargeException"), std::string::npos) << r.body;
  EXPECT_EQ(client.reply(small).status, 200);
  EXPECT_EQ(client.reply(small).body, "fits");
  // The connection lives on.
  const int32_t after = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(after).status, 200);
  EXPECT_FALSE(client.goaway().has_value());
}

TEST_F(Http2Test, DeclaredLengthOverTheLimitGets413) {
  start(ServerOptions{.max_body_bytes = 4096});
  Http2TestClient client(port());
  const int32_t id =
      client.submit("POST", "/echo", std::string(5000, 'x'), {{"content-length", "5000"}});
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(id).status, 413);
}

TEST_F(Http2Test, HeaderBlockOverTheLimitGets431AndTheConnectionLivesOn) {
  start(ServerOptions{.max_header_bytes = 1024});
  Http2TestClient client(port());
  const int32_t big = client.submit("GET", "/health", {}, {{"x-big", std::string(2000, 'h')}});
  const int32_t ok = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(big).status, 431);
  EXPECT_EQ(client.reply(ok).status, 200);
}

TEST_F(Http2Test, GarbageAfterThePrefaceClosesTheConnectionAndHttp1StillWorks) {
  start();
  {
    TestClient raw(port());
    ASSERT_TRUE(raw.send(kHttp2ClientPreface));
    ASSERT_TRUE(raw.send("this is not an HTTP/2 frame at all, not even SETTINGS\r\n\r\n"));
    EXPECT_TRUE(raw.wait_closed());
  }
  {
    // A well-formed frame header announcing an impossible length.
    TestClient raw(port());
    ASSERT_TRUE(raw.send(kHttp2ClientPreface));
    ASSERT_TRUE(raw.send(std::string("\xff\xff\xff\x04\x00\x00\x00\x00\x00", 9)));
    EXPECT_TRUE(raw.wait_closed());
  }
  TestClient h1(port());
  ASSERT_TRUE(h1.send(kGetHealth));
  auto reply = h1.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

// Frames with random headers and payloads after the preface (often after a valid empty
// SETTINGS, to get past the first-frame check): whatever nghttp2 makes of them, the server
// must neither crash nor stop serving. Sanitizer builds check the memory side.
TEST_F(Http2Test, RandomFramesAfterThePrefaceNeverBreakTheServer) {
  start();
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed=" << seed);
    std::mt19937 rng(seed);
    std::string bytes(kHttp2ClientPreface);
    if (rng() % 2 == 0) bytes.append("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
    const int frames = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < frames; ++f) {
      const uint32_t length = rng() % 48;
      bytes.push_back(0);
      bytes.push_back(0);
      bytes.push_back(static_cast<char>(length));
      bytes.push_back(static_cast<char>(rng() % 11));   // DATA .. CONTINUATION
      bytes.push_back(static_cast<char>(rng() % 256));  // flags
      const uint32_t stream = rng() % 6;
      bytes.append({0, 0, 0, static_cast<char>(stream)});
      for (uint32_t i = 0; i < length; ++i) bytes.push_back(static_cast<char>(rng() % 256));
    }
    TestClient raw(port());
    ASSERT_TRUE(raw.connected());
    raw.send(bytes);  // may fail once the server has closed: that is fine
  }
  Http2TestClient client(port());
  const int32_t id = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(id).status, 200);
  TestClient h1(port());
  ASSERT_TRUE(h1.send(kGetHealth));
  auto reply = h1.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST_F(Http2Test, ProtocolErrorFromTheClientEndsWithGoaway) {
  start();
  Http2TestClient client(port());
  const int32_t id = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(id).status, 200);
  // DATA on stream 0 is a connection error of type PROTOCOL_ERROR (RFC 9113 section 6.1).
  ASSERT_TRUE(client.send_raw(std::string("\x00\x00\x01\x00\x00\x00\x00\x00\x00x", 10)));
  ASSERT_TRUE(client.run_until_goaway());
  EXPECT_EQ(client.goaway()->error_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_TRUE(client.run_until_closed());
}

TEST_F(Http2Test, Http1RequestSentInPiecesStillReachesBeast) {
  start();
  TestClient client(port());
  ASSERT_TRUE(client.send("P"));  // also the preface's first byte
  ASSERT_TRUE(client.send("OST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
  auto reply = client.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 404);
}

TEST_F(Http2Test, IdleConnectionGetsGoawayAndIsClosed) {
  start(ServerOptions{.idle_timeout = 1s});
  Http2TestClient client(port());
  const int32_t id = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_complete());
  EXPECT_EQ(client.reply(id).status, 200);
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.run_until_goaway(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 900ms);
  EXPECT_EQ(client.goaway()->error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(client.goaway()->last_stream_id, id);
  EXPECT_TRUE(client.run_until_closed(5s));
}

TEST_F(Http2Test, Http2ConnectionsCountAgainstMaxConnections) {
  start(ServerOptions{.max_connections = 1});
  Http2TestClient h2(port());
  const int32_t id = h2.submit("GET", "/health");
  ASSERT_TRUE(h2.run_until_complete());
  EXPECT_EQ(h2.reply(id).status, 200);
  TestClient second(port());
  auto reply = second.read_reply();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 503);
}

TEST_F(Http2Test, ShutdownSendsGoawayToAnIdleConnectionAndClosesIt) {
  start();
  Http2TestClient client(port());
  const int32_t id = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_complete());
  auto stats = std::async(std::launch::async, [this] { return server_->shutdown(10s); });
  ASSERT_TRUE(client.run_until_goaway());
  EXPECT_EQ(client.goaway()->error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(client.goaway()->last_stream_id, id);
  EXPECT_TRUE(client.run_until_closed());
  ASSERT_EQ(stats.wait_for(5s), std::future_status::ready);
  const ShutdownStats s = stats.get();
  EXPECT_EQ(s.finished, 1u);
  EXPECT_EQ(s.forced, 0u);
}

TEST_F(Http2Test, ShutdownSendsNoticeThenFinalGoawayAndLetsOpenStreamsFinish) {
  start();
  Http2TestClient client(port());
  const int32_t open = client.submit_held("POST", "/echo", "late body");
  // Streams are processed in order: once this one is answered, `open` is known.
  const int32_t probe = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_stream_closed(probe));
  auto stats = std::async(std::launch::async, [this] { return server_->shutdown(10s); });

  // The notice (last stream id 2^31-1), then, once our PING answer is back, the final one.
  ASSERT_TRUE(client.run_until_goaway(5s, 2));
  EXPECT_EQ(client.goaway()->error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(client.goaway()->last_stream_id, probe);            // the last stream it processed
  EXPECT_EQ(stats.wait_for(0ms), std::future_status::timeout);  // `open` is still open

  client.release(open);
  ASSERT_TRUE(client.run_until_stream_closed(open));
  EXPECT_EQ(client.reply(open).status, 200);
  EXPECT_EQ(client.reply(open).body, "late body");
  EXPECT_TRUE(client.run_until_closed());
  ASSERT_EQ(stats.wait_for(5s), std::future_status::ready);
  const ShutdownStats s = stats.get();
  EXPECT_EQ(s.finished, 1u);
  EXPECT_EQ(s.forced, 0u);
}

TEST_F(Http2Test, ShutdownWaitsForARunningHandler) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  router_.add("GET", "/slow", [&entered, released](const Request&) {
    entered.set_value();
    released.wait();  // blocks one loop thread; the other keeps serving
    return Response::text(200, "done");
  });
  start();
  Http2TestClient client(port());
  const int32_t slow = client.submit("GET", "/slow");
  // The client runs on a thread of its own: it must keep reading while the handler blocks.
  auto ran = std::async(std::launch::async, [&client] {
    return client.run_until_complete(10s) && client.run_until_closed(10s);
  });
  ASSERT_EQ(entered.get_future().wait_for(5s), std::future_status::ready);
  auto stats = std::async(std::launch::async, [this] { return server_->shutdown(10s); });
  EXPECT_EQ(stats.wait_for(200ms), std::future_status::timeout);  // waits for the handler
  release.set_value();

  ASSERT_EQ(ran.wait_for(15s), std::future_status::ready);
  EXPECT_TRUE(ran.get());
  EXPECT_EQ(client.reply(slow).status, 200);
  EXPECT_EQ(client.reply(slow).body, "done");
  ASSERT_TRUE(client.goaway().has_value());
  EXPECT_EQ(client.goaway()->error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  ASSERT_EQ(stats.wait_for(5s), std::future_status::ready);
  const ShutdownStats s = stats.get();
  EXPECT_EQ(s.finished, 1u);
  EXPECT_EQ(s.forced, 0u);
}

TEST_F(Http2Test, ShutdownForcesClosedAConnectionThatNeverFinishesItsRequest) {
  start();
  Http2TestClient client(port());
  // A request whose body never comes; a second one on the same connection, answered after
  // the server has seen the first one's HEADERS.
  ASSERT_GT(client.submit_held("POST", "/echo"), 0);
  const int32_t id = client.submit("GET", "/health");
  ASSERT_TRUE(client.run_until_stream_closed(id));
  ASSERT_EQ(client.reply(id).status, 200);
  const ShutdownStats s = server_->shutdown(300ms);
  EXPECT_EQ(s.forced, 1u);
  EXPECT_TRUE(client.run_until_closed());
}

}  // namespace
}  // namespace sluice::net
