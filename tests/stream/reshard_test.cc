// SplitShard, MergeShards, UpdateShardCount and ListShards (spec 5.5, 9.6, 9.11-9.13), and
// reading across resharding: parents drained, then children.

#include "stream/identifiers.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

namespace sluice::stream {
namespace {

using testing::ServiceEnv;

constexpr const char* kShard0 = "shardId-000000000000";

std::vector<std::string> ids(const std::vector<ShardDescription>& shards) {
  std::vector<std::string> out;
  for (const auto& s : shards) out.push_back(s.shard_id);
  return out;
}

// True when the ranges cover [0, 2^128 - 1] exactly once (sorted by start).
bool covers_hash_space(std::vector<ShardDescription> shards) {
  std::sort(shards.begin(), shards.end(), [](const auto& a, const auto& b) {
    return a.hash_key_range.starting < b.hash_key_range.starting;
  });
  HashKey next = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards[i].hash_key_range.starting != next) return false;
    if (i + 1 == shards.size()) return shards[i].hash_key_range.ending == kMaxHashKey;
    next = shards[i].hash_key_range.ending + 1;
  }
  return false;
}

Result<ListShardsResult> list(ServiceEnv& env, std::optional<ShardFilter> filter = {},
                              std::optional<int32_t> max = {}) {
  ListShardsRequest r;
  r.stream = ServiceEnv::key("s");
  r.filter = filter;
  r.max_results = max;
  return env.svc().list_shards(r);
}

StreamServiceOptions delayed() { return StreamServiceOptions{}; }

void create_active(ServiceEnv& env, int32_t shards) {
  CreateStreamRequest req;
  req.stream = ServiceEnv::key("s");
  req.shard_count = shards;
  ASSERT_TRUE(env.svc().create_stream(req).ok());
  env.clock.advance_ms(env.options().creating_delay_ms);
}

const StreamKey kS = ServiceEnv::key("s");

TEST(SplitShardTest, Spec9_11_HashKeyBoundsMessages) {
  ServiceEnv env;
  env.create("s", 3);
  for (const char* key : {"1", "113427455640312821154458202477256070484"}) {
    EXPECT_EQ(env.svc().split_shard(kS, kShard0, key).message(),
              std::string("NewStartingHashKey ") + key +
                  " used in SplitShard() on shard shardId-000000000000 in stream s under account "
                  "000000000000 is not both greater than one plus the shard's StartingHashKey 0 "
                  "and less than the shard's EndingHashKey "
                  "113427455640312821154458202477256070484.");
  }
  EXPECT_EQ(
      env.svc().split_shard(kS, "shardId-2", "999999999999999999999999999999999999999").message(),
      "NewStartingHashKey 999999999999999999999999999999999999999 used in SplitShard() on "
      "shard shardId-000000000002 in stream s under account 000000000000 is not both greater "
      "than one plus the shard's StartingHashKey 226854911280625642308916404954512140970 and "
      "less than the shard's EndingHashKey 340282366920938463463374607431768211455.");
}

TEST(SplitShardTest, Spec9_11_ShardErrors) {
  ServiceEnv env;
  env.create("s", 2);
  EXPECT_EQ(env.svc().split_shard(kS, "ABKLFD8", "5").message(),
            "Could not find shard ABKLFD8 in stream s under account 000000000000.");
  EXPECT_EQ(env.svc().split_shard(kS, "shardId-7", "5").message(),
            "Could not find shard shardId-000000000007 in stream s under account 000000000000.");
  EXPECT_EQ(env.svc().split_shard(ServiceEnv::key("x"), "0", "5").message(),
            "Stream x under account 000000000000 not found.");
}

