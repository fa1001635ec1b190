// Puts from several threads while the stream reshards under them: every acknowledged record
// is read back exactly once, from the shard and with the number its put reported.

#include "stream/identifiers.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sluice::stream {
namespace {

using testing::ServiceEnv;

const StreamKey kS = ServiceEnv::key("s");

TEST(StreamConcurrencyTest, PutsRacingReshardsLoseNothingAndLandWhereReported) {
  ServiceEnv env;
  env.create("s", 2);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, std::pair<std::string, std::string>> acked;  // data -> shard, seq
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop.load() || i < 50; ++i) {
        const std::string data = std::to_string(t) + "-" + std::to_string(i);
        if (i % 5 == 0) {
          std::vector<std::string> datas;
          for (int j = 0; j < 8; ++j) datas.push_back(data + "-" + std::to_string(j));
          std::vector<PutRecordsEntry> entries;
          for (int j = 0; j < 8; ++j) {
            entries.push_back({datas[static_cast<size_t>(j)],
                               as_bytes(datas[static_cast<size_t>(j)]), std::nullopt});
          }
          auto r = env.svc().put_records({kS, entries});
          ASSERT_TRUE(r.ok()) << r.status();
          ASSERT_EQ(r->failed_record_count, 0);
          std::lock_guard lock(mu);
          for (size_t j = 0; j < 8; ++j) {
            acked[datas[j]] = {r->records[j].shard_id(), r->records[j].sequence_number.str()};
          }
        } else {
          auto r = env.put("s", data, data);
          ASSERT_TRUE(r.ok()) << r.status();
          std::lock_guard lock(mu);
          acked[data] = {r->shard_id, r->sequence_number};
        }
      }
    });
  }
  for (int round = 0; round < 12; ++round) {
    const int32_t target = round % 2 ? 2 : 3;
    ASSERT_TRUE(env.svc().update_shard_count(kS, target).ok() ||
                round >= 10);  // the 24 h budget is 10 scalings
    ListShardsRequest lr;
    lr.stream = kS;
    lr.filter = ShardFilter{ShardFilterType::kAtLatest};
    auto open = env.svc().list_shards(lr);
    ASSERT_TRUE(open.ok());
    ASSERT_TRUE(env.svc()
                    .split_shard(kS, open->shards[0].shard_id,
                                 format_hash_key(open->shards[0].hash_key_range.starting + 2))
                    .ok());
    std::this_thread::yield();
  }
  stop = true;
  for (auto& th : writers) th.join();

  ListShardsRequest lr;
  lr.stream = kS;
  auto shards = env.svc().list_shards(lr);
  ASSERT_TRUE(shards.ok());
  size_t seen = 0;
  for (const ShardDescription& s : shards->shards) {
    std::string cur = *env.iterator("s", s.shard_id, IteratorType::kTrimHorizon);
    while (true) {
      auto r = env.get(cur);
      ASSERT_TRUE(r.ok()) << r.status();
      for (const RecordOut& rec : r->records) {
        const std::string data(as_string_view(rec.data));
        auto it = acked.find(data);
        ASSERT_NE(it, acked.end()) << data;
        EXPECT_EQ(it->second.first, s.shard_id) << data;
        EXPECT_EQ(it->second.second, rec.sequence_number.view()) << data;
        ++seen;
      }
      if (!r->next_shard_iterator || r->records.empty()) break;
      cur = *r->next_shard_iterator;
    }
  }
  EXPECT_EQ(seen, acked.size());
}

}  // namespace
}  // namespace sluice::stream
