// Random puts, reshards, clock moves and restarts against a plain reference: the list of
// acknowledged records. Prints the seed of a failing run.

#include "stream/identifiers.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

#include <random>

namespace sluice::stream {
namespace {

using testing::ServiceEnv;

struct Acked {
  std::string key;
  std::string data;
  std::string shard_id;
  std::string seq;
};

bool less_decimal(std::string_view a, std::string_view b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

class StreamModel {
 public:
  StreamModel(uint32_t seed, StreamServiceOptions options) : rng_(seed), env_(options) {
    CreateStreamRequest req;
    req.stream = key_;
    req.shard_count = 1 + static_cast<int32_t>(rng_() % 4);
    EXPECT_TRUE(env_.svc().create_stream(req).ok());
    env_.clock.advance_ms(options.creating_delay_ms);
  }

  void step() {
    switch (rng_() % 12) {
      case 0:
      case 1:
      case 2:
      case 3:
        put_one();
        break;
      case 4:
      case 5:
        put_batch();
        break;
      case 6:
        split();
        break;
      case 7:
        merge();
        break;
      case 8:
        scale();
        break;
      case 9:
        env_.clock.advance_ms(static_cast<int64_t>(rng_() % 800));
        break;
      case 10:
        if (rng_() % 4 == 0) env_.restart();
        break;
      case 11:
        seek_random();
        break;
    }
  }

  // Everything acknowledged is read back exactly once, per key in put order, each with the
  // number and shard its put returned; numbers grow within a shard; open shards cover the space.
  void verify() {
    ListShardsRequest lr;
    lr.stream = key_;
    auto shards = env_.svc().list_shards(lr);
    if (!shards.ok()) {
      ASSERT_EQ(shards.status().code(), Code::kInUse) << shards.status();
      return;
    }
    std::map<std::string, std::vector<std::string>> by_key;
    std::map<std::string, std::pair<std::string, std::string>> where;  // data -> shard, seq
    size_t total = 0;
    for (const ShardDescription& s : shards->shards) {
      std::string prev;
      for (const std::string& d : read_shard(s.shard_id, &prev, &where)) {
        ++total;
        by_key[key_of_.at(d)].push_back(d);
      }
    }
    ASSERT_EQ(total, acked_.size());
    std::map<std::string, std::vector<std::string>> want;
    for (const Acked& a : acked_) want[a.key].push_back(a.data);
    ASSERT_EQ(by_key, want);
    for (const Acked& a : acked_) {
      ASSERT_EQ(where.at(a.data).first, a.shard_id) << a.data;
      ASSERT_EQ(where.at(a.data).second, a.seq) << a.data;
    }
    ListShardsRequest latest;
    latest.stream = key_;
    latest.filter = ShardFilter{ShardFilterType::kAtLatest};
    auto open = env_.svc().list_shards(latest);
    ASSERT_TRUE(open.ok());
    auto ranges = open->shards;
    std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) {
      return a.hash_key_range.starting < b.hash_key_range.starting;
    });
    HashKey next = 0;
    for (size_t i = 0; i < ranges.size(); ++i) {
      ASSERT_TRUE(ranges[i].hash_key_range.starting == next);
      if (i + 1 < ranges.size()) next = ranges[i].hash_key_range.ending + 1;
    }
    ASSERT_TRUE(ranges.back().hash_key_range.ending == kMaxHashKey);
  }

  size_t acked() const { return acked_.size(); }
  size_t reshards() const { return reshards_; }

 private:
  std::vector<std::string> read_shard(
      const std::string& shard_id, std::string* prev,
      std::map<std::string, std::pair<std::string, std::string>>* where) {
    std::vector<std::string> out;
    auto it = env_.iterator(key_.name, shard_id, IteratorType::kTrimHorizon);
    EXPECT_TRUE(it.ok()) << it.status();
    std::string cur = *it;
    for (int i = 0; i < 10000; ++i) {
      auto r = env_.get(cur, 1 + static_cast<int32_t>(rng_() % 7));
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      for (const RecordOut& rec : r->records) {
        EXPECT_TRUE(prev->empty() || less_decimal(*prev, rec.sequence_number.view()));
        *prev = rec.sequence_number.str();
        out.emplace_back(as_string_view(rec.data));
        (*where)[out.back()] = {shard_id, rec.sequence_number.str()};
      }
      EXPECT_EQ(r->next_shard_iterator.has_value(), r->child_shards.empty());
      if (!r->next_shard_iterator || r->records.empty()) break;
      cur = *r->next_shard_iterator;
    }
    return out;
  }

  std::string new_data() { return "d" + std::to_string(next_data_++); }
  std::string random_key() { return "k" + std::to_string(rng_() % 20); }

