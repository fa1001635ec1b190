#include "storage/log_store.h"

#include "tests/storage/test_records.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <gtest/gtest.h>

namespace sluice::storage {
namespace {

TEST(LogStoreTest, OpensEveryLogOnDiskAtStart) {
  MemFileSystem fs;
  ManualClock clock;
  {
    auto store = LogStore::open(&fs, "/data/logs", {}, &clock);
    ASSERT_TRUE(store.ok());
    for (const char* name : {"orders-0", "orders-1"}) {
      auto log = (*store)->open_log(name);
      ASSERT_TRUE(log.ok());
      ASSERT_TRUE((*log)->append(testing::as_records(testing::make_records(2, 0, name))).ok());
    }
  }
  auto store = LogStore::open(&fs, "/data/logs", {}, &clock);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->log_names(), (std::vector<std::string>{"orders-0", "orders-1"}));
  auto log = (*store)->open_log("orders-1");
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->end_offset(), Offset(2));
}

TEST(LogStoreTest, SameNameGivesTheSameLog) {
  MemFileSystem fs;
  ManualClock clock;
  auto store = LogStore::open(&fs, "/logs", {}, &clock);
  ASSERT_TRUE(store.ok());
  auto a = (*store)->open_log("x");
  auto b = (*store)->open_log("x");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

TEST(LogStoreTest, RejectsNamesThatCouldEscapeTheDirectory) {
  MemFileSystem fs;
  ManualClock clock;
  auto store = LogStore::open(&fs, "/logs", {}, &clock);
  ASSERT_TRUE(store.ok());
  for (const char* bad : {"", ".", "..", "../etc", "a/b", "sp ace", "x\n"}) {
    EXPECT_EQ((*store)->open_log(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(LogStoreTest, RemoveDeletesTheDirectory) {
  MemFileSystem fs;
  ManualClock clock;
  auto store = LogStore::open(&fs, "/logs", {}, &clock);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->open_log("gone").ok());
  EXPECT_TRUE(fs.exists("/logs/gone"));
  ASSERT_TRUE((*store)->remove_log("gone").ok());
  EXPECT_FALSE(fs.exists("/logs/gone"));
  EXPECT_TRUE((*store)->remove_log("gone").is_not_found());
}

TEST(LogStoreTest, DamageInAnyLogStopsOpen) {
  MemFileSystem fs;
  ManualClock clock;
  {
    auto store = LogStore::open(&fs, "/logs", {}, &clock);
    ASSERT_TRUE(store.ok());
    auto log = (*store)->open_log("bad");
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((*log)->append(testing::as_records(testing::make_records(2, 0, "r", 50))).ok());
    }
  }
  const std::string seg = "/logs/bad/00000000000000000000.log";
  std::string bytes = fs.contents(seg);
  bytes[60] ^= 0x01;  // first batch, with whole batches after it
  fs.set_contents(seg, bytes);
  auto store = LogStore::open(&fs, "/logs", {}, &clock);
  EXPECT_TRUE(store.status().is_corruption()) << store.status();
}

}  // namespace
}  // namespace sluice::storage
