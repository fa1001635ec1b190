// Handlers for tests/runtime/inprocess_invoker_test.cc and tests/e2e/test_lambda_inprocess.py,
// built twice: SLUICE_TEST_HANDLER_VERSION 1 and 2 (libtest_handlers_v1.so, ..._v2.so) differ
// only in what `version` (and the default entry point) answer, so tests see a code update.
#include <chrono>
#include <sluice/handler.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#ifndef SLUICE_TEST_HANDLER_VERSION
#error "build with -DSLUICE_TEST_HANDLER_VERSION=<n>"
#endif

namespace {

using sluice::handler::Context;
using sluice::handler::Response;

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The integer after "ms": in the event, 0 without one.
long millis_in(std::string_view event) {
  const size_t at = event.find("\"ms\":");
  if (at == std::string_view::npos) return 0;
  return std::stol(std::string(event.substr(at + 5)));
}

Response version_handler(std::string_view event, const Context& c) {
  c.log("version " + std::to_string(SLUICE_TEST_HANDLER_VERSION));
  return Response::success("{\"version\":" + std::to_string(SLUICE_TEST_HANDLER_VERSION) +
                           ",\"echo\":" + std::string(event) + "}");
}

Response echo_handler(std::string_view event, const Context& c) {
  c.log("echo " + std::to_string(event.size()));
  return Response::success(std::string(event));
}

Response fail_handler(std::string_view, const Context& c) {
  c.log("about to fail");
  return Response::failure("TestError", "failed \"on purpose\"");
}

Response throws_handler(std::string_view, const Context&) {
  throw std::invalid_argument("bad input");
}

Response sleepy_handler(std::string_view event, const Context& c) {
  std::this_thread::sleep_for(std::chrono::milliseconds(millis_in(event)));
  c.log("woke up");
  return Response::success("{\"slept\":true}");
}

Response text_handler(std::string_view, const Context&) {
  return Response::success("plain words", "text/plain");
}

Response context_handler(std::string_view, const Context& c) {
  std::string out = "{";
  out += "\"request_id\":" + quoted(c.request_id());
  out += ",\"arn\":" + quoted(c.function_arn());
  out += ",\"name\":" + quoted(c.function_name());
  out += ",\"client_context\":" + quoted(c.client_context());
  out += ",\"trace_id\":" + quoted(c.trace_id());
  out += ",\"memory_mb\":" + std::to_string(c.memory_mb());
  out += ",\"remaining_ms\":" + std::to_string(c.remaining_time().count());
  out += "}";
  return Response::success(std::move(out));
}

Response huge_handler(std::string_view, const Context&) {
  return Response::success("\"" + std::string(7 * 1024 * 1024, 'x') + "\"");
}

}  // namespace

SLUICE_HANDLER(version_handler)
SLUICE_HANDLER_AS(echo, echo_handler)
SLUICE_HANDLER_AS(fail, fail_handler)
SLUICE_HANDLER_AS(throws, throws_handler)
SLUICE_HANDLER_AS(sleepy, sleepy_handler)
SLUICE_HANDLER_AS(text, text_handler)
SLUICE_HANDLER_AS(context_fields, context_handler)
SLUICE_HANDLER_AS(huge, huge_handler)

// Entry points on the bare C ABI, without the C++ layer's safety net.
extern "C" SLUICE_HANDLER_EXPORT int raw_throw(const sluice_invocation_v1*,
                                               const sluice_reply_v1*) {
  throw std::out_of_range("escaped the entry point");
}

extern "C" SLUICE_HANDLER_EXPORT int raw_silent_error(const sluice_invocation_v1*,
                                                      const sluice_reply_v1*) {
  return 7;
}

extern "C" SLUICE_HANDLER_EXPORT int raw_no_result(const sluice_invocation_v1*,
                                                   const sluice_reply_v1*) {
  return 0;
}
