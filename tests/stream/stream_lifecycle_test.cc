// Streams: create, delete, describe, list, mode, retention, tags, encryption, monitoring,
// limits. Test names carry the spec's numbered cases where one applies ("Spec9_1_Test4").

#include "stream/identifiers.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

namespace sluice::stream {
namespace {

using testing::ServiceEnv;

StreamServiceOptions delayed() {
  StreamServiceOptions o;  // 500 ms everywhere, as the spec's defaults
  return o;
}

CreateStreamRequest create_req(const std::string& name, std::optional<int32_t> shards) {
  CreateStreamRequest r;
  r.stream = ServiceEnv::key(name);
  r.shard_count = shards;
  return r;
}

TEST(StreamLifecycleTest, Spec9_1_CreateWithoutShardCountMakesFourShards) {
  ServiceEnv env;
  ASSERT_TRUE(env.svc().create_stream(create_req("s", std::nullopt)).ok());
  auto d = env.svc().describe_stream({ServiceEnv::key("s")});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shards.size(), 4u);
  EXPECT_EQ(d->mode, StreamMode::kProvisioned);
  EXPECT_EQ(d->status, StreamStatus::kActive);
}

TEST(StreamLifecycleTest, Spec9_1_Test4_DuplicateNameIsInUse) {
  ServiceEnv env;
  env.create("s", 1);
  Status st = env.svc().create_stream(create_req("s", 1));
  EXPECT_EQ(st.code(), Code::kInUse);
  EXPECT_EQ(st.message(), "Stream s under account 000000000000 already exists.");
}

TEST(StreamLifecycleTest, Spec9_1_Test5_ShardLimitMessageReportsOpenShards) {
  StreamServiceOptions o = testing::instant_options();
  o.shard_limit = 10;
  ServiceEnv env(o);
  env.create("a", 3);
  Status st = env.svc().create_stream(create_req("b", 8));
  EXPECT_EQ(st.code(), Code::kLimitExceeded);
  EXPECT_EQ(st.message(),
            "This request would exceed the shard limit for the account 000000000000 in us-east-1. "
            "Current shard count for the account: 3. Limit: 10. Number of additional shards that "
            "would have resulted from this request: 8. Refer to the AWS Service Limits page "
            "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current "
            "limits and how to request higher limits.");
  EXPECT_TRUE(env.svc().create_stream(create_req("b", 7)).ok());
}

TEST(StreamLifecycleTest, Spec9_1_Test6_CreatingStreamHasNoShardsAndRefusesUse) {
  ServiceEnv env(delayed());
  ASSERT_TRUE(env.svc().create_stream(create_req("s", 3)).ok());
  auto d = env.svc().describe_stream({ServiceEnv::key("s")});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, StreamStatus::kCreating);
  EXPECT_TRUE(d->shards.empty());

  auto put = env.put("s", "a", "x");
  EXPECT_EQ(put.status().code(), Code::kNotFound);
  EXPECT_EQ(put.status().message(), "Stream s under account 000000000000 not found.");
  PutRecordsEntry e{"a", as_bytes("x"), std::nullopt};
  auto puts = env.svc().put_records({ServiceEnv::key("s"), std::span(&e, 1)});
  EXPECT_EQ(puts.status().code(), Code::kNotFound);

  auto it = env.iterator("s", "shardId-000000000000", IteratorType::kTrimHorizon);
  EXPECT_EQ(it.status().code(), Code::kNotFound);
  EXPECT_EQ(it.status().message(),
            "Shard shardId-000000000000 in stream s under account 000000000000 does not exist");

  Status merge = env.svc().merge_shards(ServiceEnv::key("s"), "shardId-0", "shardId-1");
  EXPECT_EQ(merge.code(), Code::kInUse);
  EXPECT_EQ(merge.message(),
            "Stream s under account 000000000000 not ACTIVE, instead in state CREATING");
  Status split = env.svc().split_shard(ServiceEnv::key("s"), "shardId-0", "12345");
  EXPECT_EQ(split.message(),
            "Stream s under account 000000000000 not ACTIVE, instead in state CREATING");

