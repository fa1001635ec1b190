#include "base/clock.h"

#include "tests/support/manual_clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace sluice {
namespace {

using std::chrono::milliseconds;

TEST(ManualClockTest, StartsAtTheGivenTime) {
  EXPECT_EQ(ManualClock().now_ms(), ManualClock::kDefaultStartMs);
  EXPECT_EQ(ManualClock(1234).now_ms(), 1234);
}

TEST(ManualClockTest, StandsStillUntilMoved) {
  ManualClock clock;
  const auto steady = clock.steady_now();
  const int64_t wall = clock.now_ms();
  EXPECT_EQ(clock.steady_now(), steady);
  EXPECT_EQ(clock.now_ms(), wall);
}

TEST(ManualClockTest, AdvanceMovesWallAndSteadyTimeTogether) {
  ManualClock clock(1000);
  const auto steady = clock.steady_now();
  clock.advance_ms(250);
  EXPECT_EQ(clock.now_ms(), 1250);
  EXPECT_EQ(clock.steady_now() - steady, milliseconds(250));
  clock.advance_ms(0);
  EXPECT_EQ(clock.now_ms(), 1250);
}

TEST(ManualClockTest, SetJumpsWallTimeOnlyAndMayGoBack) {
  ManualClock clock(5000);
  const auto steady = clock.steady_now();
  clock.set_ms(100);
  EXPECT_EQ(clock.now_ms(), 100);
  EXPECT_EQ(clock.steady_now(), steady);
  clock.set_ms(9000);
  EXPECT_EQ(clock.now_ms(), 9000);
}

TEST(ManualClockTest, WorksThroughTheClockInterface) {
  ManualClock manual(0);
  const Clock& clock = manual;
  manual.advance_ms(42);
  EXPECT_EQ(clock.now_ms(), 42);
}

TEST(ManualClockTest, ConcurrentAdvancesAreAllCounted) {
  ManualClock clock(0);
  const auto steady = clock.steady_now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < 1000; ++i) clock.advance_ms(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.now_ms(), 4000);
  EXPECT_EQ(clock.steady_now() - steady, milliseconds(4000));
}

TEST(ManualClockDeathTest, AdvancingBackwardsAborts) {
  ManualClock clock;
  EXPECT_DEATH(clock.advance_ms(-1), "time does not go back");
}

TEST(SystemClockTest, ReadsTheSystemClocks) {
  const auto before = std::chrono::system_clock::now();
  const int64_t now = SystemClock::instance()->now_ms();
  const auto after = std::chrono::system_clock::now();
  using std::chrono::duration_cast;
  EXPECT_GE(now, duration_cast<milliseconds>(before.time_since_epoch()).count());
  EXPECT_LE(now, duration_cast<milliseconds>(after.time_since_epoch()).count());
  const auto s1 = SystemClock::instance()->steady_now();
  const auto s2 = SystemClock::instance()->steady_now();
  EXPECT_LE(s1, s2);
}

TEST(SystemClockTest, InstanceIsOneObject) {
  EXPECT_EQ(SystemClock::instance(), SystemClock::instance());
}

}  // namespace
}  // namespace sluice