TEST(SplitShardTest, Spec9_11_MinimumLegalKeyWithShardSyntaxThenSecondSplitIsRefused) {
  ServiceEnv env;
  env.create("s", 3);
  ASSERT_TRUE(env.svc().split_shard(kS, "shard-0", "2").ok());
  auto d = env.svc().describe_stream({kS});
  ASSERT_EQ(d->shards.size(), 5u);
  EXPECT_TRUE(d->shards[0].ending_sequence_number.has_value());
  EXPECT_EQ(format_hash_key(d->shards[3].hash_key_range.starting), "0");
  EXPECT_EQ(format_hash_key(d->shards[3].hash_key_range.ending), "1");
  EXPECT_EQ(format_hash_key(d->shards[4].hash_key_range.starting), "2");
  EXPECT_EQ(d->shards[3].parent_shard_id, kShard0);
  EXPECT_EQ(d->shards[4].parent_shard_id, kShard0);
  EXPECT_FALSE(d->shards[4].adjacent_parent_shard_id.has_value());
  EXPECT_EQ(env.svc().split_shard(kS, kShard0, "5").message(),
            "Shard shardId-000000000000 in stream s under account 000000000000 has already been "
            "merged or split, and thus is not eligible for merging or splitting.");
}

TEST(SplitShardTest, Spec9_11_PutsDuringUpdatingLandInTheParentAfterwardsInTheChildren) {
  ServiceEnv env(delayed());
  create_active(env, 1);
  const std::string mid = "170141183460469231731687303715884105728";
  ASSERT_TRUE(env.svc().split_shard(kS, kShard0, mid).ok());
  auto d = env.svc().describe_stream({kS});
  EXPECT_EQ(d->status, StreamStatus::kUpdating);
  EXPECT_EQ(d->shards.size(), 1u);  // old shard set until the end of UPDATING
  EXPECT_EQ(env.put("s", "a", "during")->shard_id, kShard0);
  EXPECT_EQ(env.svc().split_shard(kS, kShard0, mid).message(),
            "Stream s under account 000000000000 not ACTIVE, instead in state UPDATING");
  env.clock.advance_ms(500);
  EXPECT_EQ(env.put("s", "a", "x", "0")->shard_id, "shardId-000000000001");
  EXPECT_EQ(env.put("s", "a", "x", mid)->shard_id, "shardId-000000000002");
  d = env.svc().describe_stream({kS});
  EXPECT_EQ(d->status, StreamStatus::kActive);
  ASSERT_EQ(d->shards.size(), 3u);
  // Children created at completion + 1 s; parent closed at completion.
  const int64_t completion_s = (ManualClock::kDefaultStartMs + 1000) / 1000;
  EXPECT_EQ(parse_sequence_number(d->shards[1].starting_sequence_number)->creation_s,
            completion_s + 1);
  auto end = parse_sequence_number(*d->shards[0].ending_sequence_number);
  EXPECT_EQ(end->counter, kMaxSequenceCounter);
  EXPECT_EQ(end->arrival_s, completion_s);
}

TEST(MergeShardsTest, Spec9_12_NotAdjacentPairs) {
  ServiceEnv env;
  env.create("s", 3);
  EXPECT_EQ(env.svc().merge_shards(kS, "shardId-000000000000", "shardId-000000000002").message(),
            "Shards shardId-000000000000 and shardId-000000000002 in stream s under account "
            "000000000000 are not an adjacent pair of shards eligible for merging");
  EXPECT_EQ(env.svc().merge_shards(kS, "shardId-000000000001", "shardId-000000000000").message(),
            "Shards shardId-000000000001 and shardId-000000000000 in stream s under account "
            "000000000000 are not an adjacent pair of shards eligible for merging");
  EXPECT_EQ(env.svc().merge_shards(kS, "x", "0").message(),
            "Could not find shard x in stream s under account 000000000000.");
  EXPECT_EQ(env.svc().merge_shards(kS, "0", "y").message(),
            "Could not find shard y in stream s under account 000000000000.");
  EXPECT_EQ(env.svc().merge_shards(kS, "0", "9").message(),
            "Could not find shard shardId-000000000009 in stream s under account 000000000000.");
}