  env.clock.advance_ms(499);
  EXPECT_EQ(env.svc().describe_stream_summary(ServiceEnv::key("s"))->status,
            StreamStatus::kCreating);
  env.clock.advance_ms(1);
  auto active = env.svc().describe_stream({ServiceEnv::key("s")});
  EXPECT_EQ(active->status, StreamStatus::kActive);
  EXPECT_EQ(active->shards.size(), 3u);
  EXPECT_TRUE(env.put("s", "a", "x").ok());
}

TEST(StreamLifecycleTest, Spec9_1_Test7_ActiveStreamHasExactRangesAndSequenceNumbers) {
  ServiceEnv env;
  const int64_t request_ms = env.clock.now_ms();
  env.create("s", 3);
  auto d = env.svc().describe_stream({ServiceEnv::key("s")});
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->shards.size(), 3u);
  const char* bounds[3][2] = {
      {"0", "113427455640312821154458202477256070484"},
      {"113427455640312821154458202477256070485", "226854911280625642308916404954512140969"},
      {"226854911280625642308916404954512140970", "340282366920938463463374607431768211455"},
  };
  for (size_t i = 0; i < 3; ++i) {
    const ShardDescription& s = d->shards[i];
    EXPECT_EQ(s.shard_id, format_shard_id(static_cast<int64_t>(i)));
    EXPECT_EQ(format_hash_key(s.hash_key_range.starting), bounds[i][0]);
    EXPECT_EQ(format_hash_key(s.hash_key_range.ending), bounds[i][1]);
    EXPECT_EQ(s.starting_sequence_number.size(), 56u);
    EXPECT_FALSE(s.ending_sequence_number.has_value());
    EXPECT_FALSE(s.parent_shard_id.has_value());
  }
  // ManualClock starts at 1700000000000: the shards were created at 1699999998.
  EXPECT_EQ(d->shards[0].starting_sequence_number,
            encode_sequence_number({1699999998, 0, 0, 1699999998}).str());
  // Difference of the starts of shards 0 and 1 is 2^144 + 16 (checked in decimal by
  // sequence_number_test); here the creation fields match.
  EXPECT_EQ(parse_sequence_number(d->shards[1].starting_sequence_number)->creation_s, 1699999998);
  const int64_t age_ms = request_ms - d->creation_timestamp_ms;
  EXPECT_GE(age_ms, 2000);
  EXPECT_LE(age_ms, 7000);
  EXPECT_EQ(d->creation_timestamp_ms % 1000, 0);
}

TEST(StreamLifecycleTest, Spec9_1_Test8_OnDemandStreamHasFourOpenShards) {
  ServiceEnv env;
  CreateStreamRequest r = create_req("s", 9);  // ignored for ON_DEMAND
  r.mode = StreamMode::kOnDemand;
  ASSERT_TRUE(env.svc().create_stream(r).ok());
  auto d = env.svc().describe_stream_summary(ServiceEnv::key("s"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->mode, StreamMode::kOnDemand);
  EXPECT_EQ(d->open_shard_count, 4);
  EXPECT_TRUE(d->shards.empty());
}

TEST(StreamLifecycleTest, Spec9_1_Test9_SameNameInTwoRegionsAndAccounts) {
  ServiceEnv env;
  CreateStreamRequest r = create_req("s", 1);
  ASSERT_TRUE(env.svc().create_stream(r).ok());
  r.stream.region = "eu-west-1";
  ASSERT_TRUE(env.svc().create_stream(r).ok());
  r.stream.account = "123456789012";
  ASSERT_TRUE(env.svc().create_stream(r).ok());
  auto list = env.svc().list_streams({"000000000000", "us-east-1"});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->streams.size(), 1u);
  EXPECT_EQ(list->streams[0].arn, "arn:aws:kinesis:us-east-1:000000000000:stream/s");
}

TEST(StreamLifecycleTest, CreateLimitsOnCreatingAndOnDemandStreams) {
  StreamServiceOptions o = delayed();
  o.max_creating_streams = 2;
  o.on_demand_stream_limit = 1;
  ServiceEnv env(o);
  ASSERT_TRUE(env.svc().create_stream(create_req("a", 1)).ok());
  ASSERT_TRUE(env.svc().create_stream(create_req("b", 1)).ok());
  EXPECT_EQ(env.svc().create_stream(create_req("c", 1)).code(), Code::kLimitExceeded);
  env.clock.advance_ms(500);
  CreateStreamRequest od = create_req("d", 1);
  od.mode = StreamMode::kOnDemand;
  ASSERT_TRUE(env.svc().create_stream(od).ok());
  od.stream.name = "e";
  EXPECT_EQ(env.svc().create_stream(od).code(), Code::kLimitExceeded);
}

