#include "esm/destinations.h"

#include <gtest/gtest.h>

namespace sluice::esm {
namespace {

TEST(DestinationArnTest, BucketArnsNameTheirBucketAndNothingElseIsABucket) {
  EXPECT_EQ(bucket_of_arn("arn:aws:s3:::failures"), "failures");
  EXPECT_EQ(bucket_of_arn("arn:aws-cn:s3:::a.b-c"), "a.b-c");
  EXPECT_TRUE(is_bucket_arn("arn:aws:s3:::failures"));
  EXPECT_EQ(bucket_of_arn("arn:aws:sqs:us-east-1:000000000000:q"), std::nullopt);
  EXPECT_EQ(bucket_of_arn("arn:aws:s3:us-east-1:000000000000:x"), std::nullopt);  // not a bucket
  EXPECT_EQ(bucket_of_arn("arn:aws"), std::nullopt);
  EXPECT_EQ(bucket_of_arn("s3:::failures"), std::nullopt);
  EXPECT_FALSE(is_bucket_arn("arn:aws:sns:us-east-1:000000000000:t"));
}

}  // namespace
}  // namespace sluice::esm
