#include "storage/catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

namespace sluice::storage {
namespace {

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("catalog-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "catalog.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(CatalogTest, PutGetListErase) {
  auto c = Catalog::open(path_);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->put("stream", "b", "{\"shards\":2}").ok());
  ASSERT_TRUE((*c)->put("stream", "a", "{\"shards\":1}").ok());
  ASSERT_TRUE((*c)->put("shard", "a/0", std::string("bin\0ary", 7)).ok());
  auto got = (*c)->get("stream", "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value_or(""), "{\"shards\":1}");
  EXPECT_EQ((*c)->get("shard", "a/0")->value_or(""), std::string("bin\0ary", 7));
  auto listed = (*c)->list("stream");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].first, "a");
  ASSERT_TRUE((*c)->erase("stream", "a").ok());
  EXPECT_FALSE((*c)->get("stream", "a")->has_value());
}

TEST_F(CatalogTest, SurvivesReopen) {
  {
    auto c = Catalog::open(path_);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->put("stream", "orders", "v1").ok());
    ASSERT_TRUE((*c)->put("stream", "orders", "v2").ok());
  }
  auto c = Catalog::open(path_);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->get("stream", "orders")->value_or(""), "v2");
}

TEST_F(CatalogTest, ApplyIsAllOrNothing) {
  {
    auto c = Catalog::open(path_);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->put("stream", "keep", "old").ok());
  }
  // A trigger makes SQLite refuse the second mutation of the batch.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TRIGGER refuse BEFORE INSERT ON kv WHEN NEW.key = 'poison' "
                         "BEGIN SELECT RAISE(ABORT, 'refused'); END;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto c = Catalog::open(path_);
  ASSERT_TRUE(c.ok());
  std::vector<Catalog::Mutation> batch = {
      {"stream", "keep", std::string("new")},
      {"stream", "poison", std::string("x")},
  };
  const Status s = (*c)->apply(batch);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("refused"), std::string_view::npos) << s;
  EXPECT_EQ((*c)->get("stream", "keep")->value_or(""), "old");
  EXPECT_FALSE((*c)->get("stream", "poison")->has_value());
}

TEST_F(CatalogTest, UsesWriteAheadLogging) {
  auto c = Catalog::open(path_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->put("x", "y", "z").ok());
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(CatalogTest, RefusesAnotherSchemaVersion) {
  {
    auto c = Catalog::open(path_);
    ASSERT_TRUE(c.ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value='9' WHERE key='schema_version'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto c = Catalog::open(path_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("schema version 9"), std::string_view::npos);
}

TEST_F(CatalogTest, NotADatabaseIsAnError) {
  {
    std::FILE* f = std::fopen(path_.c_str(), "w");
    std::fputs("this is not sqlite, just some text long enough to be a header.......", f);
    std::fclose(f);
  }
  auto c = Catalog::open(path_);
  EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace sluice::storage
