#pragma once

#include "base/check.h"
#include "sqs/queue_service.h"
#include "tests/support/manual_clock.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <stdlib.h>
#include <string>

namespace sluice::sqs::testing {

// A QueueService over a fresh temporary directory and a ManualClock; reopen() closes and
// opens the same database, as a restart does. The directory is removed at the end.
class SqsTestEnv {
 public:
  SqsTestEnv() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sqs-test-XXXXXX").string();
    SLUICE_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    dir_ = pattern;
    reopen();
  }
  ~SqsTestEnv() {
    service_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  SqsTestEnv(const SqsTestEnv&) = delete;
  SqsTestEnv& operator=(const SqsTestEnv&) = delete;

  void reopen() {
    service_.reset();
    auto s = QueueService::open(dir_ + "/sqs.db", &clock_, QueueServiceOptions{});
    SLUICE_CHECK(s.ok(), "open: {}", s.status().to_string());
    service_ = std::move(*s);
  }

  QueueService& service() { return *service_; }
  ManualClock& clock() { return clock_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  ManualClock clock_;
  std::unique_ptr<QueueService> service_;
};

}  // namespace sluice::sqs::testing