TEST(StreamLifecycleTest, CreateRejectsBadArguments) {
  ServiceEnv env;
  EXPECT_EQ(env.svc().create_stream(create_req("bad name", 1)).code(), Code::kInvalidArgument);
  EXPECT_EQ(env.svc().create_stream(create_req("s", 0)).code(), Code::kInvalidArgument);
  CreateStreamRequest r = create_req("s", 1);
  r.max_record_size_kib = 1023;
  EXPECT_EQ(env.svc().create_stream(r).code(), Code::kInvalidArgument);
  r.max_record_size_kib = 10240;
  EXPECT_TRUE(env.svc().create_stream(r).ok());
  EXPECT_EQ(env.svc().max_record_bytes(ServiceEnv::key("s")), 10240u * 1024);
  EXPECT_FALSE(env.svc().max_record_bytes(ServiceEnv::key("nope")).has_value());
}

TEST(StreamLifecycleTest, Spec9_2_Test1_UnknownStreamHasExactText) {
  ServiceEnv env;
  Status st = env.svc().delete_stream(ServiceEnv::key("nope"));
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "Stream nope under account 000000000000 not found.");
}

TEST(StreamLifecycleTest, Spec9_2_Test2_DeleteWhileCreatingSucceeds) {
  ServiceEnv env(delayed());
  ASSERT_TRUE(env.svc().create_stream(create_req("s", 2)).ok());
  ASSERT_TRUE(env.svc().delete_stream(ServiceEnv::key("s")).ok());
  EXPECT_EQ(env.svc().describe_stream_summary(ServiceEnv::key("s"))->status,
            StreamStatus::kDeleting);
  env.clock.advance_ms(500);
  EXPECT_EQ(env.svc().describe_stream_summary(ServiceEnv::key("s")).status().code(),
            Code::kNotFound);
  EXPECT_TRUE(env.store().log_names().empty());
}

TEST(StreamLifecycleTest, Spec9_2_Test3_DescribeShowsDeletingThenNotFound) {
  ServiceEnv env(delayed());
  ASSERT_TRUE(env.svc().create_stream(create_req("s", 2)).ok());
  env.clock.advance_ms(500);
  ASSERT_TRUE(env.put("s", "a", "x").ok());
  ASSERT_TRUE(env.svc().delete_stream(ServiceEnv::key("s")).ok());
  EXPECT_EQ(env.svc().describe_stream({ServiceEnv::key("s")})->status, StreamStatus::kDeleting);
  EXPECT_EQ(env.put("s", "a", "x").status().code(), Code::kNotFound);  // writes refused
  EXPECT_TRUE(env.svc().delete_stream(ServiceEnv::key("s")).ok());     // again: no-op
  env.clock.advance_ms(500);
  EXPECT_EQ(env.svc().describe_stream({ServiceEnv::key("s")}).status().message(),
            "Stream s under account 000000000000 not found.");
  // Deleted streams free their name.
  EXPECT_TRUE(env.svc().create_stream(create_req("s", 1)).ok());
}

TEST(StreamLifecycleTest, Spec9_2_Test4_OldIteratorAfterDeletionDoesNotExist) {
  ServiceEnv env;
  env.create("s", 1);
  auto it = env.iterator("s", "shardId-000000000000", IteratorType::kTrimHorizon);
  ASSERT_TRUE(it.ok());
  ASSERT_TRUE(env.svc().delete_stream(ServiceEnv::key("s")).ok());
  auto r = env.get(*it);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(),
            "Shard shardId-000000000000 in stream s under account 000000000000 does not exist");
}

