#include "net/aws_request.h"

#include <algorithm>

namespace sluice::net {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_account_id(std::string_view s) {
  return s.size() == 12 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_region_name(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    out.emplace_back(percent_decode(item.substr(0, eq)),
                     eq == std::string_view::npos ? "" : percent_decode(item.substr(eq + 1)));
  }
  return out;
}

std::vector<std::pair<std::string_view, std::string_view>> auth_params(std::string_view header) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  const size_t first = header.find(' ');
  if (first == std::string_view::npos) return out;
  std::string_view rest = header.substr(first + 1);
  while (!rest.empty()) {
    const size_t sep = rest.find_first_of(" ,");
    const std::string_view token = rest.substr(0, sep);
    const size_t eq = token.find('=');
    if (eq != std::string_view::npos) out.emplace_back(token.substr(0, eq), token.substr(eq + 1));
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + 1);
  }
  return out;
}

namespace {
// The parts of the request's SigV4 credential scope, <akid>/<date>/<region>/<service>/
// aws4_request, from its Authorization header or presigned query; empty when unsigned.
std::vector<std::string> credential_parts(const Request& request) {
  std::string credential;
  const std::string_view auth = request.header("Authorization");
  if (!auth.empty()) {
    for (const auto& [k, v] : auth_params(auth)) {
      if (k == "Credential") credential = std::string(v);
    }
  } else if (const auto q = query_param(request.query, "X-Amz-Credential")) {
    credential = percent_decode(*q);
  }
  std::vector<std::string> parts;
  if (credential.empty()) return parts;
  std::string_view rest = credential;
  while (true) {
    const size_t slash = rest.find('/');
    parts.emplace_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return parts;
}
}  // namespace

Caller caller_of(const Request& request, std::string_view default_account,
                 std::string_view default_region) {
  Caller caller{std::string(default_account), std::string(default_region)};
  const std::vector<std::string> parts = credential_parts(request);
  if (parts.empty()) return caller;
  if (is_account_id(parts[0])) caller.account = parts[0];
  if (parts.size() >= 3 && is_region_name(parts[2])) caller.region = parts[2];
  return caller;
}

std::string signing_service(const Request& request) {
  std::vector<std::string> parts = credential_parts(request);
  if (parts.size() >= 4) return std::move(parts[3]);
  // Signature Version 2 names no service, and only S3 still takes it (botocore's default
  // presigned S3 URLs): "Authorization: AWS <akid>:<sig>" or ?AWSAccessKeyId=...&Signature=.
  if (request.header("Authorization").starts_with("AWS ") ||
      (query_param(request.query, "AWSAccessKeyId") && query_param(request.query, "Signature"))) {
    return "s3";
  }
  return std::string();
}

}  // namespace sluice::net