TEST(MergeShardsTest, Spec9_12_StandardMergeOfZeroAndOne) {
  ServiceEnv env(delayed());
  create_active(env, 3);
  ASSERT_TRUE(env.svc().merge_shards(kS, "shardId-000000000000", "shardId-000000000001").ok());
  auto d = env.svc().describe_stream({kS});
  EXPECT_EQ(d->status, StreamStatus::kUpdating);
  EXPECT_EQ(d->shards.size(), 3u);
  for (const auto& s : d->shards) EXPECT_FALSE(s.ending_sequence_number.has_value());
  EXPECT_EQ(env.svc().merge_shards(kS, "shardId-000000000001", "shardId-000000000002").message(),
            "Stream s under account 000000000000 not ACTIVE, instead in state UPDATING");
  EXPECT_EQ(env.put("s", "x", "x", "113427455640312821154458202477256070485")->shard_id,
            "shardId-000000000001");
  env.clock.advance_ms(500);
  d = env.svc().describe_stream({kS});
  ASSERT_EQ(d->shards.size(), 4u);
  for (int i : {0, 1}) {
    auto end = parse_sequence_number(*d->shards[static_cast<size_t>(i)].ending_sequence_number);
    EXPECT_EQ(end->counter, kMaxSequenceCounter);
  }
  EXPECT_EQ(parse_sequence_number(*d->shards[0].ending_sequence_number)->arrival_s,
            parse_sequence_number(*d->shards[1].ending_sequence_number)->arrival_s);
  const ShardDescription& child = d->shards[3];
  EXPECT_EQ(child.shard_id, "shardId-000000000003");
  EXPECT_EQ(child.parent_shard_id, "shardId-000000000000");
  EXPECT_EQ(child.adjacent_parent_shard_id, "shardId-000000000001");
  EXPECT_EQ(format_hash_key(child.hash_key_range.starting), "0");
  EXPECT_EQ(format_hash_key(child.hash_key_range.ending),
            "226854911280625642308916404954512140969");
  EXPECT_EQ(env.svc().describe_stream_summary(kS)->open_shard_count, 2);  // 9.4
}

TEST(ReshardReadTest, Spec9_10_Test9_DrainingAMergedParentEndsWithChildShards) {
  ServiceEnv env;
  env.create("s", 3);
  ASSERT_TRUE(env.put("s", "a", "p0").ok());
  ASSERT_TRUE(env.put("s", "b", "p1").ok());
  auto it0 = env.iterator("s", kShard0, IteratorType::kTrimHorizon);
  ASSERT_TRUE(env.svc().merge_shards(kS, "0", "1").ok());
  ASSERT_TRUE(env.put("s", "a", "c3").ok());

  auto r = env.get(*it0);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(as_string_view(r->records[0].data), "p0");
  EXPECT_FALSE(r->next_shard_iterator.has_value());  // the batch left nothing unread
  EXPECT_EQ(r->millis_behind_latest, 0);
  ASSERT_EQ(r->child_shards.size(), 1u);
  EXPECT_EQ(r->child_shards[0].shard_id, "shardId-000000000003");
  EXPECT_EQ(r->child_shards[0].parent_shards,
            (std::vector<std::string>{"shardId-000000000000", "shardId-000000000001"}));
  EXPECT_EQ(format_hash_key(r->child_shards[0].hash_key_range.ending),
            "226854911280625642308916404954512140969");
  EXPECT_EQ(env.drain("s", "shardId-000000000003"), std::vector<std::string>{"c3"});
}