TEST(StreamLifecycleTest, Spec9_2_Test5_RecreatedStreamRejectsOldIterators) {
  ServiceEnv env;
  env.create("s", 3);
  auto it2 = env.iterator("s", "shardId-000000000002", IteratorType::kTrimHorizon);
  auto it0 = env.iterator("s", "shardId-000000000000", IteratorType::kTrimHorizon);
  ASSERT_TRUE(it2.ok() && it0.ok());
  ASSERT_TRUE(env.svc().delete_stream(ServiceEnv::key("s")).ok());
  env.create("s", 1);
  EXPECT_EQ(env.get(*it2).status().message(),
            "Shard shardId-000000000002 in stream s under account 000000000000 does not exist");
  // Even shard 0, which exists again, belongs to another incarnation.
  EXPECT_EQ(env.get(*it0).status().code(), Code::kNotFound);
}

TEST(StreamLifecycleTest, Spec9_2_Test6_EnforceConsumerDeletionIsAccepted) {
  ServiceEnv env;
  env.create("s", 1);
  EXPECT_TRUE(
      env.svc().delete_stream(ServiceEnv::key("s"), /*enforce_consumer_deletion=*/true).ok());
}

TEST(StreamLifecycleTest, Spec9_3_Test3_LimitPagesThroughShards) {
  ServiceEnv env;
  env.create("s", 3);
  DescribeStreamRequest r{ServiceEnv::key("s"), 1, std::nullopt};
  std::vector<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    auto d = env.svc().describe_stream(r);
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d->shards.size(), 1u);
    seen.push_back(d->shards[0].shard_id);
    if (!d->has_more_shards) break;
    r.exclusive_start_shard_id = d->shards[0].shard_id;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"shardId-000000000000", "shardId-000000000001",
                                            "shardId-000000000002"}));
  // Numeric comparison: "shardId-1" means index 1.
  r.exclusive_start_shard_id = "shardId-1";
  r.limit = 100;
  EXPECT_EQ(env.svc().describe_stream(r)->shards.size(), 1u);
}

TEST(StreamLifecycleTest, Spec9_3_DescribePagesHoldAtMostOneHundredShards) {
  ServiceEnv env;
  env.create("s", 150);
  auto d = env.svc().describe_stream({ServiceEnv::key("s"), 10000, std::nullopt});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shards.size(), 100u);
  EXPECT_TRUE(d->has_more_shards);
  EXPECT_EQ(env.svc().describe_stream({ServiceEnv::key("s"), 0, std::nullopt}).status().code(),
            Code::kInvalidArgument);
}

TEST(StreamLifecycleTest, Spec9_3_DescribeReportsSettings) {
  ServiceEnv env;
  env.create("s", 1);
  auto d = env.svc().describe_stream({ServiceEnv::key("s")});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->arn, "arn:aws:kinesis:us-east-1:000000000000:stream/s");
  EXPECT_EQ(d->retention_hours, 24);
  EXPECT_EQ(d->encryption_type, EncryptionType::kNone);
  EXPECT_FALSE(d->key_id.has_value());
  EXPECT_TRUE(d->shard_level_metrics.empty());
  EXPECT_EQ(d->max_record_size_kib, 1024);
  EXPECT_EQ(d->consumer_count, 0);
}

TEST(StreamLifecycleTest, Spec9_5_Test1_EmptyAccountListsNothing) {
  ServiceEnv env;
  auto r = env.svc().list_streams({"000000000000", "us-east-1"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->streams.empty());
  EXPECT_FALSE(r->has_more_streams);
  EXPECT_FALSE(r->next_token.has_value());
}

TEST(StreamLifecycleTest, Spec9_5_Test2And3_LimitAndExclusiveStart) {
  ServiceEnv env;
  for (const char* n : {"b", "abc", "ab", "c"}) env.create(n, 1);
  auto r = env.svc().list_streams({"000000000000", "us-east-1", 1});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->streams.size(), 1u);
  EXPECT_EQ(r->streams[0].name, "ab");
  EXPECT_TRUE(r->has_more_streams);
  // A prefix of an existing name returns that name first.
  auto after = env.svc().list_streams({"000000000000", "us-east-1", 10, "a"});
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->streams.size(), 4u);
  EXPECT_EQ(after->streams[0].name, "ab");
  EXPECT_EQ(after->streams[3].name, "c");
  EXPECT_FALSE(after->has_more_streams);
}

