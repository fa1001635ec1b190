// The per-shard throughput limits of --enforce-limits (spec 8.2, 8.3): the token buckets on
// their own, then through StreamService with a manual clock.

#include "stream/throttle.h"

#include "stream_test_env.h"

#include <gtest/gtest.h>

namespace sluice::stream {
namespace {

using testing::ServiceEnv;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr size_t kMiB = 1024 * 1024;

TEST(TokenBucketTest, RefillsAtItsRateUpToItsCapacity) {
  TokenBucket b(10, 5);
  EXPECT_TRUE(b.can_take(kT0, 10));
  b.take(kT0, 10);
  EXPECT_FALSE(b.can_take(kT0, 1));
  EXPECT_FALSE(b.can_take(kT0 + 199, 1));  // 0.995 tokens
  EXPECT_TRUE(b.can_take(kT0 + 200, 1));
  EXPECT_TRUE(b.can_take(kT0 + 60'000, 10));
}

TEST(TokenBucketTest, AFullBucketAdmitsMoreThanItsCapacityIntoDebt) {
  TokenBucket b(2, 2, 8);
  EXPECT_TRUE(b.can_take(kT0, 10));  // full: a request larger than the capacity passes once
  b.take(kT0, 10);                   // -8
  EXPECT_FALSE(b.positive(kT0 + 3'999));
  EXPECT_TRUE(b.positive(kT0 + 4'001));
}

TEST(TokenBucketTest, DebtIsBounded) {
  TokenBucket b(1, 1, 2);
  b.take(kT0, 100);  // floors at -2
  EXPECT_TRUE(b.positive(kT0 + 2'001));
}

TEST(TokenBucketTest, AClockSteppingBackRefillsNothing) {
  TokenBucket b(5, 5);
  b.take(kT0, 5);
  EXPECT_FALSE(b.can_take(kT0 - 10'000, 1));
  EXPECT_FALSE(b.can_take(kT0, 1));
}

TEST(ShardThrottleTest, WritesStopAtAThousandRecordsASecond) {
  ShardThrottle t;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(t.admit_write(kT0, 10)) << i;
  EXPECT_FALSE(t.admit_write(kT0, 10));
  EXPECT_FALSE(t.admit_write(kT0 + 0, 0));
  EXPECT_TRUE(t.admit_write(kT0 + 1, 10));  // one more record per millisecond
}

TEST(ShardThrottleTest, WritesStopAtOneMiBASecond) {
  ShardThrottle t;
  EXPECT_TRUE(t.admit_write(kT0, kMiB / 2));
  EXPECT_TRUE(t.admit_write(kT0, kMiB / 2));
  EXPECT_FALSE(t.admit_write(kT0, 1));
  EXPECT_FALSE(t.admit_write(kT0 + 500, kMiB / 2 + 1024));
  EXPECT_TRUE(t.admit_write(kT0 + 500, kMiB / 2 - 1024));
}

TEST(ShardThrottleTest, ARecordLargerThanOneMiBPassesAFullBucketAndHoldsOffTheNextWrites) {
  ShardThrottle t;
  EXPECT_TRUE(t.admit_write(kT0, 3 * kMiB));
  EXPECT_FALSE(t.admit_write(kT0 + 1'900, 1));
  EXPECT_TRUE(t.admit_write(kT0 + 2'100, 1));
}

TEST(ShardThrottleTest, FiveReadsASecondAndA10MiBReadHoldsOffTheNextOnes) {
  ShardThrottle t;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t.admit_read(kT0)) << i;
  EXPECT_FALSE(t.admit_read(kT0));
  EXPECT_TRUE(t.admit_read(kT0 + 200));
  t.charge_read(kT0 + 200, 10 * kMiB);
  EXPECT_FALSE(t.admit_read(kT0 + 2'000));
  EXPECT_FALSE(t.admit_read(kT0 + 4'000));
  EXPECT_TRUE(t.admit_read(kT0 + 5'000));
}

TEST(ShardThrottleTest, FiveIteratorsASecond) {
  ShardThrottle t;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t.admit_iterator(kT0)) << i;
  EXPECT_FALSE(t.admit_iterator(kT0));
  EXPECT_TRUE(t.admit_iterator(kT0 + 1'000));
}

StreamServiceOptions limited() {
  StreamServiceOptions o = testing::instant_options();
  o.enforce_limits = true;
  return o;
}

TEST(EnforcedLimitsTest, PutRecordOverTheShardRateIsThrottledWithTheSpecMessage) {
  ServiceEnv env(limited());
  env.create("s", 1);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(env.put("s", "k", "x").ok()) << i;
  auto r = env.put("s", "k", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kThrottled);
  EXPECT_EQ(r.status().message(),
            "Rate exceeded for shard shardId-000000000000 in stream s under account "
            "000000000000.");
  env.clock.advance_ms(1'000);
  EXPECT_TRUE(env.put("s", "k", "x").ok());
  // Nothing throttled was stored.
  EXPECT_EQ(env.drain("s", "shardId-000000000000").size(), 1001u);
}

TEST(EnforcedLimitsTest, WithoutTheFlagNothingIsThrottled) {
  ServiceEnv env;
  env.create("s", 1);
  for (int i = 0; i < 1500; ++i) ASSERT_TRUE(env.put("s", "k", "x").ok()) << i;
}

TEST(EnforcedLimitsTest, PutRecordsFailsOnlyTheEntriesOverTheRate) {
  ServiceEnv env(limited());
  env.create("s", 2);
  constexpr std::string_view kLow = "0";  // shard 0's range starts at 0
  constexpr std::string_view kHigh = "340282366920938463463374607431768211455";  // shard 1
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(env.put("s", "k", "x", kLow).ok()) << i;
  std::vector<PutRecordsEntry> entries;
  for (std::string_view ehk : {kLow, kHigh, kLow}) {
    entries.push_back(
        {.partition_key = "k", .data = as_bytes(std::string_view("y")), .explicit_hash_key = ehk});
  }
  PutRecordsRequest req;
  req.stream = ServiceEnv::key("s");
  req.records = entries;
  auto r = env.svc().put_records(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->failed_record_count, 2);
  EXPECT_EQ(r->failure_of(0).error_code, "ProvisionedThroughputExceededException");
  EXPECT_EQ(r->failure_of(0).error_message,
            "Rate exceeded for shard shardId-000000000000 in stream s under account "
            "000000000000.");
  EXPECT_TRUE(r->records[1].ok());
  EXPECT_EQ(r->records[1].shard_index, 1);
  EXPECT_EQ(r->records[1].shard_id(), "shardId-000000000001");
  EXPECT_EQ(r->failure_of(2).error_code, "ProvisionedThroughputExceededException");
  EXPECT_EQ(r->failures.size(), 2u);
  EXPECT_EQ(env.drain("s", "shardId-000000000000").size(), 1000u);
  EXPECT_EQ(env.drain("s", "shardId-000000000001").size(), 1u);
}

TEST(EnforcedLimitsTest, GetRecordsAndGetShardIteratorAreThrottledPerShard) {
  ServiceEnv env(limited());
  env.create("s", 1);
  ASSERT_TRUE(env.put("s", "k", "x").ok());
  std::vector<std::string> its;
  for (int i = 0; i < 5; ++i) {
    auto it = env.iterator("s", "shardId-000000000000", IteratorType::kTrimHorizon);
    ASSERT_TRUE(it.ok()) << i;
    its.push_back(*it);
  }
  auto sixth = env.iterator("s", "shardId-000000000000", IteratorType::kTrimHorizon);
  ASSERT_FALSE(sixth.ok());
  EXPECT_EQ(sixth.status().code(), Code::kThrottled);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(env.get(its[i]).ok()) << i;
  auto over = env.get(its[0]);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), Code::kThrottled);
  env.clock.advance_ms(1'000);
  auto again = env.get(its[0]);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->records.size(), 1u);
}

TEST(EnforcedLimitsTest, OnDemandStreamsAreNeverThrottled) {
  ServiceEnv env(limited());
  CreateStreamRequest req;
  req.stream = ServiceEnv::key("od");
  req.mode = StreamMode::kOnDemand;
  ASSERT_TRUE(env.svc().create_stream(req).ok());
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(env.put("od", "k", "x").ok()) << i;
}

TEST(UpdateMaxRecordSizeTest, LargerRecordsAreAcceptedAfterwardsAndTheSettingPersists) {
  ServiceEnv env;
  env.create("s", 1);
  const std::string two_mib(2 * kMiB, 'x');
  ASSERT_FALSE(env.put("s", "k", two_mib).ok());
  ASSERT_TRUE(env.svc().update_max_record_size(ServiceEnv::key("s"), 4096).ok());
  EXPECT_TRUE(env.put("s", "k", two_mib).ok());
  env.restart();
  EXPECT_EQ(env.svc().max_record_bytes(ServiceEnv::key("s")), size_t{4096} * 1024);
  auto d = env.svc().describe_stream_summary(ServiceEnv::key("s"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->max_record_size_kib, 4096);
  EXPECT_EQ(env.svc().update_max_record_size(ServiceEnv::key("nope"), 2048).code(),
            Code::kNotFound);
}

TEST(UpdateStreamWarmThroughputTest, OnlyOnDemandStreamsTakeItAndDescribeShowsIt) {
  ServiceEnv env;
  env.create("p", 1);
  auto refused = env.svc().update_stream_warm_throughput(ServiceEnv::key("p"), 100);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  CreateStreamRequest req;
  req.stream = ServiceEnv::key("od");
  req.mode = StreamMode::kOnDemand;
  ASSERT_TRUE(env.svc().create_stream(req).ok());
  auto r = env.svc().update_stream_warm_throughput(ServiceEnv::key("od"), 100);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream_name, "od");
  EXPECT_EQ(r->target_mibps, 100);
  env.restart();
  auto d = env.svc().describe_stream_summary(ServiceEnv::key("od"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->warm_throughput_mibps, 100);
}

}  // namespace
}  // namespace sluice::stream