  void put_one() {
    const std::string k = random_key();
    const std::string d = new_data();
    auto r = env_.put(key_.name, k, d);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return;
    }
    key_of_[d] = k;
    acked_.push_back({k, d, r->shard_id, r->sequence_number});
  }

  void put_batch() {
    const size_t n = 1 + rng_() % 30;
    std::vector<std::string> keys, datas;
    for (size_t i = 0; i < n; ++i) {
      keys.push_back(random_key());
      datas.push_back(new_data());
    }
    std::vector<PutRecordsEntry> entries;
    for (size_t i = 0; i < n; ++i) entries.push_back({keys[i], as_bytes(datas[i]), std::nullopt});
    auto r = env_.svc().put_records({key_, entries});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->failed_record_count, 0);
    for (size_t i = 0; i < n; ++i) {
      key_of_[datas[i]] = keys[i];
      acked_.push_back(
          {keys[i], datas[i], r->records[i].shard_id(), r->records[i].sequence_number.str()});
    }
  }

  std::vector<ShardDescription> open_shards() {
    ListShardsRequest r;
    r.stream = key_;
    r.filter = ShardFilter{ShardFilterType::kAtLatest};
    auto out = env_.svc().list_shards(r);
    if (!out.ok()) return {};
    auto v = out->shards;
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.hash_key_range.starting < b.hash_key_range.starting;
    });
    return v;
  }

  void expect_ok_or_busy(const Status& s) {
    if (s.ok()) {
      ++reshards_;
      return;
    }
    EXPECT_TRUE(s.code() == Code::kInUse || s.code() == Code::kLimitExceeded ||
                s.code() == Code::kInvalidArgument)
        << s;
  }

  void split() {
    auto open = open_shards();
    if (open.empty() || open.size() > 40) return;
    const ShardDescription& s = open[rng_() % open.size()];
    const HashKey span = s.hash_key_range.ending - s.hash_key_range.starting;
    if (span < 4) return;
    const HashKey k = s.hash_key_range.starting + 2 + (span - 3) / (1 + rng_() % 7);
    expect_ok_or_busy(env_.svc().split_shard(key_, s.shard_id, format_hash_key(k)));
  }

  void merge() {
    auto open = open_shards();
    if (open.size() < 2) return;
    const size_t i = rng_() % (open.size() - 1);
    expect_ok_or_busy(env_.svc().merge_shards(key_, open[i].shard_id, open[i + 1].shard_id));
  }

  void scale() {
    auto open = open_shards();
    if (open.empty() || open.size() > 20) return;
    const auto n = static_cast<int32_t>(open.size());
    const int32_t lo = (n + 1) / 2;
    const int32_t target =
        lo + static_cast<int32_t>(rng_() % static_cast<uint32_t>(2 * n - lo + 1));
    expect_ok_or_busy(env_.svc().update_shard_count(key_, target).status());
  }

  void seek_random() {
    if (acked_.empty()) return;
    const Acked& a = acked_[rng_() % acked_.size()];
    auto it = env_.iterator(key_.name, a.shard_id, IteratorType::kAtSequenceNumber, a.seq);
    ASSERT_TRUE(it.ok()) << it.status();
    auto r = env_.get(*it, 1);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->records.size(), 1u);
    EXPECT_EQ(as_string_view(r->records[0].data), a.data);
  }

  std::mt19937 rng_;
  ServiceEnv env_;
  size_t reshards_ = 0;
  const StreamKey key_ = ServiceEnv::key("model");
  std::vector<Acked> acked_;
  std::map<std::string, std::string> key_of_;
  int next_data_ = 0;
};

TEST(StreamModelTest, RandomOperationsMatchTheReference) {
  size_t reshards = 0;
  for (uint32_t seed = 1; seed <= 25; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed=" << seed);
    StreamModel model(seed, testing::instant_options());
    for (int step = 0; step < 120; ++step) {
      model.step();
      if (::testing::Test::HasFatalFailure()) return;
      if (step % 20 == 19) model.verify();
      if (::testing::Test::HasFatalFailure()) return;
    }
    model.verify();
    EXPECT_GT(model.acked(), 100u);
    reshards += model.reshards();
  }
  EXPECT_GT(reshards, 25u);
}

TEST(StreamModelTest, RandomOperationsWithTransitionDelaysMatchTheReference) {
  for (uint32_t seed = 100; seed <= 115; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed=" << seed);
    StreamModel model(seed, StreamServiceOptions{});
    for (int step = 0; step < 120; ++step) {
      model.step();
      if (::testing::Test::HasFatalFailure()) return;
      if (step % 20 == 19) model.verify();
      if (::testing::Test::HasFatalFailure()) return;
    }
    model.verify();
  }
}

}  // namespace
}  // namespace sluice::stream
