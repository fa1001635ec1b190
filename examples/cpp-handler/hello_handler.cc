// An example Sluice in-process handler (runtime "sluice.cpp"). See README.md.
//
// It answers every event with a small JSON document about the invocation. An event that
// contains the key "fail" is answered with a function error, one with "throw" makes the
// handler throw (Sluice reports the exception's type). A real handler would parse the event
// with a JSON library; plain string searches keep this example free of dependencies.
#include <sluice/handler.h>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using sluice::handler::Context;
using sluice::handler::Response;

// Escapes what JSON requires in a string; enough for request ids and names.
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Response hello(std::string_view event, const Context& context) {
  context.log("hello handler: " + std::to_string(event.size()) + " bytes in");
  if (event.find("\"fail\"") != std::string_view::npos) {
    return Response::failure("HelloError", "the event asked to fail");
  }
  if (event.find("\"throw\"") != std::string_view::npos) {
    throw std::invalid_argument("the event asked for an exception");
  }
  std::string body = "{\"greeting\":\"hello from C++\"";
  body += ",\"bytes\":" + std::to_string(event.size());
  body += ",\"request_id\":" + json_string(context.request_id());
  body += ",\"function\":" + json_string(context.function_name());
  body += ",\"memory_mb\":" + std::to_string(context.memory_mb());
  body += ",\"has_time_left\":";
  body += context.remaining_time().count() > 0 ? "true" : "false";
  body += "}";
  return Response::success(std::move(body));
}

}  // namespace

SLUICE_HANDLER(hello)
