#include "s3/object_store.h"

#include "s3/internal/object_format.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"
#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace sluice::s3 {
namespace {

using sluice::testing::TempDir;

std::unique_ptr<ObjectStore> open_store(const std::string& dir, const Clock* clock,
                                        FileSystem* fs = FileSystem::posix()) {
  auto s = ObjectStore::open(dir, clock, fs);
  SLUICE_CHECK(s.ok(), "open: {}", s.status().to_string());
  return std::move(s).value();
}

std::string read_all(const ObjectStore& store, std::string_view bucket, std::string_view key) {
  auto o = store.get_object(bucket, key);
  if (!o.ok()) return "<" + o.status().to_string() + ">";
  auto bytes = o->read(0, o->summary().size);
  if (!bytes.ok()) return "<" + bytes.status().to_string() + ">";
  return *bytes;
}

ListQuery query(std::string prefix, std::string delimiter, std::string marker = "",
                size_t max_keys = 1000) {
  ListQuery q;
  q.prefix = std::move(prefix);
  q.delimiter = std::move(delimiter);
  q.marker = std::move(marker);
  q.max_keys = max_keys;
  return q;
}

std::vector<std::string> keys_of(const ListPage& page) {
  std::vector<std::string> out;
  for (const auto& o : page.contents) out.push_back(o.key);
  return out;
}

class ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.path() + "/s3", &clock_);
    ASSERT_TRUE(store_->create_bucket("bkt", "us-east-1").ok());
  }
  void reopen() {
    store_.reset();
    store_ = open_store(dir_.path() + "/s3", &clock_);
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(ObjectStoreTest, PutThenGetReturnsBodyAndMetadata) {
  PutOptions o;
  o.content_type = "text/plain";
  o.headers = {{"x-amz-meta-color", "blue"}};
  auto put = store_->put_object("bkt", "k", "hello", o);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->etag, "\"5d41402abc4b2a76b9719d911017c592\"");
  EXPECT_EQ(put->last_modified_ms, ManualClock::kDefaultStartMs);
  auto got = store_->get_object("bkt", "k");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->content_type(), "text/plain");
  EXPECT_EQ(got->headers(), o.headers);
  EXPECT_EQ(*got->read(1, 3), "ell");
  EXPECT_EQ(*got->read(0, 5), "hello");
}

TEST_F(ObjectStoreTest, DefaultContentTypeIsBinaryOctetStream) {
  ASSERT_TRUE(store_->put_object("bkt", "k", "x").ok());
  EXPECT_EQ(store_->get_object("bkt", "k")->content_type(), "binary/octet-stream");
}

TEST_F(ObjectStoreTest, MissingBucketOrKeyIsNotFound) {
  EXPECT_TRUE(store_->put_object("nope", "k", "x").is_not_found());
  EXPECT_TRUE(store_->get_object("nope", "k").status().is_not_found());
  EXPECT_TRUE(store_->get_object("bkt", "k").status().is_not_found());
  EXPECT_TRUE(store_->check_bucket("nope").is_not_found());
  EXPECT_TRUE(store_->list_objects("nope", {}).status().is_not_found());
}

TEST_F(ObjectStoreTest, OddKeysStayInsideTheStoreAndDoNotClash) {
  const std::vector<std::string> keys = {"a",
                                         "a/b",
                                         "a/b/",
                                         "../../escape",
                                         "..",
                                         ".",
                                         "/abs",
                                         "x//y",
                                         "ключ/日本語/🙂",
                                         std::string(1024, 'z'),
                                         "sp ace+plus%25"};
  for (const auto& k : keys) ASSERT_TRUE(store_->put_object("bkt", k, "v:" + k).ok()) << k;
  reopen();
  for (const auto& k : keys) EXPECT_EQ(read_all(*store_, "bkt", k), "v:" + k) << k;
  // Nothing escaped: every file under the temp dir lives in the store's object directory,
  // named by a hash.
  size_t objects = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!e.is_regular_file()) continue;
    const std::string p = e.path().string();
    if (e.path().filename() == "bucket") continue;
    EXPECT_EQ(p.rfind(dir_.path() + "/s3/buckets/bkt/objects/", 0), 0u) << p;
    EXPECT_EQ(e.path().filename().string().size(), 32u + 4u) << p;
    ++objects;
  }
  EXPECT_EQ(objects, keys.size());
}

