#pragma once

#include "net/http_message.h"
#include "net/internal/server_state.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <string_view>

namespace sluice::net::internal {

// Hands one parsed request to the Router and waits for its answer, for both connection kinds:
//   - no route: the Router's error response;
//   - a blocking Handler: runs on the handler pool (inline without one), and the caller
//     resumes on its own executor when it returns;
//   - an AsyncHandler: runs on the caller's event-loop thread, right after the caller has
//     suspended and left its strand (deferred to `loop`, which queues it on this thread
//     without waking another); the caller resumes on its own executor when the Responder is
//     answered, from whatever thread answers it. Outside the strand, so that an answer given
//     while the handler still runs (a deadline reported while an in-process function runs
//     inline) reaches the client at once instead of when the handler returns.
// Exceptions become a 500 InternalFailure, logged with `who` ("conn=7", "conn=7 h2 stream=3").
// `request` (and the bytes it views) must stay alive until this returns. `loop` is the
// io_context under the caller's strand.
boost::asio::awaitable<Response> dispatch_request(ServerState& state,
                                                  boost::asio::io_context::executor_type loop,
                                                  const Request& request, std::string_view who);

}  // namespace sluice::net::internal
