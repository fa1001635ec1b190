// The error answers of the Runtime API (spec 7.2-7.6), seen from a real runtime process: a
// provided.al2023 bootstrap written in Python makes the wrong calls itself, records what the
// server answered, and returns that record as its function result.
#include "runtime/process_invoker.h"
#include "tests/runtime/invoker_fixture.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace sluice::runtime::testing {
namespace {

using Kind = function::InvokeOutcome::Kind;

// Each call is recorded as one JSON line [label, status, content type or null, body]; the
// function result is the JSON list of the lines recorded since the last result. Invocation 1
// probes a runtime that holds an unanswered invocation; invocation 2 reports what happened to
// posts for invocation 1 once it had been answered.
constexpr const char* kProbeBootstrap = R"PY(#!/usr/bin/env python3
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
BASE = "/2018-06-01/runtime"
records = []
def call(label, method, path, body=None, headers=None, timeout=10):
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read().decode()
    rid = res.getheader("Lambda-Runtime-Aws-Request-Id")
    records.append([label, res.status, res.getheader("Content-Type"), data])
    conn.close()
    return rid
def result():
    text = "[\n" + ",\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n]"
    records.clear()
    return text

call("response before the first next", "POST", BASE + "/invocation/not-yet/response", "{}")
id1 = call("next", "GET", BASE + "/invocation/next", timeout=None)
call("response for a wrong id", "POST", BASE + "/invocation/wrong-id/response", "{}")
call("error for a wrong id", "POST", BASE + "/invocation/wrong-id/error", "{}")
call("init error after next", "POST", BASE + "/init/error", "{}")
call("next while invoking", "GET", BASE + "/invocation/next")
call("response with an unknown mode", "POST", BASE + "/invocation/" + id1 + "/response", "{}",
     {"Lambda-Runtime-Function-Response-Mode": "buffered"})
call("GET on the response route", "GET", BASE + "/invocation/" + id1 + "/response")
call("PUT on the error route", "PUT", BASE + "/invocation/" + id1 + "/error", "{}")
call("GET on the init error route", "GET", BASE + "/init/error")
call("restore next", "GET", BASE + "/restore/next")
call("restore error", "POST", BASE + "/restore/error", "{}")
call("extension register", "POST", "/2020-01-01/extension/register", "{}",
     {"Lambda-Extension-Name": "probe"})
call("extension next", "GET", "/2020-01-01/extension/event/next")
call("extension init error", "POST", "/2020-01-01/extension/init/error", "{}")
call("extension exit error", "POST", "/2020-01-01/extension/exit/error", "{}")
call("telemetry", "PUT", "/2022-07-01/telemetry", "{}")
call("logs", "PUT", "/2020-08-15/logs", "{}")
call("id-less invocation route", "POST", BASE + "/invocation//response", "{}")
call("answer for invocation 1", "POST", BASE + "/invocation/" + id1 + "/response", result(),
     {"Content-Type": "application/json"})
call("second response for invocation 1", "POST", BASE + "/invocation/" + id1 + "/response", "{}")
call("error after the response for invocation 1", "POST", BASE + "/invocation/" + id1 + "/error",
     "{}")
id2 = call("next", "GET", BASE + "/invocation/next", timeout=None)
call("response for invocation 1 during invocation 2", "POST",
     BASE + "/invocation/" + id1 + "/response", "{}")
records.append(["ids differ", id1 != id2, None, id1])
call("answer for invocation 2", "POST", BASE + "/invocation/" + id2 + "/response", result())
while True:
    call("idle", "GET", BASE + "/invocation/next", timeout=None)
)PY";

constexpr const char* kInvalidRequestId =
    R"({"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"})";

// A server answer as the bootstrap records it: the body becomes a JSON string.
std::string line(std::string_view label, int status, std::string_view content_type,
                 std::string_view body) {
  auto quote = [](std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  return "[" + quote(label) + "," + std::to_string(status) + "," +
         (content_type.empty() ? std::string("null") : quote(content_type)) + "," + quote(body) +
         "]";
}

// The bare 404 of spec 7.5: no content type, empty body.
std::string not_found(std::string_view label) { return line(label, 404, "", ""); }

std::string state_error(std::string_view from, std::string_view to) {
  return fmt::format(
      R"({{"errorMessage":"State transition from {} to {} failed for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}})",
      from, to);
}