TEST_F(ObjectStoreTest, RefusesKeysS3Refuses) {
  EXPECT_EQ(store_->put_object("bkt", "", "x").code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->put_object("bkt", std::string(1025, 'k'), "x").code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->put_object("bkt", "bad\xff", "x").code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->put_object("bkt", "\xed\xa0\x80", "x").code(), Code::kInvalidArgument);
}

TEST_F(ObjectStoreTest, ReopenKeepsObjectsAndMetadata) {
  PutOptions o;
  o.content_type = "application/json";
  o.headers = {{"x-amz-checksum-crc32", "AAAAAA=="}};
  ASSERT_TRUE(store_->put_object("bkt", "dir/obj", "{}", o).ok());
  clock_.advance_ms(5000);
  ASSERT_TRUE(store_->put_object("bkt", "dir/obj", "{\"v\":2}", o).ok());
  reopen();
  auto got = store_->get_object("bkt", "dir/obj");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got->read(0, got->summary().size), "{\"v\":2}");
  EXPECT_EQ(got->summary().last_modified_ms, ManualClock::kDefaultStartMs + 5000);
  EXPECT_EQ(got->content_type(), "application/json");
  EXPECT_EQ(got->headers(), o.headers);
  auto b = store_->bucket("bkt");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->region, "us-east-1");
  EXPECT_EQ(b->created_ms, ManualClock::kDefaultStartMs);
}

TEST_F(ObjectStoreTest, HandleKeepsReadingTheObjectItOpened) {
  ASSERT_TRUE(store_->put_object("bkt", "k", "first").ok());
  auto old = store_->get_object("bkt", "k");
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(store_->put_object("bkt", "k", "second!").ok());
  ASSERT_TRUE(store_->delete_object("bkt", "k").ok());
  EXPECT_EQ(*old->read(0, old->summary().size), "first");
  EXPECT_TRUE(store_->get_object("bkt", "k").status().is_not_found());
}

TEST_F(ObjectStoreTest, DeleteObjectIsIdempotentAndDurable) {
  ASSERT_TRUE(store_->put_object("bkt", "k", "x").ok());
  ASSERT_TRUE(store_->delete_object("bkt", "k").ok());
  ASSERT_TRUE(store_->delete_object("bkt", "k").ok());  // missing key: still OK
  EXPECT_TRUE(store_->delete_object("nope", "k").is_not_found());
  reopen();
  EXPECT_TRUE(store_->get_object("bkt", "k").status().is_not_found());
}

TEST_F(ObjectStoreTest, BucketLifecycle) {
  EXPECT_EQ(store_->create_bucket("bkt", "us-east-1").code(), Code::kAlreadyExists);
  EXPECT_EQ(store_->create_bucket("Bad_Name", "us-east-1").code(), Code::kInvalidArgument);
  ASSERT_TRUE(store_->create_bucket("c.d-e", "eu-west-1").ok());
  ASSERT_TRUE(store_->put_object("c.d-e", "k", "x").ok());
  EXPECT_EQ(store_->delete_bucket("c.d-e").code(), Code::kInUse);
  ASSERT_TRUE(store_->delete_object("c.d-e", "k").ok());
  ASSERT_TRUE(store_->delete_bucket("c.d-e").ok());
  EXPECT_TRUE(store_->delete_bucket("c.d-e").is_not_found());
  ASSERT_TRUE(store_->create_bucket("a-first", "us-west-2").ok());
  reopen();
  const auto buckets = store_->list_buckets();
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].name, "a-first");
  EXPECT_EQ(buckets[0].region, "us-west-2");
  EXPECT_EQ(buckets[1].name, "bkt");
}

