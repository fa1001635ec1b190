// What survives a restart: streams, shards, settings, counters, iterators, pending
// transitions; what a crash or a failing metadata store leaves behind.

#include "storage/catalog.h"
#include "stream/identifiers.h"
#include "stream/internal/metadata_codec.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace sluice::stream {
namespace {

using testing::ServiceEnv;

constexpr const char* kShard0 = "shardId-000000000000";
const StreamKey kS = ServiceEnv::key("s");

uint64_t counter_of(const std::string& seq) { return parse_sequence_number(seq)->counter; }

void expect_same(const StreamDescription& a, const StreamDescription& b) {
  EXPECT_EQ(a.stream, b.stream);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.retention_hours, b.retention_hours);
  EXPECT_EQ(a.creation_timestamp_ms, b.creation_timestamp_ms);
  EXPECT_EQ(a.shard_level_metrics, b.shard_level_metrics);
  EXPECT_EQ(a.encryption_type, b.encryption_type);
  EXPECT_EQ(a.max_record_size_kib, b.max_record_size_kib);
  ASSERT_EQ(a.shards.size(), b.shards.size());
  for (size_t i = 0; i < a.shards.size(); ++i) {
    EXPECT_EQ(a.shards[i].shard_id, b.shards[i].shard_id);
    EXPECT_TRUE(a.shards[i].hash_key_range == b.shards[i].hash_key_range);
    EXPECT_EQ(a.shards[i].starting_sequence_number, b.shards[i].starting_sequence_number);
    EXPECT_EQ(a.shards[i].ending_sequence_number, b.shards[i].ending_sequence_number);
    EXPECT_EQ(a.shards[i].parent_shard_id, b.shards[i].parent_shard_id);
    EXPECT_EQ(a.shards[i].adjacent_parent_shard_id, b.shards[i].adjacent_parent_shard_id);
  }
}

TEST(PersistenceTest, StreamsShardsAndSettingsSurviveRestart) {
  ServiceEnv env;
  env.create("s", 3);
  ASSERT_TRUE(env.svc().split_shard(kS, "0", "1000").ok());
  ASSERT_TRUE(env.svc().merge_shards(kS, "1", "2").ok());
  ASSERT_TRUE(env.svc().increase_retention_period(kS, 100).ok());
  ASSERT_TRUE(env.svc().add_tags(kS, {{"team", "data"}, {"a b", "c=d"}}).ok());
  ASSERT_TRUE(env.svc().enable_enhanced_monitoring(kS, {"IncomingBytes"}).ok());
  ASSERT_TRUE(env.svc().start_encryption(kS, EncryptionType::kKms, "alias/k").ok());
  const auto before = *env.svc().describe_stream({kS});
  const auto tags = env.svc().list_tags({kS})->tags;
  env.restart();
  const auto after = env.svc().describe_stream({kS});
  ASSERT_TRUE(after.ok()) << after.status();
  expect_same(before, *after);
  EXPECT_EQ(after->key_id, "alias/k");
  EXPECT_EQ(env.svc().list_tags({kS})->tags, tags);
}

TEST(PersistenceTest, RecordsAndTheirSequenceNumbersComeBackAndCountersNeverRepeat) {
  ServiceEnv env;
  env.create("s", 2);
  std::vector<std::string> seqs;
  uint64_t max_counter = 0;
  for (int i = 0; i < 20; ++i) {
    auto r = env.put("s", i % 2 ? "a" : "b", std::to_string(i));
    ASSERT_TRUE(r.ok());
    if (r->shard_id == kShard0) seqs.push_back(r->sequence_number);
    max_counter = std::max(max_counter, counter_of(r->sequence_number));
  }
  for (int restart = 0; restart < 3; ++restart) {
    env.restart();
    auto r = env.get(*env.iterator("s", kShard0, IteratorType::kTrimHorizon));
    ASSERT_TRUE(r.ok());
    ASSERT_GE(r->records.size(), seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) {
      EXPECT_EQ(r->records[i].sequence_number.view(), seqs[i]);
    }
    auto next = env.put("s", "a", "after restart");
    ASSERT_TRUE(next.ok());
    EXPECT_GT(counter_of(next->sequence_number), max_counter);
    max_counter = counter_of(next->sequence_number);
    if (next->shard_id == kShard0) seqs.push_back(next->sequence_number);
  }
}

