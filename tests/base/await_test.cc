#include "base/await.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace sluice {
namespace {

TEST(AwaitCallbackTest, ReturnsWhatACallbackRunInsideStartGave) {
  const std::string got =
      await_callback<std::string>([](std::function<void(std::string)> done) { done("now"); });
  EXPECT_EQ(got, "now");
}

TEST(AwaitCallbackTest, WaitsForACallbackFromAnotherThread) {
  std::thread other;
  const auto began = std::chrono::steady_clock::now();
  const int got = await_callback<int>([&](std::function<void(int)> done) {
    other = std::thread([done = std::move(done)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      done(42);
    });
  });
  EXPECT_EQ(got, 42);
  EXPECT_GE(std::chrono::steady_clock::now() - began, std::chrono::milliseconds(50));
  other.join();
}

}  // namespace
}  // namespace sluice
