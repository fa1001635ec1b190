#include "stream/identifiers.h"

#include <gtest/gtest.h>

namespace sluice::stream {
namespace {

TEST(IdentifiersTest, FormatsShardIdsWithTwelveDigits) {
  EXPECT_EQ(format_shard_id(0), "shardId-000000000000");
  EXPECT_EQ(format_shard_id(7), "shardId-000000000007");
  EXPECT_EQ(format_shard_id(2147483647), "shardId-002147483647");
  EXPECT_EQ(format_shard_id(-2147483648LL), "shardId--02147483648");  // spec 6.5
}

// Spec 5.2 lenient parsing.
TEST(IdentifiersTest, Spec5_2_LenientShardIdParsing) {
  EXPECT_EQ(parse_shard_id("shardId-5"), 5);
  EXPECT_EQ(parse_shard_id("shard-5"), 5);
  EXPECT_EQ(parse_shard_id("anything-00005"), 5);
  EXPECT_EQ(parse_shard_id("5"), 5);
  EXPECT_EQ(parse_shard_id("shardId-000000000000"), 0);
  EXPECT_EQ(parse_shard_id("2147483647"), 2147483647);
  EXPECT_EQ(parse_shard_id("x-2147483647"), 2147483647);
  EXPECT_EQ(parse_shard_id("a-00002147483647"), 2147483647);
  EXPECT_EQ(parse_shard_id("-00002147483647"), 2147483647);
  EXPECT_EQ(parse_shard_id("foo-0"), 0);
  EXPECT_FALSE(parse_shard_id("2.14E4").has_value());
  EXPECT_FALSE(parse_shard_id("ABKLFD8").has_value());
  EXPECT_FALSE(parse_shard_id("2147483648").has_value());
  EXPECT_FALSE(parse_shard_id("shardId-002147483648").has_value());
  EXPECT_FALSE(parse_shard_id("").has_value());
  EXPECT_FALSE(parse_shard_id("shardId-").has_value());
  EXPECT_FALSE(parse_shard_id("shardId-1-2").has_value());
}

TEST(IdentifiersTest, StreamArnRoundTrips) {
  const StreamKey k{"123456789012", "eu-west-1", "orders.v2_x-y"};
  EXPECT_EQ(stream_arn(k), "arn:aws:kinesis:eu-west-1:123456789012:stream/orders.v2_x-y");
  auto back = parse_stream_arn(stream_arn(k));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, k);
  EXPECT_TRUE(parse_stream_arn("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s").has_value());
}

TEST(IdentifiersTest, RejectsMalformedArns) {
  EXPECT_FALSE(parse_stream_arn("arn:aws:kinesis:us-east-1:123456789012:table/x").has_value());
  EXPECT_FALSE(parse_stream_arn("arn:aws:sqs:us-east-1:123456789012:stream/x").has_value());
  EXPECT_FALSE(parse_stream_arn("arn:aws:kinesis:us-east-1:123456789012:stream/").has_value());
  EXPECT_FALSE(parse_stream_arn("arn:aws:kinesis:us-east-1:stream/x").has_value());
  EXPECT_FALSE(parse_stream_arn("arn:aws:kinesis:us-east-1:1:stream/a b").has_value());
}

TEST(IdentifiersTest, ValidatesStreamKeys) {
  EXPECT_TRUE(validate_stream_key({"000000000000", "us-east-1", "a"}).ok());
  EXPECT_TRUE(validate_stream_key({"000000000000", "us-east-1", std::string(128, 'x')}).ok());
  EXPECT_FALSE(validate_stream_key({"000000000000", "us-east-1", std::string(129, 'x')}).ok());
  EXPECT_FALSE(validate_stream_key({"000000000000", "us-east-1", ""}).ok());
  EXPECT_FALSE(validate_stream_key({"000000000000", "us-east-1", "a/b"}).ok());
  EXPECT_FALSE(validate_stream_key({"", "us-east-1", "a"}).ok());
  EXPECT_FALSE(validate_stream_key({"000000000000", "us/east", "a"}).ok());
}

TEST(IdentifiersTest, NamesRoundTrip) {
  for (auto t : {IteratorType::kTrimHorizon, IteratorType::kLatest, IteratorType::kAtSequenceNumber,
                 IteratorType::kAfterSequenceNumber, IteratorType::kAtTimestamp}) {
    EXPECT_EQ(parse_iterator_type(iterator_type_name(t)), t);
  }
  for (auto t : {ShardFilterType::kAfterShardId, ShardFilterType::kAtTrimHorizon,
                 ShardFilterType::kFromTrimHorizon, ShardFilterType::kAtLatest,
                 ShardFilterType::kAtTimestamp, ShardFilterType::kFromTimestamp}) {
    EXPECT_EQ(parse_shard_filter_type(shard_filter_type_name(t)), t);
  }
  EXPECT_EQ(parse_stream_mode("ON_DEMAND"), StreamMode::kOnDemand);
  EXPECT_EQ(parse_encryption_type("KMS"), EncryptionType::kKms);
  EXPECT_FALSE(parse_iterator_type("latest").has_value());
  EXPECT_EQ(stream_status_name(StreamStatus::kUpdating), "UPDATING");
}

}  // namespace
}  // namespace sluice::stream
