#include "stream/internal/metadata_codec.h"

#include <gtest/gtest.h>

namespace sluice::stream::internal {
namespace {

StreamMeta sample_stream() {
  StreamMeta m;
  m.key = {"123456789012", "eu-west-1", "orders"};
  m.incarnation = 9;
  m.status = StreamStatus::kUpdating;
  m.mode = StreamMode::kProvisioned;
  m.initial_shard_count = 3;
  m.retention_hours = 48;
  m.trim_floor_ms = 1'699'000'000'000;
  m.creation_ms = 1'700'000'000'000;
  m.next_shard_index = 5;
  m.encryption = EncryptionType::kKms;
  m.key_id = "alias/key=1%";
  m.shard_level_metrics = {"IncomingBytes", "IteratorAgeMilliseconds"};
  m.tags = {{"env", "prod"}, {"a=b", "c%d\ne"}, {"Ünïcødé", ""}};
  m.max_record_size_kib = 2048;
  m.scaling_ms = {1'700'000'001'000, 1'700'000'002'000};
  m.pending.kind = PendingKind::kSplit;
  m.pending.due_ms = 1'700'000'003'000;
  m.pending.shard = 2;
  m.pending.hash_key = kMaxHashKey - 5;
  return m;
}

TEST(MetadataCodecTest, StreamRoundTrips) {
  const StreamMeta m = sample_stream();
  auto back = decode_stream(encode_stream(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);
}

TEST(MetadataCodecTest, EveryPendingKindRoundTrips) {
  for (PendingKind k :
       {PendingKind::kNone, PendingKind::kCreate, PendingKind::kMerge, PendingKind::kScale,
        PendingKind::kMode, PendingKind::kEncryption, PendingKind::kDelete}) {
    StreamMeta m = sample_stream();
    m.pending = PendingChange{};
    m.pending.kind = k;
    if (k != PendingKind::kNone) m.pending.due_ms = 77;
    if (k == PendingKind::kMerge) {
      m.pending.shard = 1;
      m.pending.adjacent = 2;
    }
    if (k == PendingKind::kScale) m.pending.target = 8;
    if (k == PendingKind::kMode) m.pending.mode = StreamMode::kOnDemand;
    if (k == PendingKind::kEncryption) {
      m.pending.encryption = EncryptionType::kKms;
      m.pending.key_id = "k";
    }
    auto back = decode_stream(encode_stream(m));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, m);
  }
}

TEST(MetadataCodecTest, ShardRoundTrips) {
  ShardMeta m;
  m.incarnation = 9;
  m.index = 4;
  m.range = {HashKey{1} << 100, kMaxHashKey};
  m.seq_creation_s = 1'700'000'001;
  m.created_ms = 1'700'000'000'500;
  m.closed_ms = 1'700'000'100'000;
  m.parent = 1;
  m.adjacent_parent = 2;
  m.log_name = shard_log_name(9, 4);
  auto back = decode_shard(encode_shard(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);
  m.closed_ms.reset();
  m.parent.reset();
  m.adjacent_parent.reset();
  back = decode_shard(encode_shard(m));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, m);
}

TEST(MetadataCodecTest, ShardEncodingMatchesTheDocumentedExample) {
  ShardMeta m;
  m.incarnation = 1;
  m.index = 3;
  m.range.starting = 0;
  m.range.ending = *parse_hash_key("226854911280625642308916404954512140969");
  m.seq_creation_s = 1700000011;
  m.created_ms = 1700000010000;
  m.parent = 0;
  m.adjacent_parent = 1;
  m.log_name = shard_log_name(1, 3);
  EXPECT_EQ(encode_shard(m),
            "format=1\n"
            "incarnation=1\n"
            "index=3\n"
            "starting_hash_key=0\n"
            "ending_hash_key=226854911280625642308916404954512140969\n"
            "seq_creation_s=1700000011\n"
            "created_ms=1700000010000\n"
            "parent=0\n"
            "adjacent_parent=1\n"
            "log=stream-0000000000000001-0000000003\n");
  EXPECT_EQ(shard_meta_key(1, 3), "0000000000000001/0000000003");
  EXPECT_EQ(stream_meta_key({"000000000000", "us-east-1", "orders"}),
            "000000000000/us-east-1/orders");
}

TEST(MetadataCodecTest, RejectsDamage) {
  const std::string good = encode_stream(sample_stream());
  EXPECT_EQ(decode_stream("").status().code(), Code::kCorruption);
  EXPECT_EQ(decode_stream(good.substr(0, good.size() - 1)).status().code(), Code::kCorruption);
  EXPECT_EQ(decode_stream("format=2\n").status().code(), Code::kCorruption);
  EXPECT_EQ(decode_stream(good + "surprise=1\n").status().code(), Code::kCorruption);
  EXPECT_EQ(decode_stream(good + "name=twice\n").status().code(), Code::kCorruption);
  std::string bad_status = good;
  bad_status.replace(bad_status.find("status=UPDATING"), 15, "status=SLEEPING");
  EXPECT_EQ(decode_stream(bad_status).status().code(), Code::kCorruption);
  std::string bad_escape = good;
  bad_escape.replace(bad_escape.find("%"), 1, "%G");
  EXPECT_EQ(decode_stream(bad_escape).status().code(), Code::kCorruption);
  EXPECT_EQ(decode_shard("format=1\nindex=x\n").status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace sluice::stream::internal
