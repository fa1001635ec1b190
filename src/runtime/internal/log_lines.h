#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <string_view>

// The texts Sluice itself writes for an invocation: the log lines of spec section 6.1 and the
// error documents of spec section 4.3 that the engine (not the runtime) produces. Pure
// functions; each has a unit test pinning its exact bytes.
namespace sluice::runtime::internal {

std::string start_line(std::string_view request_id);  // "START RequestId: {ID} Version: $LATEST"
std::string end_line(std::string_view request_id);    // "END RequestId: {ID}"

struct ReportFields {
  double duration_ms = 0;
  int32_t memory_size_mb = 0;
  int64_t max_memory_used_mb = 0;
  std::optional<double> init_duration_ms;  // only on a cold start
};
// "REPORT RequestId: {ID}\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t
// Max Memory Used: 20 MB\t" plus "Init Duration: 45.67 ms\t" on a cold start.
std::string report_line(std::string_view request_id, const ReportFields& f);

// "<2026-01-02T03:04:05.678Z> {ID} Task timed out after 3.00 seconds"
std::string timeout_line(std::chrono::system_clock::time_point now, std::string_view request_id,
                         double timeout_s);

// {"errorType":"Sandbox.Timedout","errorMessage":"RequestId: {ID} Error: Task timed out after
// 3.00 seconds"}
std::string timed_out_document(std::string_view request_id, double timeout_s);

// The Runtime.ExitError document for a wait(2) status: "exit status <n>", "signal: <name>",
// or, for status 0, "Runtime exited without providing a reason".
std::string exit_error_document(std::string_view request_id, int wait_status);

// Go-style signal names as AWS prints them ("killed", "segmentation fault"); "signal <n>"
// for those without one.
std::string signal_description(int signo);

// Runtime.InvalidEntrypoint for a provided* function whose bootstrap is missing or not
// executable: "Couldn't find valid bootstrap(s): [<root>/bootstrap /opt/bootstrap]".
std::string invalid_entrypoint_document(std::string_view request_id, std::string_view task_root);

// Runtime.InvalidEntrypoint with a message of Sluice's own (no interpreter, bad runtime name).
std::string launch_failed_document(std::string_view request_id, std::string_view detail);

// Function.ResponseSizeTooLarge, for a response over kMaxResponseBytes.
std::string response_too_large_document();

// "YYYY/MM/DD/[$LATEST]<32 lowercase hex>" for a new environment.
std::string log_stream_name(std::chrono::system_clock::time_point now, std::mt19937_64& rng);

// "Root=1-<8 hex epoch s>-<24 hex>;Parent=<16 hex>;Sampled=0", for invocations that came
// without X-Amzn-Trace-Id.
std::string new_trace_id(std::chrono::system_clock::time_point now, std::mt19937_64& rng);

// JSON string contents (no quotes) for `text`: escapes quotes, backslashes, control bytes.
std::string json_escape(std::string_view text);

}  // namespace sluice::runtime::internal
