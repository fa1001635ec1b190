#include "net/internal/dispatch.h"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sluice::net::internal {

namespace asio = boost::asio;

namespace {

Response internal_failure() {
  return Response::json_error(500, "InternalFailure", "internal error");
}

// Runs the asynchronous handler and suspends the calling coroutine until its Responder is
// answered. The answer is posted to the coroutine's own executor (the connection's strand),
// so the connection always resumes on its strand, whoever answered.
asio::awaitable<Response> await_async(ServerState& state, asio::io_context::executor_type loop,
                                      const AsyncHandler& handler, const Request& request,
                                      std::string_view who) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Response)>(
      [&state, loop, &handler, &request, who](auto completion) {
        using Completion = decltype(completion);
        auto executor = asio::get_associated_executor(completion);
        // std::function wants a copyable callable; the Responder delivers at most once.
        auto slot = std::make_shared<std::optional<Completion>>(std::move(completion));
        // defer, not post: an answer given on a loop thread (an in-process handler run
        // inline) then resumes the connection on that same thread once the handler is done,
        // instead of waking another loop thread for it; from any other thread it is a post.
        Responder::Deliver deliver = [executor, slot](Response response) {
          asio::defer(executor, [slot, response = std::move(response)]() mutable {
            std::move (**slot)(std::move(response));
          });
        };
        Responder::Offload offload;
        if (state.handlers) {
          offload = [pool = state.handlers->get_executor()](std::function<void()> job) {
            asio::post(pool, std::move(job));
          };
        } else {
          offload = [](std::function<void()> job) { job(); };
        }
        Responder responder(std::move(deliver), std::move(offload));
        // `request` outlives the call: nothing can answer (and so end the wait) before the
        // handler has been given the Responder.
        asio::defer(loop, [&state, &handler, &request, who = std::string(who), responder] {
          try {
            handler(request, responder);
          } catch (const std::exception& e) {
            state.log->error("{} handler for {} {} threw: {}", who, request.method, request.path,
                             e.what());
            responder.answer(internal_failure());
          } catch (...) {
            state.log->error("{} handler for {} {} threw a non-exception", who, request.method,
                             request.path);
            responder.answer(internal_failure());
          }
        });
      },
      asio::use_awaitable);
}

}  // namespace

asio::awaitable<Response> dispatch_request(ServerState& state, asio::io_context::executor_type loop,
                                           const Request& request, std::string_view who) {
  try {
    auto found = state.router->find(request);
    if (Response* error = std::get_if<Response>(&found)) co_return std::move(*error);
    const Endpoint& endpoint = *std::get<const Endpoint*>(found);
    if (endpoint.async) co_return co_await await_async(state, loop, endpoint.async, request, who);
    if (state.handlers) {
      // `request` lives in the caller's frame, which waits here.
      co_return co_await asio::co_spawn(
          state.handlers->get_executor(),
          [&endpoint, &request]() -> asio::awaitable<Response> {
            co_return endpoint.blocking(request);
          },
          asio::use_awaitable);
    }
    co_return endpoint.blocking(request);
  } catch (const std::exception& e) {
    state.log->error("{} handler for {} {} threw: {}", who, request.method, request.path, e.what());
  } catch (...) {
    state.log->error("{} handler for {} {} threw a non-exception", who, request.method,
                     request.path);
  }
  co_return internal_failure();
}

}  // namespace sluice::net::internal