TEST(StreamLifecycleTest, Spec9_5_Test4_NextTokenPagesThroughAllStreams) {
  ServiceEnv env;
  for (int i = 0; i < 25; ++i) env.create(fmt::format("s{:03}", i), 1);
  std::vector<std::string> names;
  ListStreamsRequest r{"000000000000", "us-east-1", 10};
  for (int page = 0; page < 10; ++page) {
    auto out = env.svc().list_streams(r);
    ASSERT_TRUE(out.ok()) << out.status();
    for (const auto& s : out->streams) names.push_back(s.name);
    if (!out->next_token) break;
    r.next_token = out->next_token;
  }
  ASSERT_EQ(names.size(), 25u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(StreamLifecycleTest, Spec9_5_NextTokenRules) {
  ServiceEnv env;
  env.create("a", 1);
  env.create("b", 1);
  auto first = env.svc().list_streams({"000000000000", "us-east-1", 1});
  ASSERT_TRUE(first.ok() && first->next_token);
  ListStreamsRequest both{"000000000000", "us-east-1", 1, "a", first->next_token};
  EXPECT_EQ(env.svc().list_streams(both).status().code(), Code::kInvalidArgument);
  ListStreamsRequest bad{"000000000000", "us-east-1", 1, std::nullopt, "AAAA"};
  EXPECT_EQ(env.svc().list_streams(bad).status().code(), Code::kInvalidArgument);
  ListStreamsRequest other_region{"000000000000", "eu-west-1", 1, std::nullopt, first->next_token};
  EXPECT_EQ(env.svc().list_streams(other_region).status().code(), Code::kInvalidArgument);
  env.clock.advance_ms(300'001);
  ListStreamsRequest late{"000000000000", "us-east-1", 1, std::nullopt, first->next_token};
  EXPECT_EQ(env.svc().list_streams(late).status().code(), Code::kExpired);
}

TEST(StreamLifecycleTest, Spec9_14_ModeChangesAfterTheUpdateDelayAndSameModeIsANoOp) {
  ServiceEnv env(delayed());
  ASSERT_TRUE(env.svc().create_stream(create_req("s", 2)).ok());
  env.clock.advance_ms(500);
  ASSERT_TRUE(env.svc().update_stream_mode(ServiceEnv::key("s"), StreamMode::kProvisioned).ok());
  EXPECT_EQ(env.svc().describe_stream_summary(ServiceEnv::key("s"))->status, StreamStatus::kActive);
  ASSERT_TRUE(env.svc().update_stream_mode(ServiceEnv::key("s"), StreamMode::kOnDemand).ok());
  auto d = env.svc().describe_stream_summary(ServiceEnv::key("s"));
  EXPECT_EQ(d->status, StreamStatus::kUpdating);
  EXPECT_EQ(d->mode, StreamMode::kProvisioned);
  EXPECT_TRUE(env.put("s", "a", "x").ok());  // writes work while UPDATING
  EXPECT_EQ(env.svc().update_stream_mode(ServiceEnv::key("s"), StreamMode::kProvisioned).code(),
            Code::kInUse);
  env.clock.advance_ms(500);
  d = env.svc().describe_stream_summary(ServiceEnv::key("s"));
  EXPECT_EQ(d->status, StreamStatus::kActive);
  EXPECT_EQ(d->mode, StreamMode::kOnDemand);
  EXPECT_EQ(d->open_shard_count, 2);  // shards kept
  // Reshard calls on ON_DEMAND streams are ValidationExceptions.
  Status st = env.svc().split_shard(ServiceEnv::key("s"), "0", "5");
  EXPECT_TRUE(is_validation_error(st));
  EXPECT_EQ(st.message(),
            "Request is invalid. Stream s under account 000000000000 is in On-Demand mode.");
  EXPECT_TRUE(is_validation_error(env.svc().merge_shards(ServiceEnv::key("s"), "0", "1")));
  EXPECT_TRUE(is_validation_error(env.svc().update_shard_count(ServiceEnv::key("s"), 4).status()));
}

TEST(StreamLifecycleTest, Spec9_15_RetentionMessages) {
  ServiceEnv env;
  env.create("s", 1);
  const StreamKey k = ServiceEnv::key("s");
  EXPECT_EQ(env.svc().increase_retention_period(k, 23).message(),
            "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) "
            "is too short.");
  EXPECT_EQ(env.svc().decrease_retention_period(k, 8761).message(),
            "Maximum allowed retention period is 8760 hours. Requested retention period (8761 "
            "hours) is too long.");
  ASSERT_TRUE(env.svc().increase_retention_period(k, 48).ok());
  EXPECT_EQ(env.svc().describe_stream_summary(k)->retention_hours, 48);
  EXPECT_EQ(env.svc().increase_retention_period(k, 36).message(),
            "Requested retention period (36 hours) for stream s can not be shorter than existing "
            "retention period (48 hours). Use DecreaseRetentionPeriod API.");
  EXPECT_EQ(env.svc().decrease_retention_period(k, 72).message(),
            "Requested retention period (72 hours) for stream s can not be longer than existing "
            "retention period (48 hours). Use IncreaseRetentionPeriod API.");
  EXPECT_TRUE(env.svc().increase_retention_period(k, 48).ok());  // equal values succeed
  EXPECT_TRUE(env.svc().decrease_retention_period(k, 24).ok());
  EXPECT_EQ(env.svc().describe_stream_summary(k)->retention_hours, 24);
  EXPECT_EQ(env.svc().increase_retention_period(ServiceEnv::key("x"), 48).code(), Code::kNotFound);
}

TEST(StreamLifecycleTest, Spec9_16_InvalidTagCharacters) {
  ServiceEnv env;
  env.create("s", 1);
  const StreamKey k = ServiceEnv::key("s");
  for (const char* bad : {";", "\t", "\n", ","}) {
    Status st = env.svc().add_tags(k, {{std::string("k") + bad, "v"}});
    EXPECT_EQ(st.message(),
              "Some tags contain invalid characters. Valid characters: Unicode letters, digits, "
              "white space, _ . / = + - % @.")
        << bad;
    st = env.svc().add_tags(k, {{"k", std::string("v") + bad}});
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(env.svc().add_tags(k, {{"k%", "v"}}).message(),
            "Failed to add tags to stream s under account 000000000000 because some tags "
            "contained illegal characters. The allowed characters are Unicode letters, "
            "white-spaces, '_',',','/','=','+','-','@'.");
  EXPECT_EQ(env.svc().remove_tags(k, {"k%"}).message(),
            "Failed to remove tags from stream s under account 000000000000 because some tags "
            "contained illegal characters. The allowed characters are Unicode letters, "
            "white-spaces, '_',',','/','=','+','-','@'.");
  EXPECT_TRUE(env.svc().add_tags(k, {{"Grüße ä/=+-@._", "ÿ"}}).ok());
}

TEST(StreamLifecycleTest, Spec9_16_AddingTenAtATimeFailsOnTheSixthBatch) {
  ServiceEnv env;
  env.create("s", 1);
  const StreamKey k = ServiceEnv::key("s");
  for (int batch = 0; batch < 6; ++batch) {
    std::map<std::string, std::string> tags;
    for (int i = 0; i < 10; ++i) tags[fmt::format("k{}-{}", batch, i)] = "v";
    Status st = env.svc().add_tags(k, tags);
    if (batch < 5) {
      EXPECT_TRUE(st.ok()) << st;
    } else {
      EXPECT_EQ(st.message(),
                "Failed to add tags to stream s under account 000000000000 because a given "
                "stream cannot have more than 50 tags associated with it.");
    }
  }
  // Overwriting existing keys does not count again.
  EXPECT_TRUE(env.svc().add_tags(k, {{"k0-0", "new"}}).ok());
}

TEST(StreamLifecycleTest, Spec9_16_ListingOrderAndPaging) {
  ServiceEnv env;
  env.create("s", 1);
  const StreamKey k = ServiceEnv::key("s");
  auto empty = env.svc().list_tags({k});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->tags.empty());
  EXPECT_FALSE(empty->has_more_tags);
  std::map<std::string, std::string> tags;
  for (const char* key : {" ", "+", "/", "0", "=", "@", "Zb", "_", "a", "ÿ"}) tags[key] = "v";
  ASSERT_TRUE(env.svc().add_tags(k, tags).ok());
  auto all = env.svc().list_tags({k});
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const auto& [key, v] : all->tags) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{" ", "+", "/", "0", "=", "@", "Zb", "_", "a", "ÿ"}));
  auto page = env.svc().list_tags({k, "@", 2});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->tags.size(), 2u);
  EXPECT_EQ(page->tags[0].first, "Zb");
  EXPECT_EQ(page->tags[1].first, "_");
  EXPECT_TRUE(page->has_more_tags);
  ASSERT_TRUE(env.svc().remove_tags(k, {"Zb", "unknown"}).ok());
  EXPECT_EQ(env.svc().list_tags({k})->tags.size(), 9u);
}

