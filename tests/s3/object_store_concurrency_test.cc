#include "s3/object_store.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

namespace sluice::s3 {
namespace {

std::vector<std::string> keys_of(const ListPage& page) {
  std::vector<std::string> out;
  for (const auto& o : page.contents) out.push_back(o.key);
  return out;
}

std::unique_ptr<ObjectStore> open_store(const std::string& dir, const Clock* clock,
                                        FileSystem* fs) {
  auto s = ObjectStore::open(dir, clock, fs);
  SLUICE_CHECK(s.ok(), "open: {}", s.status().to_string());
  return std::move(s).value();
}

TEST(ObjectStoreConcurrencyTest, RacingWritersLeaveIndexAndFilesAgreeing) {
  MemFileSystem fs;
  ManualClock clock;
  auto store = open_store("/s3", &clock, &fs);
  ASSERT_TRUE(store->create_bucket("race", "us-east-1").ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      for (int i = 0; i < 200; ++i) {
        const std::string key = "k" + std::to_string(rng() % 8);
        if (rng() % 5 == 0) {
          EXPECT_TRUE(store->delete_object("race", key).ok());
        } else {
          const std::string body = key + ":" + std::to_string(t) + ":" + std::to_string(i);
          EXPECT_TRUE(store->put_object("race", key, body).ok());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  // Whatever won each race, the listing, the files and a reopened store all agree.
  auto before = store->list_objects("race", {});
  ASSERT_TRUE(before.ok());
  for (const auto& o : before->contents) {
    auto got = store->get_object("race", o.key);
    ASSERT_TRUE(got.ok()) << o.key;
    EXPECT_EQ(got->summary().etag, o.etag) << o.key;
    EXPECT_EQ(got->summary().size, o.size) << o.key;
  }
  store.reset();
  store = open_store("/s3", &clock, &fs);
  auto after = store->list_objects("race", {});
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(keys_of(*after), keys_of(*before));
  for (size_t i = 0; i < after->contents.size(); ++i) {
    EXPECT_EQ(after->contents[i].etag, before->contents[i].etag);
  }
}

}  // namespace
}  // namespace sluice::s3