TEST(ReshardReadTest, ClosedShardWithUnreadRecordsStillGivesANextIterator) {
  ServiceEnv env;
  env.create("s", 1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(env.put("s", "a", std::to_string(i)).ok());
  ASSERT_TRUE(env.svc().split_shard(kS, kShard0, "1000").ok());
  auto r = env.get(*env.iterator("s", kShard0, IteratorType::kTrimHorizon), 2);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->next_shard_iterator.has_value());
  EXPECT_TRUE(r->child_shards.empty());
  r = env.get(*r->next_shard_iterator, 3);
  EXPECT_EQ(r->records.size(), 3u);
  EXPECT_FALSE(r->next_shard_iterator.has_value());
  EXPECT_EQ(r->child_shards.size(), 2u);
  for (const auto& c : r->child_shards) {
    EXPECT_EQ(c.parent_shards, std::vector<std::string>{kShard0});
  }
  // LATEST on a closed shard: the end, so the first read reports shard end.
  auto latest = env.get(*env.iterator("s", kShard0, IteratorType::kLatest));
  EXPECT_FALSE(latest->next_shard_iterator.has_value());
  EXPECT_EQ(latest->child_shards.size(), 2u);
}

TEST(ReshardReadTest, PerKeyOrderHoldsAcrossParentThenChildren) {
  ServiceEnv env;
  env.create("s", 2);
  std::vector<std::string> want;
  auto put_some = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      want.push_back(std::to_string(i));
      ASSERT_TRUE(env.put("s", "key", want.back()).ok());
    }
  };
  put_some(0, 5);
  // "key" lives in shard 0 or 1; split both, merge the key's children back, and so on.
  const std::string shard = env.put("s", "key", "probe")->shard_id;
  want.push_back("probe");
  ASSERT_TRUE(
      env.svc()
          .split_shard(kS, shard,
                       shard == kShard0 ? "1000" : "170141183460469231731687303715884106728")
          .ok());
  put_some(5, 10);
  ASSERT_TRUE(env.svc().merge_shards(kS, "2", "3").ok());
  put_some(10, 15);
  ASSERT_TRUE(env.svc().update_shard_count(kS, 4).ok());
  put_some(15, 20);
  // Follow the lineage from the key's first shard: parents drained before children.
  std::vector<std::string> got;
  std::vector<std::string> frontier = {shard};
  std::set<std::string> visited;
  while (!frontier.empty()) {
    const std::string s = frontier.front();
    frontier.erase(frontier.begin());
    if (!visited.insert(s).second) continue;
    std::string cur = *env.iterator("s", s, IteratorType::kTrimHorizon);
    while (true) {
      auto r = env.get(cur);
      ASSERT_TRUE(r.ok()) << r.status();
      for (const auto& rec : r->records) {
        if (rec.partition_key == "key") got.emplace_back(as_string_view(rec.data));
      }
      if (!r->next_shard_iterator) {
        for (const auto& c : r->child_shards) frontier.push_back(c.shard_id);
        break;
      }
      if (r->records.empty()) break;  // open shard, caught up
      cur = *r->next_shard_iterator;
    }
  }
  EXPECT_EQ(got, want);
}

TEST(UpdateShardCountTest, Spec9_13_TwoToFourGivesUniformChildrenWithParents) {
  ServiceEnv env;
  env.create("s", 2);
  auto r = env.svc().update_shard_count(kS, 4);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->current_shard_count, 2);
  EXPECT_EQ(r->target_shard_count, 4);
  EXPECT_EQ(r->stream_arn, "arn:aws:kinesis:us-east-1:000000000000:stream/s");
  auto open = list(env, ShardFilter{ShardFilterType::kAtLatest});
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->shards.size(), 4u);
  const auto want = divide_hash_space(4);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(open->shards[i].hash_key_range == want[i]) << i;
    EXPECT_TRUE(open->shards[i].parent_shard_id.has_value());
  }
}

TEST(UpdateShardCountTest, Spec9_13_FourToTwoMerges) {
  ServiceEnv env;
  env.create("s", 4);
  ASSERT_TRUE(env.svc().update_shard_count(kS, 2).ok());
  auto open = list(env, ShardFilter{ShardFilterType::kAtLatest});
  ASSERT_EQ(open->shards.size(), 2u);
  const auto want = divide_hash_space(2);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(open->shards[i].hash_key_range == want[i]);
    EXPECT_TRUE(open->shards[i].parent_shard_id.has_value());
    EXPECT_TRUE(open->shards[i].adjacent_parent_shard_id.has_value());
  }
}