TEST(StreamLifecycleTest, CreateStreamTagsFollowTheAddTagsRules) {
  ServiceEnv env;
  CreateStreamRequest r = create_req("s", 1);
  r.tags = {{"a;", "b"}};
  EXPECT_EQ(env.svc().create_stream(r).code(), Code::kInvalidArgument);
  r.tags = {{"team", "data"}};
  ASSERT_TRUE(env.svc().create_stream(r).ok());
  EXPECT_EQ(env.svc().list_tags({ServiceEnv::key("s")})->tags.size(), 1u);
}

TEST(StreamLifecycleTest, Spec9_18_EncryptionIsReportedAfterTheUpdate) {
  ServiceEnv env(delayed());
  ASSERT_TRUE(env.svc().create_stream(create_req("s", 1)).ok());
  env.clock.advance_ms(500);
  const StreamKey k = ServiceEnv::key("s");
  EXPECT_EQ(env.svc().start_encryption(k, EncryptionType::kNone, "key").code(),
            Code::kInvalidArgument);
  ASSERT_TRUE(env.svc().start_encryption(k, EncryptionType::kKms, "alias/key").ok());
  EXPECT_EQ(env.svc().describe_stream_summary(k)->encryption_type, EncryptionType::kNone);
  env.clock.advance_ms(500);
  auto d = env.svc().describe_stream_summary(k);
  EXPECT_EQ(d->encryption_type, EncryptionType::kKms);
  EXPECT_EQ(d->key_id, "alias/key");
  EXPECT_EQ(env.put("s", "a", "x")->encryption_type, EncryptionType::kKms);
  ASSERT_TRUE(env.svc().stop_encryption(k).ok());
  env.clock.advance_ms(500);
  EXPECT_EQ(env.svc().describe_stream_summary(k)->encryption_type, EncryptionType::kNone);
}

