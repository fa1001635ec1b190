// A provided.al2023 function written against AWS's C++ runtime client (aws-lambda-cpp, as
// shipped in the aws-lambda-ric npm package; tests/runtimes/README.md). Built into
// build/runtimes/cpp/bootstrap by scripts/install-runtimes.sh and run unchanged by Sluice in
// tests/e2e/test_lambda_runtimes.py.
//
// What it answers, chosen by plain substring markers in the event (no JSON parser, so the
// handler depends on nothing but the runtime client):
//   `"fail"`     invocation_response::failure("asked to fail", "Sluice.TestFailure")
//   `"context"`  a JSON document of what the client saw: request id, ARN, remaining time,
//                _HANDLER and a few Lambda variables, the process id, and the event
//   otherwise    the event bytes unchanged, as application/json

#include <aws/lambda-runtime/runtime.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace {

using aws::lambda_runtime::invocation_request;
using aws::lambda_runtime::invocation_response;

// `s` as a JSON string literal, quotes included.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

invocation_response handle(const invocation_request& req) {
  if (req.payload.find("\"fail\"") != std::string::npos) {
    // The third argument is the X-Ray error cause this client version posts alongside.
    return invocation_response::failure("asked to fail", "Sluice.TestFailure", "");
  }
  if (req.payload.find("\"context\"") != std::string::npos) {
    std::printf("cpp handler: request %s\n", req.request_id.c_str());
    std::fflush(stdout);
    std::string doc = "{\"request_id\":" + quoted(req.request_id);
    doc += ",\"function_arn\":" + quoted(req.function_arn);
    doc += ",\"remaining_ms\":" + std::to_string(req.get_time_remaining().count());
    doc += ",\"xray_trace_id\":" + quoted(req.xray_trace_id);
    doc += ",\"handler\":" + quoted(env("_HANDLER"));
    doc += ",\"function_name\":" + quoted(env("AWS_LAMBDA_FUNCTION_NAME"));
    doc += ",\"memory_mb\":" + quoted(env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
    doc += ",\"pid\":" + std::to_string(::getpid());
    doc += ",\"event\":" + req.payload + "}";
    return invocation_response::success(doc, "application/json");
  }
  return invocation_response::success(req.payload, "application/json");
}

}  // namespace

int main() {
  aws::lambda_runtime::run_handler(handle);
  return 0;
}