TEST(UpdateShardCountTest, ThreeToFiveAndBackKeepsCoverageAndLineage) {
  ServiceEnv env;
  env.create("s", 3);
  for (int target : {5, 3, 6, 4, 7}) {
    ASSERT_TRUE(env.svc().update_shard_count(kS, target).ok()) << target;
    auto open = list(env, ShardFilter{ShardFilterType::kAtLatest});
    ASSERT_EQ(open->shards.size(), static_cast<size_t>(target));
    std::sort(open->shards.begin(), open->shards.end(), [](const auto& a, const auto& b) {
      return a.hash_key_range.starting < b.hash_key_range.starting;
    });
    const auto want = divide_hash_space(static_cast<uint32_t>(target));
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_TRUE(open->shards[i].hash_key_range == want[i]) << target << " " << i;
    }
    auto all = list(env);
    for (const auto& s : all->shards) {
      if (s.index >= 3) {
        EXPECT_TRUE(s.parent_shard_id.has_value()) << s.shard_id;
      }
    }
  }
}

TEST(UpdateShardCountTest, Spec9_13_Limits) {
  ServiceEnv env;
  env.create("s", 3);
  EXPECT_EQ(env.svc().update_shard_count(kS, 7).status().code(), Code::kLimitExceeded);
  EXPECT_EQ(env.svc().update_shard_count(kS, 1).status().code(), Code::kLimitExceeded);
  auto same = env.svc().update_shard_count(kS, 3);  // Terraform-style no-op
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->current_shard_count, 3);
  EXPECT_EQ(list(env)->shards.size(), 3u);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(env.svc().update_shard_count(kS, i % 2 ? 3 : 2).ok()) << i;
  }
  EXPECT_EQ(env.svc().update_shard_count(kS, 2).status().code(), Code::kLimitExceeded);
  EXPECT_TRUE(env.svc().update_shard_count(kS, 3).ok());  // the no-op is always fine
  env.clock.advance_ms(24 * 3'600'000);
  EXPECT_TRUE(env.svc().update_shard_count(kS, 2).ok());
}

TEST(UpdateShardCountTest, ScalingRespectsTheAccountShardLimit) {
  StreamServiceOptions o = testing::instant_options();
  o.shard_limit = 5;
  ServiceEnv env(o);
  env.create("s", 3);
  EXPECT_EQ(env.svc().update_shard_count(kS, 6).status().code(), Code::kLimitExceeded);
  EXPECT_TRUE(env.svc().update_shard_count(kS, 5).ok());
  EXPECT_EQ(env.svc()
                .split_shard(kS, "shardId-000000000003", "1000000000000000000000000000000000000")
                .code(),
            Code::kLimitExceeded);
}

// ---- ListShards ----

TEST(ListShardsTest, Spec9_6_Test1_TheTwoInvalidArgumentTexts) {
  ServiceEnv env;
  env.create("s", 1);
  EXPECT_EQ(env.svc().list_shards({}).status().message(),
            "Either NextToken or StreamName should be provided.");
  ListShardsRequest both;
  both.stream = kS;
  both.next_token = "x";
  EXPECT_EQ(env.svc().list_shards(both).status().message(),
            "NextToken and StreamName cannot be provided together.");
}

TEST(ListShardsTest, Spec9_6_Test3_ExclusiveStartShardIdComparesNumerically) {
  ServiceEnv env;
  env.create("s", 3);
  ListShardsRequest r;
  r.stream = kS;
  r.exclusive_start_shard_id = "shardId-000000000001";
  EXPECT_EQ(ids(env.svc().list_shards(r)->shards),
            std::vector<std::string>{"shardId-000000000002"});
}

