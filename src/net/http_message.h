#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::net {

// One request header as the client sent it. Views into the connection's request buffer.
struct HeaderView {
  std::string_view name;
  std::string_view value;
};

// What a handler sees of an HTTP request. Built by the connection for one handler call:
// every view stays valid until the handler returns and no longer (copy what you keep).
struct Request {
  std::string_view method;          // "GET", "POST", ... as sent (methods are case-sensitive)
  std::string_view target;          // the request-target as sent: "/a/b?x=1"
  std::string_view path;            // target up to the first '?': "/a/b"
  std::string_view query;           // after the first '?', without it; empty when absent
  std::vector<HeaderView> headers;  // in arrival order; names keep the client's case
  std::string_view body;            // the whole body (the server read it before routing)

  // The value of the first header called `name` (ASCII case-insensitive); empty when absent.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

// What a handler answers. Content-Length, Connection and Server are set by the server;
// do not put them in `headers`.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, sent in order
  std::string body;
  // For an answer to HEAD: the Content-Length a GET would have, so that a handler need not
  // build a body only to have its size announced. Unset: the body's size. Ignored otherwise.
  std::optional<size_t> head_content_length;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body);
  // The AWS JSON error shape: {"__type":"<type>","message":"<message>"}, JSON-escaped.
  static Response json_error(int status, std::string_view type, std::string_view message);
};

// `s` as a JSON string literal, quotes included. Control characters, '"' and '\' are
// escaped; UTF-8 passes through unchanged. Text that is not UTF-8 (client bytes echoed in a
// message) has each byte >= 0x80 replaced by U+FFFD, so the document is always valid JSON.
std::string json_quote(std::string_view s);

// ASCII case-insensitive equality, for header names.
bool iequals(std::string_view a, std::string_view b);

}  // namespace sluice::net
