#include "stream/embedded_backend.h"

#include "stream_test_env.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace sluice::stream {
namespace {

class EmbeddedBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::LogStore::open(&fs_, "/logs", storage::LogOptions{}, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    backend_ = std::make_unique<EmbeddedShardLogBackend>(store_.get());
  }

  MemFileSystem fs_;
  ManualClock clock_;
  std::unique_ptr<storage::LogStore> store_;
  std::unique_ptr<EmbeddedShardLogBackend> backend_;
};

TEST_F(EmbeddedBackendTest, KeepsCountersArrivalsKeysAndPayloads) {
  auto log = backend_->open("stream-0000000000000001-0000000000");
  ASSERT_TRUE(log.ok()) << log.status();
  const LogRecordIn in[] = {
      {as_bytes("one"), "k1", 5, 1000},
      {as_bytes(""), "k2", 0x7fffffffffffffffull, 1001},
  };
  auto base = (*log)->append(in);
  ASSERT_TRUE(base.ok()) << base.status();
  EXPECT_EQ(*base, LogOffset(0));
  auto r = (*log)->read(LogOffset(0), LogReadLimits{});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->records.size(), 2u);
  EXPECT_EQ(r->records[0].counter, 5u);
  EXPECT_EQ(r->records[0].arrival_ms, 1000);
  EXPECT_EQ(r->records[0].partition_key, "k1");
  EXPECT_EQ(as_string_view(r->records[0].payload), "one");
  EXPECT_EQ(r->records[1].counter, 0x7fffffffffffffffull);
  EXPECT_EQ(r->records[1].offset, LogOffset(1));
  EXPECT_EQ(r->next_offset, LogOffset(2));
  EXPECT_EQ(*(*log)->end_offset(), LogOffset(2));
  EXPECT_EQ(*(*log)->offset_at_time(1001), LogOffset(1));
}

TEST_F(EmbeddedBackendTest, ViewsOutliveTheReadThroughKeepalive) {
  auto log = *backend_->open("l");
  const LogRecordIn in[] = {{as_bytes("payload"), "k", 1, 1}};
  ASSERT_TRUE(log->append(in).ok());
  std::shared_ptr<const void> keep;
  ByteView view;
  {
    auto r = log->read(LogOffset(0), LogReadLimits{});
    ASSERT_TRUE(r.ok());
    keep = r->keepalive;
    view = r->records[0].payload;
  }
  EXPECT_EQ(as_string_view(view), "payload");
}

TEST_F(EmbeddedBackendTest, AnUnreadableCounterSlotIsCorruption) {
  // A record written straight to storage without the stream layer's counter.
  auto raw = store_->open_log("l");
  ASSERT_TRUE(raw.ok());
  const storage::RecordIn in[] = {{as_bytes("x"), "k", "not-hex", 1}};
  ASSERT_TRUE((*raw)->append(in).ok());
  auto log = *backend_->open("l");
  auto r = log->read(LogOffset(0), LogReadLimits{});
  EXPECT_EQ(r.status().code(), Code::kCorruption);
}

TEST_F(EmbeddedBackendTest, ListsAndRemovesLogs) {
  ASSERT_TRUE(backend_->open("a").ok());
  ASSERT_TRUE(backend_->open("b").ok());
  auto names = backend_->list();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u);
  EXPECT_TRUE(backend_->remove("a").ok());
  EXPECT_TRUE(backend_->remove("a").ok());  // already gone is fine
  EXPECT_EQ(backend_->list()->size(), 1u);
  EXPECT_FALSE(backend_->open("bad/name").ok());
}

TEST(CatalogMetadataStoreTest, AppliesAtomicallyAndLists) {
  const auto dir = std::filesystem::path(::testing::TempDir()) /
                   ("stream-catalog-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    auto catalog = storage::Catalog::open((dir / "catalog.db").string());
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    CatalogMetadataStore store(catalog->get());
    const MetadataStore::Write writes[] = {{"stream", "b", "2"}, {"stream", "a", "1"}};
    ASSERT_TRUE(store.apply(writes).ok());
    auto listed = store.list("stream");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].first, "a");
    const MetadataStore::Write erase[] = {{"stream", "a", std::nullopt}};
    ASSERT_TRUE(store.apply(erase).ok());
    EXPECT_FALSE(store.get("stream", "a")->has_value());
    EXPECT_EQ(store.get("stream", "b")->value_or(""), "2");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::stream