TEST(ListShardsTest, Spec9_6_Test4_PagingWithMaxResultsOneWalksAllShards) {
  ServiceEnv env;
  env.create("s", 3);
  auto page = list(env, std::nullopt, 1);
  std::vector<std::string> seen = ids(page->shards);
  while (page->next_token) {
    ListShardsRequest next;
    next.next_token = page->next_token;
    next.max_results = 1;
    page = env.svc().list_shards(next);
    ASSERT_TRUE(page.ok()) << page.status();
    for (auto& id : ids(page->shards)) seen.push_back(id);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"shardId-000000000000", "shardId-000000000001",
                                            "shardId-000000000002"}));
  EXPECT_FALSE(page->next_token.has_value());
}

TEST(ListShardsTest, Spec9_6_Test5_ExpiredTokenAndTamperedToken) {
  ServiceEnv env;
  env.create("s", 3);
  auto page = list(env, std::nullopt, 1);
  ASSERT_TRUE(page->next_token.has_value());
  ListShardsRequest next;
  next.next_token = *page->next_token;
  next.next_token->back() = next.next_token->back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(env.svc().list_shards(next).status().code(), Code::kInvalidArgument);
  next.next_token = page->next_token;
  ShardFilter f{ShardFilterType::kAtLatest};
  next.filter = f;
  EXPECT_EQ(env.svc().list_shards(next).status().code(), Code::kInvalidArgument);
  next.filter.reset();
  env.clock.advance_ms(300'001);
  EXPECT_EQ(env.svc().list_shards(next).status().code(), Code::kExpired);
}

TEST(ListShardsTest, Spec9_6_Test6_AfterASplitLatestAndTrimHorizonBothCover) {
  ServiceEnv env;
  env.create("s", 3);
  env.clock.advance_ms(10'000);
  ASSERT_TRUE(env.svc().split_shard(kS, "1", "150000000000000000000000000000000000000").ok());
  auto latest = list(env, ShardFilter{ShardFilterType::kAtLatest});
  EXPECT_EQ(ids(latest->shards),
            (std::vector<std::string>{"shardId-000000000000", "shardId-000000000002",
                                      "shardId-000000000003", "shardId-000000000004"}));
  EXPECT_TRUE(covers_hash_space(latest->shards));
  auto horizon = list(env, ShardFilter{ShardFilterType::kAtTrimHorizon});
  EXPECT_EQ(ids(horizon->shards),
            (std::vector<std::string>{"shardId-000000000000", "shardId-000000000001",
                                      "shardId-000000000002"}));
  EXPECT_TRUE(covers_hash_space(horizon->shards));
  EXPECT_EQ(list(env)->shards.size(), 5u);
  EXPECT_EQ(list(env, ShardFilter{ShardFilterType::kFromTrimHorizon})->shards.size(), 5u);
}

TEST(ListShardsTest, Spec9_6_Test7_FilterArgumentsAreRequired) {
  ServiceEnv env;
  env.create("s", 1);
  EXPECT_EQ(list(env, ShardFilter{ShardFilterType::kAfterShardId}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(list(env, ShardFilter{ShardFilterType::kAtTimestamp}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(list(env, ShardFilter{ShardFilterType::kFromTimestamp}).status().code(),
            Code::kInvalidArgument);
  auto after = list(env, ShardFilter{ShardFilterType::kAfterShardId, "shardId-000000000000"});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->shards.empty());
}

TEST(ListShardsTest, Spec9_6_TimestampFilters) {
  ServiceEnv env;
  env.create("s", 2);
  env.clock.advance_ms(60'000);
  const int64_t before_split = env.clock.now_ms();
  env.clock.advance_ms(60'000);
  ASSERT_TRUE(env.svc().split_shard(kS, "0", "1000").ok());  // completes now: 0 closes
  const int64_t split_at = env.clock.now_ms();
  env.clock.advance_ms(60'000);
  // Open at before_split: the original two.
  auto at = list(env, ShardFilter{ShardFilterType::kAtTimestamp, std::nullopt, before_split});
  EXPECT_EQ(ids(at->shards),
            (std::vector<std::string>{"shardId-000000000000", "shardId-000000000001"}));
  EXPECT_TRUE(covers_hash_space(at->shards));
  // After the split: shard 1 and the children.
  auto later = list(env, ShardFilter{ShardFilterType::kAtTimestamp, std::nullopt, split_at + 1});
  EXPECT_EQ(ids(later->shards),
            (std::vector<std::string>{"shardId-000000000001", "shardId-000000000002",
                                      "shardId-000000000003"}));
  EXPECT_TRUE(covers_hash_space(later->shards));
  // Before stream creation: as AT_TRIM_HORIZON.
  auto early = list(env, ShardFilter{ShardFilterType::kAtTimestamp, std::nullopt, 1000});
  EXPECT_EQ(ids(early->shards), ids(at->shards));
  // FROM_TIMESTAMP: open shards plus those closed at or after t.
  auto from_before =
      list(env, ShardFilter{ShardFilterType::kFromTimestamp, std::nullopt, before_split});
  EXPECT_EQ(from_before->shards.size(), 4u);
  auto from_after =
      list(env, ShardFilter{ShardFilterType::kFromTimestamp, std::nullopt, split_at + 1});
  EXPECT_EQ(ids(from_after->shards),
            (std::vector<std::string>{"shardId-000000000001", "shardId-000000000002",
                                      "shardId-000000000003"}));
}

TEST(ListShardsTest, Spec5_2_ClosedShardsExpireAfterRetention) {
  ServiceEnv env;
  env.create("s", 1);
  ASSERT_TRUE(env.put("s", "a", "old").ok());
  ASSERT_TRUE(env.svc().split_shard(kS, "0", "1000").ok());
  env.clock.advance_ms(24 * 3'600'000);
  EXPECT_EQ(list(env)->shards.size(), 3u);  // closed exactly 24 h ago: still there
  env.clock.advance_ms(1);
  EXPECT_EQ(ids(list(env)->shards),
            (std::vector<std::string>{"shardId-000000000001", "shardId-000000000002"}));
  EXPECT_EQ(env.svc().describe_stream({kS})->shards.size(), 2u);
  auto horizon = list(env, ShardFilter{ShardFilterType::kAtTrimHorizon});
  EXPECT_TRUE(covers_hash_space(horizon->shards));
  // Maintenance deletes it for good; its index is never reused.
  ASSERT_TRUE(env.svc().run_maintenance().ok());
  EXPECT_EQ(env.iterator("s", "0", IteratorType::kTrimHorizon).status().code(), Code::kNotFound);
  ASSERT_TRUE(env.svc().split_shard(kS, "1", "500").ok());
  EXPECT_EQ(list(env)->shards.back().shard_id, "shardId-000000000004");
  EXPECT_EQ(env.store().log_names().size(), 4u);
}

TEST(ListShardsTest, CreatingStreamIsInUseAndCreationTimestampMustMatch) {
  ServiceEnv env(delayed());
  CreateStreamRequest req;
  req.stream = kS;
  req.shard_count = 1;
  ASSERT_TRUE(env.svc().create_stream(req).ok());
  EXPECT_EQ(list(env).status().message(),
            "Stream s under account 000000000000 is not in ACTIVE or UPDATING state.");
  env.clock.advance_ms(500);
  ListShardsRequest r;
  r.stream = kS;
  r.stream_creation_timestamp_ms = env.svc().describe_stream_summary(kS)->creation_timestamp_ms;
  EXPECT_TRUE(env.svc().list_shards(r).ok());
  r.stream_creation_timestamp_ms = *r.stream_creation_timestamp_ms + 1000;
  EXPECT_EQ(env.svc().list_shards(r).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace sluice::stream