TEST(PersistenceTest, IteratorsIssuedBeforeARestartStillWork) {
  ServiceEnv env;
  env.create("s", 1);
  ASSERT_TRUE(env.put("s", "a", "one").ok());
  auto it = env.iterator("s", kShard0, IteratorType::kTrimHorizon);
  ASSERT_TRUE(it.ok());
  env.restart();
  auto r = env.get(*it);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(as_string_view(r->records[0].data), "one");
}

TEST(PersistenceTest, IteratorsOfAnotherDataDirAreInvalid) {
  ServiceEnv a;
  ServiceEnv b;
  a.create("s", 1);
  b.create("s", 1);
  auto it = a.iterator("s", kShard0, IteratorType::kTrimHorizon);
  EXPECT_EQ(b.get(*it).status().message(), "Invalid ShardIterator.");
}

TEST(PersistenceTest, PendingCreationCompletesAfterRestart) {
  ServiceEnv env(StreamServiceOptions{});
  CreateStreamRequest req;
  req.stream = kS;
  req.shard_count = 2;
  ASSERT_TRUE(env.svc().create_stream(req).ok());
  env.restart();
  EXPECT_EQ(env.svc().describe_stream_summary(kS)->status, StreamStatus::kCreating);
  env.clock.advance_ms(500);
  env.restart();  // due while down: completes at open
  EXPECT_EQ(env.svc().describe_stream_summary(kS)->status, StreamStatus::kActive);
  EXPECT_EQ(env.svc().describe_stream({kS})->shards.size(), 2u);
}

TEST(PersistenceTest, PendingSplitAndDeletionSurviveRestart) {
  ServiceEnv env(StreamServiceOptions{});
  CreateStreamRequest req;
  req.stream = kS;
  req.shard_count = 1;
  ASSERT_TRUE(env.svc().create_stream(req).ok());
  env.clock.advance_ms(500);
  ASSERT_TRUE(env.put("s", "a", "x").ok());
  ASSERT_TRUE(env.svc().split_shard(kS, "0", "1000").ok());
  env.restart();
  EXPECT_EQ(env.svc().describe_stream({kS})->shards.size(), 1u);
  env.clock.advance_ms(500);
  EXPECT_EQ(env.svc().describe_stream({kS})->shards.size(), 3u);
  ASSERT_TRUE(env.svc().delete_stream(kS).ok());
  env.restart();
  EXPECT_EQ(env.svc().describe_stream_summary(kS)->status, StreamStatus::kDeleting);
  env.clock.advance_ms(500);
  ASSERT_TRUE(env.svc().run_maintenance().ok());
  EXPECT_TRUE(env.store().log_names().empty());
  EXPECT_EQ(env.metadata.size(internal::kStreamNs), 0u);
  EXPECT_EQ(env.metadata.size(internal::kShardNs), 0u);
  EXPECT_EQ(env.metadata.size(internal::kCounterNs), 0u);
}

TEST(PersistenceTest, OrphanShardLogsAreRemovedAtOpen) {
  ServiceEnv env;
  env.create("s", 1);
  ASSERT_TRUE(env.store().open_log("stream-00000000000000ff-0000000000").ok());
  ASSERT_TRUE(env.store().open_log("someone-elses-log").ok());
  env.restart();
  auto names = env.store().log_names();
  EXPECT_EQ(std::count(names.begin(), names.end(), "stream-00000000000000ff-0000000000"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), "someone-elses-log"), 1);
  EXPECT_EQ(names.size(), 2u);
}

TEST(PersistenceTest, AFailingMetadataStoreChangesNothing) {
  ServiceEnv env;
  env.create("s", 2);
  ASSERT_TRUE(env.put("s", "a", "x").ok());  // reserves a block of counters
  const auto before = *env.svc().describe_stream({kS});
  env.metadata.fail_applies(true);
  CreateStreamRequest req;
  req.stream = ServiceEnv::key("t");
  req.shard_count = 1;
  EXPECT_EQ(env.svc().create_stream(req).code(), Code::kIOError);
  EXPECT_EQ(env.svc().split_shard(kS, "0", "1000").code(), Code::kIOError);
  EXPECT_EQ(env.svc().add_tags(kS, {{"k", "v"}}).code(), Code::kIOError);
  EXPECT_EQ(env.svc().increase_retention_period(kS, 48).code(), Code::kIOError);
  EXPECT_EQ(env.svc().delete_stream(kS).code(), Code::kIOError);
  EXPECT_TRUE(env.put("s", "a", "x").ok());  // the counter reservation was made before
  env.metadata.fail_applies(false);
  expect_same(before, *env.svc().describe_stream({kS}));
  EXPECT_EQ(env.svc().describe_stream_summary(ServiceEnv::key("t")).status().code(),
            Code::kNotFound);
  EXPECT_TRUE(env.svc().list_tags({kS})->tags.empty());
}

