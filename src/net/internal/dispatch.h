#pragma once

#include "net/http_message.h"
#include "net/internal/server_state.h"

#include <boost/asio/awaitable.hpp>

#include <string_view>

namespace sluice::net::internal {

// Hands one parsed request to the Router and waits for its answer, for both connection kinds:
//   - no route: the Router's error response;
//   - a blocking Handler: runs on the handler pool (inline without one), and the caller
//     resumes on its own executor when it returns;
//   - an AsyncHandler: runs here, on the caller's event-loop thread; the caller resumes on
//     its own executor when the Responder is answered, from whatever thread answers it.
// Exceptions become a 500 InternalFailure, logged with `who` ("conn=7", "conn=7 h2 stream=3").
// `request` (and the bytes it views) must stay alive until this returns.
boost::asio::awaitable<Response> dispatch_request(ServerState& state, const Request& request,
                                                  std::string_view who);

}  // namespace sluice::net::internal