TEST(BucketNameTest, FollowsS3Rules) {
  for (const std::string& good :
       std::vector<std::string>{"abc", "my-bucket.logs", "0bucket9", std::string(63, 'a')}) {
    EXPECT_EQ(bucket_name_problem(good), std::nullopt) << good;
  }
  for (const std::string& bad :
       std::vector<std::string>{"ab", std::string(64, 'a'), "UPPER", "under_score", "-lead",
                                "trail-", ".dot", "a..b", "192.168.1.1", "xn--abc", "sthree-x",
                                "name-s3alias", "x--ol-s3", "a b", "caf\xc3\xa9"}) {
    EXPECT_NE(bucket_name_problem(bad), std::nullopt) << bad;
  }
}

TEST_F(ObjectStoreTest, ListsInUtf8ByteOrder) {
  const std::vector<std::string> keys = {"b", "a", "Z", "é", "日", "a/", "a-", "a0", "🙂", "~"};
  for (const auto& k : keys) ASSERT_TRUE(store_->put_object("bkt", k, "x").ok());
  auto page = store_->list_objects("bkt", {});
  ASSERT_TRUE(page.ok());
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end());  // std::string compares bytes as unsigned
  EXPECT_EQ(keys_of(*page), expected);
  EXPECT_EQ(expected.front(), "Z");
  EXPECT_EQ(expected.back(), "🙂");
  EXPECT_FALSE(page->truncated);
}

TEST_F(ObjectStoreTest, DelimiterRollsUpCommonPrefixes) {
  for (const char* k : {"top", "photos/2023/a.jpg", "photos/2023/b.jpg", "photos/2024/c.jpg",
                        "photos/index", "photos/", "videos/x"}) {
    ASSERT_TRUE(store_->put_object("bkt", k, "x").ok());
  }
  auto root = store_->list_objects("bkt", query("", "/"));
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(keys_of(*root), std::vector<std::string>{"top"});
  EXPECT_EQ(root->common_prefixes, (std::vector<std::string>{"photos/", "videos/"}));

  auto photos = store_->list_objects("bkt", query("photos/", "/"));
  ASSERT_TRUE(photos.ok());
  EXPECT_EQ(keys_of(*photos), (std::vector<std::string>{"photos/", "photos/index"}));
  EXPECT_EQ(photos->common_prefixes, (std::vector<std::string>{"photos/2023/", "photos/2024/"}));

  // The delimiter is searched for after the prefix only.
  auto multi = store_->list_objects("bkt", query("photos", "/20"));
  ASSERT_TRUE(multi.ok());
  EXPECT_EQ(multi->common_prefixes, std::vector<std::string>{"photos/20"});
}

TEST_F(ObjectStoreTest, PaginationCountsPrefixesAndResumesAfterThem) {
  for (const char* k : {"a/1", "a/2", "a/3", "b", "c/1", "d", "e"}) {
    ASSERT_TRUE(store_->put_object("bkt", k, "x").ok());
  }
  ListQuery q = query("", "/", "", 2);
  auto p1 = store_->list_objects("bkt", q);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->common_prefixes, std::vector<std::string>{"a/"});
  EXPECT_EQ(keys_of(*p1), std::vector<std::string>{"b"});
  EXPECT_TRUE(p1->truncated);
  EXPECT_EQ(p1->next_marker, "b");
  q.marker = p1->next_marker;
  auto p2 = store_->list_objects("bkt", q);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->common_prefixes, std::vector<std::string>{"c/"});
  EXPECT_EQ(keys_of(*p2), std::vector<std::string>{"d"});
  EXPECT_TRUE(p2->truncated);
  q.marker = "c/";  // resuming after a common prefix skips every key under it
  auto p3 = store_->list_objects("bkt", q);
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(keys_of(*p3), (std::vector<std::string>{"d", "e"}));
  EXPECT_FALSE(p3->truncated);  // exactly full, nothing after: not truncated
  EXPECT_TRUE(p3->next_marker.empty());

  auto none = store_->list_objects("bkt", query("", "", "", 0));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->contents.empty());
  EXPECT_FALSE(none->truncated);
}