TEST(StreamLifecycleTest, Spec9_19_EnhancedMonitoringReportsCurrentAndDesired) {
  ServiceEnv env;
  env.create("s", 1);
  const StreamKey k = ServiceEnv::key("s");
  auto on = env.svc().enable_enhanced_monitoring(k, {"IncomingBytes"});
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(on->current_shard_level_metrics.empty());
  EXPECT_EQ(on->desired_shard_level_metrics, std::vector<std::string>{"IncomingBytes"});
  auto all = env.svc().enable_enhanced_monitoring(k, {"ALL"});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->desired_shard_level_metrics.size(), 7u);
  EXPECT_EQ(env.svc().describe_stream_summary(k)->shard_level_metrics.size(), 7u);
  auto off = env.svc().disable_enhanced_monitoring(k, {"IncomingBytes", "OutgoingBytes"});
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->desired_shard_level_metrics.size(), 5u);
  EXPECT_EQ(env.svc().enable_enhanced_monitoring(k, {"Bogus"}).status().code(),
            Code::kInvalidArgument);
}

TEST(StreamLifecycleTest, Spec9_20_LimitsCountOpenShardsAndOnDemandStreams) {
  ServiceEnv env;
  env.create("a", 3);
  CreateStreamRequest od = create_req("b", 1);
  od.mode = StreamMode::kOnDemand;
  ASSERT_TRUE(env.svc().create_stream(od).ok());
  auto l = env.svc().describe_limits("000000000000", "us-east-1");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->open_shard_count, 7);
  EXPECT_EQ(l->on_demand_stream_count, 1);
  EXPECT_EQ(l->shard_limit, env.options().shard_limit);
}

}  // namespace
}  // namespace sluice::stream
