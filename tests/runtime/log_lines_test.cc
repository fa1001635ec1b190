#include "runtime/internal/log_lines.h"

#include <gtest/gtest.h>

#include <csignal>
#include <regex>
#include <sys/wait.h>

namespace sluice::runtime::internal {
namespace {

TEST(LogLinesTest, StartEndAndReportHaveTheSpecFormat) {
  EXPECT_EQ(start_line("id-1"), "START RequestId: id-1 Version: $LATEST");
  EXPECT_EQ(end_line("id-1"), "END RequestId: id-1");
  ReportFields f;
  f.duration_ms = 1.234;
  f.memory_size_mb = 128;
  f.max_memory_used_mb = 20;
  EXPECT_EQ(report_line("id-1", f),
            "REPORT RequestId: id-1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 "
            "MB\tMax Memory Used: 20 MB\t");
  f.init_duration_ms = 45.678;
  EXPECT_EQ(report_line("id-1", f),
            "REPORT RequestId: id-1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 "
            "MB\tMax Memory Used: 20 MB\tInit Duration: 45.68 ms\t");
}

TEST(LogLinesTest, TimeoutLineAndDocument) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1767323045678));
  EXPECT_EQ(timeout_line(t, "id-2", 3),
            "2026-01-02T03:04:05.678Z id-2 Task timed out after 3.00 seconds");
  EXPECT_EQ(
      timed_out_document("id-2", 1),
      R"({"errorType":"Sandbox.Timedout","errorMessage":"RequestId: id-2 Error: Task timed out after 1.00 seconds"})");
}

TEST(LogLinesTest, ExitDocumentsNameStatusSignalOrNoReason) {
  EXPECT_EQ(
      exit_error_document("i", 3 << 8),
      R"({"errorType":"Runtime.ExitError","errorMessage":"RequestId: i Error: Runtime exited with error: exit status 3"})");
  EXPECT_EQ(
      exit_error_document("i", SIGSEGV),
      R"({"errorType":"Runtime.ExitError","errorMessage":"RequestId: i Error: Runtime exited with error: signal: segmentation fault"})");
  EXPECT_EQ(
      exit_error_document("i", 0),
      R"({"errorType":"Runtime.ExitError","errorMessage":"RequestId: i Error: Runtime exited without providing a reason"})");
  EXPECT_EQ(signal_description(SIGKILL), "killed");
}

TEST(LogLinesTest, InvalidEntrypointEscapesThePath) {
  EXPECT_EQ(
      invalid_entrypoint_document("i", "/code/a\"b"),
      R"({"errorType":"Runtime.InvalidEntrypoint","errorMessage":"RequestId: i Error: Couldn't find valid bootstrap(s): [/code/a\"b/bootstrap /opt/bootstrap]"})");
}

TEST(LogLinesTest, StreamNameAndTraceIdHaveTheAwsShapes) {
  std::mt19937_64 rng(7);
  const auto now = std::chrono::system_clock::now();
  EXPECT_TRUE(std::regex_match(log_stream_name(now, rng),
                               std::regex(R"(\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32})")));
  EXPECT_TRUE(std::regex_match(
      new_trace_id(now, rng),
      std::regex(R"(Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0)")));
}

}  // namespace
}  // namespace sluice::runtime::internal