// A listing by brute force over a sorted set: obviously right, slow.
ListPage reference_list(const std::set<std::string>& keys, const ListQuery& q) {
  ListPage page;
  std::string skip_under;
  if (!q.marker.empty() && !q.delimiter.empty() && q.marker.starts_with(q.prefix)) {
    const size_t d = q.marker.find(q.delimiter, q.prefix.size());
    if (d != std::string::npos) skip_under = q.marker.substr(0, d + q.delimiter.size());
  }
  size_t count = 0;
  std::string last_cp;
  for (const std::string& k : keys) {
    if (!k.starts_with(q.prefix)) continue;
    if (!q.marker.empty() && k <= q.marker) continue;
    if (!skip_under.empty() && k.starts_with(skip_under)) continue;
    std::string cp;
    if (!q.delimiter.empty()) {
      const size_t d = k.find(q.delimiter, q.prefix.size());
      if (d != std::string::npos) cp = k.substr(0, d + q.delimiter.size());
    }
    if (!cp.empty() && cp == last_cp) continue;
    if (count == q.max_keys) {
      page.truncated = count > 0;
      break;
    }
    ++count;
    if (!cp.empty()) {
      page.common_prefixes.push_back(cp);
      last_cp = cp;
      page.next_marker = cp;
    } else {
      page.contents.push_back(ObjectSummary{k, 0, "", 0});
      page.next_marker = k;
    }
  }
  if (!page.truncated) page.next_marker.clear();
  return page;
}

TEST(ObjectStoreModelTest, RandomListingsMatchReference) {
  ManualClock clock;
  MemFileSystem fs;  // fast: this test does thousands of puts
  auto store = open_store("/s3", &clock, &fs);
  ASSERT_TRUE(store->create_bucket("mdl", "us-east-1").ok());
  const std::vector<std::string> alphabet = {"a", "b", "/", "-", "é", "\xff"};
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed=" << seed);
    std::mt19937 rng(seed);
    auto word = [&](size_t max_len) {
      std::string s;
      const size_t n = rng() % (max_len + 1);
      for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
      return s;
    };
    std::set<std::string> model;
    for (int step = 0; step < 150; ++step) {
      std::string k = word(5);
      if (k.empty()) k = "k";
      if (key_problem(k)) continue;  // "\xff" alone is not UTF-8
      if (rng() % 4 == 0) {
        ASSERT_TRUE(store->delete_object("mdl", k).ok());
        model.erase(k);
      } else {
        ASSERT_TRUE(store->put_object("mdl", k, "x").ok());
        model.insert(k);
      }
      ListQuery q;
      q.prefix = rng() % 2 ? word(2) : "";
      q.delimiter = rng() % 2 ? (rng() % 2 ? "/" : "b") : "";
      q.max_keys = 1 + rng() % 6;
      // Page through; every page must match the reference for the same query.
      for (int page_no = 0; page_no < 100; ++page_no) {
        auto got = store->list_objects("mdl", q);
        ASSERT_TRUE(got.ok()) << got.status();
        const ListPage want = reference_list(model, q);
        ASSERT_EQ(keys_of(*got), keys_of(want)) << "step " << step << " page " << page_no;
        ASSERT_EQ(got->common_prefixes, want.common_prefixes) << "step " << step;
        ASSERT_EQ(got->truncated, want.truncated);
        ASSERT_EQ(got->next_marker, want.next_marker);
        if (!got->truncated) break;
        q.marker = got->next_marker;
      }
    }
    for (const auto& k : model) ASSERT_TRUE(store->delete_object("mdl", k).ok());
  }
}

// ---- Recovery ----