TEST(PersistenceTest, AReshardThatCannotBePersistedIsRetriedAndPutsGoOn) {
  ServiceEnv env(StreamServiceOptions{});
  CreateStreamRequest req;
  req.stream = kS;
  req.shard_count = 1;
  ASSERT_TRUE(env.svc().create_stream(req).ok());
  env.clock.advance_ms(500);
  ASSERT_TRUE(env.svc().split_shard(kS, "0", "1000").ok());
  env.clock.advance_ms(500);
  env.metadata.fail_applies(true);
  EXPECT_EQ(env.svc().describe_stream({kS}).status().code(), Code::kIOError);
  env.metadata.fail_applies(false);
  EXPECT_TRUE(env.put("s", "a", "x").ok());  // completes the split, then routes to a child
  auto d = env.svc().describe_stream({kS});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shards.size(), 3u);
}

TEST(PersistenceTest, DamagedMetadataStopsOpen) {
  ServiceEnv env;
  env.create("s", 1);
  env.metadata.put_raw(std::string(internal::kStreamNs), internal::stream_meta_key(kS),
                       "format=1\nname=s\n");
  env.close();
  auto store = storage::LogStore::open(&env.fs, "/data/logs", storage::LogOptions{}, &env.clock);
  ASSERT_TRUE(store.ok());
  EmbeddedShardLogBackend backend(store->get());
  auto svc = StreamService::open(&backend, &env.metadata, &env.clock, testing::instant_options());
  EXPECT_EQ(svc.status().code(), Code::kCorruption);
  EXPECT_TRUE((*store)->close_all().ok());
}

TEST(PersistenceTest, AcknowledgedRecordsSurvivePowerLoss) {
  ServiceEnv env(testing::instant_options(), /*with_faults=*/true);
  env.create("s", 2);
  std::vector<std::string> acked0;
  for (int i = 0; i < 50; ++i) {
    auto r = env.put("s", i % 3 ? "a" : "b", std::to_string(i));
    ASSERT_TRUE(r.ok());
    if (r->shard_id == kShard0) acked0.push_back(std::to_string(i));
  }
  env.close();
  ASSERT_TRUE(env.faults->drop_unsynced_data().ok());
  env.open();
  EXPECT_EQ(env.drain("s", kShard0), acked0);
}

TEST(PersistenceTest, WorksOverTheSqliteCatalog) {
  const auto dir = std::filesystem::path(::testing::TempDir()) /
                   ("stream-persist-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "catalog.db").string();
  MemFileSystem fs;
  ManualClock clock;
  std::string seq;
  std::string iterator;
  for (int round = 0; round < 2; ++round) {
    auto catalog = storage::Catalog::open(path);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    CatalogMetadataStore metadata(catalog->get());
    auto store = storage::LogStore::open(&fs, "/logs", storage::LogOptions{}, &clock);
    ASSERT_TRUE(store.ok());
    EmbeddedShardLogBackend backend(store->get());
    auto svc = StreamService::open(&backend, &metadata, &clock, testing::instant_options());
    ASSERT_TRUE(svc.ok()) << svc.status();
    if (round == 0) {
      CreateStreamRequest req;
      req.stream = kS;
      req.shard_count = 1;
      ASSERT_TRUE((*svc)->create_stream(req).ok());
      PutRecordRequest put;
      put.stream = kS;
      put.partition_key = "k";
      put.data = as_bytes("persisted");
      seq = (*svc)->put_record(put)->sequence_number;
      iterator = *(*svc)->get_shard_iterator({kS, kShard0, IteratorType::kTrimHorizon});
    } else {
      GetRecordsRequest get;
      get.shard_iterator = iterator;
      auto r = (*svc)->get_records(get);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->records.size(), 1u);
      EXPECT_EQ(r->records[0].sequence_number.view(), seq);
    }
    svc->reset();
    EXPECT_TRUE((*store)->close_all().ok());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::stream