// Splits the bootstrap's result into its record lines (dropping the list brackets and commas).
std::vector<std::string> records_of(const std::string& payload) {
  std::vector<std::string> out;
  std::istringstream in(payload);
  std::string text;
  while (std::getline(in, text)) {
    if (text == "[" || text == "]") continue;
    if (!text.empty() && text.back() == ',') text.pop_back();
    out.push_back(text);
  }
  return out;
}

void expect_records(const std::string& payload, const std::vector<std::string>& expected) {
  const std::vector<std::string> got = records_of(payload);
  ASSERT_EQ(got.size(), expected.size()) << payload;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "record " << i;
}

class RuntimeApiEdgesTest : public InvokerFixture {
 protected:
  void SetUp() override {
    InvokerFixture::SetUp();
    start();
    const auto root = root_ / "code-probe";
    write_file(root / "bootstrap", kProbeBootstrap, /*executable=*/true);
    arn_ = add_function("probe", "provided.al2023", "probe.handler", root);
  }

  std::string arn_;
};

TEST_F(RuntimeApiEdgesTest, WrongIdsStateViolationsAndUnknownModeAreRejectedMidInvocation) {
  std::string id;
  auto out = invoke(arn_, R"({"probe":1})", &id);
  ASSERT_EQ(out.kind, Kind::kOk) << out.payload << out.log_tail;
  const std::string json = "application/json";
  expect_records(
      out.payload,
      {
          // Spec 7.2: no invocation in progress yet (init) is a state violation.
          line("response before the first next", 403, json,
               state_error("Init", "InvocationResponse")),
          line("next", 200, json, R"({"probe":1})"),
          // Spec 7.2 / 7.6: only the id being invoked is accepted.
          line("response for a wrong id", 400, json, kInvalidRequestId),
          line("error for a wrong id", 400, json, kInvalidRequestId),
          // Spec 7.4: /init/error is allowed only before the first /next.
          line("init error after next", 403, json, state_error("Ready", "InitError")),
          // Spec 7.1: /next with an unanswered invocation.
          line("next while invoking", 403, json, state_error("Invoking", "Ready")),
          // Spec 7.2: a mode other than streaming; the invocation stays open (answered below).
          line(
              "response with an unknown mode", 400, json,
              R"({"errorMessage":"Invalid function response mode","errorType":"InvalidFunctionResponseMode"})"),
          // A wrong method on a known path is no route either.
          not_found("GET on the response route"),
          not_found("PUT on the error route"),
          not_found("GET on the init error route"),
          // Spec 7.5: SnapStart, Extensions, Telemetry and Logs APIs.
          not_found("restore next"),
          not_found("restore error"),
          not_found("extension register"),
          not_found("extension next"),
          not_found("extension init error"),
          not_found("extension exit error"),
          not_found("telemetry"),
          not_found("logs"),
          not_found("id-less invocation route"),
      });
}

TEST_F(RuntimeApiEdgesTest, PostsForAnAnsweredInvocationAreInvalidRequestId) {
  std::string first_id;
  ASSERT_EQ(invoke(arn_, R"({"probe":1})", &first_id).kind, Kind::kOk);
  std::string second_id;
  auto out = invoke(arn_, R"({"probe":2})", &second_id);
  ASSERT_EQ(out.kind, Kind::kOk) << out.payload << out.log_tail;
  const std::string json = "application/json";
  expect_records(
      out.payload,
      {
          line("answer for invocation 1", 202, json, R"({"status":"OK"})"),
          // Spec 7.6: the first answer wins; later posts for that id get 400.
          line("second response for invocation 1", 400, json, kInvalidRequestId),
          line("error after the response for invocation 1", 400, json, kInvalidRequestId),
          line("next", 200, json, R"({"probe":2})"),
          line("response for invocation 1 during invocation 2", 400, json, kInvalidRequestId),
          R"(["ids differ",true,null,")" + first_id + R"("])",
      });
  EXPECT_EQ(invoker_->stats().cold_starts, 1u);
}

}  // namespace
}  // namespace sluice::runtime::testing