TEST(ObjectStoreRecoveryTest, AcknowledgedPutsSurvivePowerLoss) {
  MemFileSystem mem;
  FaultInjectionFileSystem fs(&mem);
  ManualClock clock;
  {
    auto store = open_store("/s3", &clock, &fs);
    ASSERT_TRUE(store->create_bucket("bkt", "us-east-1").ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(
          store->put_object("bkt", "k" + std::to_string(i), std::string(1000 + i, 'x')).ok());
    }
    ASSERT_TRUE(store->put_object("bkt", "k3", "replaced").ok());
  }
  ASSERT_TRUE(fs.drop_unsynced_data().ok());
  auto store = open_store("/s3", &clock, &fs);
  for (int i = 0; i < 20; ++i) {
    const std::string want = i == 3 ? "replaced" : std::string(1000 + i, 'x');
    EXPECT_EQ(read_all(*store, "bkt", "k" + std::to_string(i)), want) << i;
  }
}

TEST(ObjectStoreRecoveryTest, FailedSyncIsReportedAndLeavesNothingVisible) {
  MemFileSystem mem;
  FaultInjectionFileSystem fs(&mem);
  ManualClock clock;
  auto store = open_store("/s3", &clock, &fs);
  ASSERT_TRUE(store->create_bucket("bkt", "us-east-1").ok());
  fs.fail_syncs(true);
  EXPECT_EQ(store->put_object("bkt", "k", "x").code(), Code::kIOError);
  fs.fail_syncs(false);
  EXPECT_TRUE(store->get_object("bkt", "k").status().is_not_found());
  EXPECT_EQ(mem.list_dir("/s3/buckets/bkt/objects")->size(), 0u);  // temp file removed
}

TEST(ObjectStoreRecoveryTest, OpenRemovesLeftoversOfInterruptedWrites) {
  MemFileSystem fs;
  ManualClock clock;
  {
    auto store = open_store("/s3", &clock, &fs);
    ASSERT_TRUE(store->create_bucket("bkt", "us-east-1").ok());
    ASSERT_TRUE(store->put_object("bkt", "k", "x").ok());
  }
  fs.set_contents("/s3/buckets/bkt/objects/.tmp-123", "half an object");
  fs.set_contents("/s3/buckets/.new-c-1/bucket", "sluice-s3-bucket 1\n");
  fs.set_contents("/s3/buckets/.del-d-2/objects/x.obj", "whatever");
  auto store = open_store("/s3", &clock, &fs);
  EXPECT_EQ(read_all(*store, "bkt", "k"), "x");
  EXPECT_FALSE(fs.exists("/s3/buckets/bkt/objects/.tmp-123"));
  EXPECT_FALSE(fs.exists("/s3/buckets/.new-c-1"));
  EXPECT_FALSE(fs.exists("/s3/buckets/.del-d-2"));
  EXPECT_EQ(store->list_buckets().size(), 1u);
}

TEST(ObjectStoreRecoveryTest, DamagedObjectFilesAreCorruption) {
  MemFileSystem fs;
  ManualClock clock;
  std::string path;
  {
    auto store = open_store("/s3", &clock, &fs);
    ASSERT_TRUE(store->create_bucket("bkt", "us-east-1").ok());
    ASSERT_TRUE(store->put_object("bkt", "k", "payload").ok());
    path = "/s3/buckets/bkt/objects/" + fs.list_dir("/s3/buckets/bkt/objects")->front();
  }
  const std::string good = fs.contents(path);
  // A flipped body byte passes open() (only headers are read) but fails a whole read.
  std::string bad_body = good;
  bad_body.back() = 'X';
  fs.set_contents(path, bad_body);
  {
    auto store = open_store("/s3", &clock, &fs);
    auto o = store->get_object("bkt", "k");
    ASSERT_TRUE(o.ok());
    EXPECT_TRUE(o->read(0, o->summary().size).status().is_corruption());
  }
  // A truncated file or a damaged header fails open() and names the file.
  for (const std::string& bad :
       {good.substr(0, good.size() - 1), std::string("XX") + good.substr(2)}) {
    fs.set_contents(path, bad);
    auto store = ObjectStore::open("/s3", &clock, &fs);
    ASSERT_FALSE(store.ok());
    EXPECT_TRUE(store.status().is_corruption()) << store.status();
    EXPECT_NE(store.status().message().find(path), std::string_view::npos) << store.status();
  }
}

}  // namespace
}  // namespace sluice::s3
