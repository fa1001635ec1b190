#include "lambda/registry.h"

#include "base/file.h"
#include "tests/lambda/zip_builder.h"
#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sys/stat.h>
#include <unistd.h>

namespace sluice::lambda {
namespace {

using sluice::testing::TempDir;
using testing::ZipBuilder;

std::string app_zip(std::string_view body) {
  ZipBuilder zip;
  zip.file("app.py", body).file("bootstrap", "#!/bin/sh\n", 0755);
  return zip.bytes();
}

FunctionRecord draft(std::string name) {
  FunctionRecord r;
  r.spec.account = "000000000000";
  r.spec.region = "us-east-1";
  r.spec.name = std::move(name);
  r.spec.runtime = "python3.12";
  r.spec.handler = "app.handler";
  r.spec.log_group = "/aws/lambda/" + r.spec.name;
  r.role = "arn:aws:iam::000000000000:role/r";
  return r;
}

FunctionKey key(std::string name) { return {"000000000000", "us-east-1", std::move(name)}; }

std::vector<std::string> entries(const std::string& dir) {
  auto r = FileSystem::posix()->list_dir(dir);
  std::vector<std::string> names = r.ok() ? *r : std::vector<std::string>{};
  std::sort(names.begin(), names.end());
  return names;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open(RegistryOptions options = {}) {
    registry_.reset();
    catalog_.reset();
    auto catalog = storage::Catalog::open(tmp_.path() + "/catalog.db");
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = std::move(*catalog);
    auto registry = FunctionRegistry::open(catalog_.get(), root(), options, &clock_);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = std::move(*registry);
  }
  std::string root() const { return tmp_.path() + "/functions"; }
  std::string fn_dir(const std::string& name) const {
    return root() + "/000000000000/us-east-1/" + name;
  }

  TempDir tmp_;
  ManualClock clock_;
  std::unique_ptr<storage::Catalog> catalog_;
  std::unique_ptr<FunctionRegistry> registry_;
};

TEST_F(RegistryTest, CreateStoresZipAndTaskRootAndComputesCodeFields) {
  const std::string zip = app_zip("v1");
  auto r = registry_->create(draft("f1"), CodeInput{zip, std::nullopt});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->spec.arn, "arn:aws:lambda:us-east-1:000000000000:function:f1");
  EXPECT_EQ(r->code_size, static_cast<int64_t>(zip.size()));
  EXPECT_EQ(r->code_sha256.size(), 44u);  // base64 of 32 bytes
  EXPECT_EQ(r->spec.revision_id.size(), 36u);
  EXPECT_EQ(r->last_modified_ms, clock_.now_ms());
  EXPECT_EQ(r->spec.task_root, fn_dir("f1") + "/" + r->code_id + "/task");
  EXPECT_EQ(*read_file(FileSystem::posix(), r->spec.task_root + "/app.py"), "v1");
  EXPECT_EQ(::access((r->spec.task_root + "/bootstrap").c_str(), X_OK), 0);
  auto path = registry_->code_zip_path(key("f1"), r->code_id);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*read_file(FileSystem::posix(), *path), zip);
  EXPECT_EQ(entries(fn_dir("f1")), std::vector<std::string>{r->code_id});  // no staging left
}

TEST_F(RegistryTest, SameNameTwiceIsAlreadyExists) {
  ASSERT_TRUE(registry_->create(draft("f1"), CodeInput{app_zip("a"), std::nullopt}).ok());
  auto again = registry_->create(draft("f1"), CodeInput{app_zip("b"), std::nullopt});
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "Function already exist: f1");
}

TEST_F(RegistryTest, BadZipLeavesNothingBehind) {
  auto r = registry_->create(draft("f1"), CodeInput{"garbage", std::nullopt});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(registry_->get(key("f1")).ok());
  EXPECT_TRUE(entries(fn_dir("f1")).empty());
  // The name is free again.
  EXPECT_TRUE(registry_->create(draft("f1"), CodeInput{app_zip("a"), std::nullopt}).ok());
}

TEST_F(RegistryTest, UnknownFunctionIsNotFoundWithItsArn) {
  auto r = registry_->get(key("nope"));
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(),
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
}

TEST_F(RegistryTest, ListIsOrderedByNameAndScopedToAccountAndRegion) {
  for (const char* n : {"c", "a", "b"}) {
    ASSERT_TRUE(registry_->create(draft(n), CodeInput{app_zip(n), std::nullopt}).ok());
  }
  FunctionRecord other = draft("z");
  other.spec.region = "eu-west-1";
  ASSERT_TRUE(registry_->create(other, CodeInput{app_zip("z"), std::nullopt}).ok());
  std::vector<std::string> names;
  for (const auto& r : registry_->list("000000000000", "us-east-1")) names.push_back(r.spec.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(registry_->list("000000000000", "eu-west-1").size(), 1u);
}

TEST_F(RegistryTest, UpdateCodeSwapsTheTaskRootAndRemovesTheOldOne) {
  auto v1 = registry_->create(draft("f1"), CodeInput{app_zip("v1"), std::nullopt});
  ASSERT_TRUE(v1.ok());
  clock_.advance_ms(1000);
  auto v2 = registry_->update_code(key("f1"), CodeInput{app_zip("v2"), std::nullopt},
                                   v1->spec.revision_id, false);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_NE(v2->spec.revision_id, v1->spec.revision_id);
  EXPECT_NE(v2->code_sha256, v1->code_sha256);
  EXPECT_NE(v2->spec.task_root, v1->spec.task_root);
  EXPECT_EQ(v2->last_modified_ms, v1->last_modified_ms + 1000);
  EXPECT_EQ(*read_file(FileSystem::posix(), v2->spec.task_root + "/app.py"), "v2");
  EXPECT_FALSE(FileSystem::posix()->exists(v1->spec.task_root));
  EXPECT_EQ(entries(fn_dir("f1")), std::vector<std::string>{v2->code_id});
}

TEST_F(RegistryTest, StaleRevisionIsExpiredAndChangesNothing) {
  auto v1 = registry_->create(draft("f1"), CodeInput{app_zip("v1"), std::nullopt});
  ASSERT_TRUE(v1.ok());
  auto r = registry_->update_code(key("f1"), CodeInput{app_zip("v2"), std::nullopt},
                                  std::string("stale"), false);
  EXPECT_EQ(r.status().code(), Code::kExpired);
  EXPECT_EQ(r.status().message(),
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetFunction/GetAlias API to retrieve the latest Revision Id");
  auto cfg = registry_->update(
      key("f1"), std::string("stale"), [](FunctionRecord&) { return Status(); }, true);
  EXPECT_EQ(cfg.status().code(), Code::kExpired);
  EXPECT_EQ(registry_->get(key("f1"))->spec.revision_id, v1->spec.revision_id);
}

TEST_F(RegistryTest, DryRunValidatesButKeepsTheCode) {
  auto v1 = registry_->create(draft("f1"), CodeInput{app_zip("v1"), std::nullopt});
  ASSERT_TRUE(v1.ok());
  auto dry =
      registry_->update_code(key("f1"), CodeInput{app_zip("v2"), std::nullopt}, std::nullopt, true);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->spec.revision_id, v1->spec.revision_id);
  EXPECT_EQ(entries(fn_dir("f1")), std::vector<std::string>{v1->code_id});
  EXPECT_EQ(
      registry_->update_code(key("f1"), CodeInput{"garbage", std::nullopt}, std::nullopt, true)
          .status()
          .code(),
      Code::kInvalidArgument);
}

TEST_F(RegistryTest, ConfigurationUpdateMovesRevisionTagsDoNot) {
  auto v1 = registry_->create(draft("f1"), CodeInput{app_zip("v1"), std::nullopt});
  ASSERT_TRUE(v1.ok());
  auto tagged = registry_->update(
      key("f1"), std::nullopt,
      [](FunctionRecord& r) {
        r.tags["k"] = "v";
        return Status();
      },
      false);
  ASSERT_TRUE(tagged.ok());
  EXPECT_EQ(tagged->spec.revision_id, v1->spec.revision_id);
  auto cfg = registry_->update(
      key("f1"), v1->spec.revision_id,
      [](FunctionRecord& r) {
        r.spec.timeout_s = 9;
        r.spec.environment = {{"B", "2"}};
        return Status();
      },
      true);
  ASSERT_TRUE(cfg.ok());
  EXPECT_NE(cfg->spec.revision_id, v1->spec.revision_id);
  auto spec = registry_->spec(key("f1"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->timeout_s, 9);
  EXPECT_EQ(spec->environment.at("B"), "2");
  EXPECT_EQ(spec->revision_id, cfg->spec.revision_id);
  EXPECT_EQ(spec->task_root, v1->spec.task_root);  // code unchanged
  // A refusing change is returned as is and stores nothing.
  auto refused = registry_->update(
      key("f1"), std::nullopt, [](FunctionRecord&) { return Status::invalid_argument("no"); },
      true);
  EXPECT_EQ(refused.status().message(), "no");
}

TEST_F(RegistryTest, RemoveForgetsTheFunctionAndItsCode) {
  ASSERT_TRUE(registry_->create(draft("f1"), CodeInput{app_zip("v1"), std::nullopt}).ok());
  ASSERT_TRUE(registry_->remove(key("f1")).ok());
  EXPECT_EQ(registry_->get(key("f1")).status().code(), Code::kNotFound);
  EXPECT_FALSE(FileSystem::posix()->exists(fn_dir("f1")));
  EXPECT_EQ(registry_->remove(key("f1")).code(), Code::kNotFound);
}

TEST_F(RegistryTest, ReopenKeepsFunctionsAndCode) {
  FunctionRecord d = draft("f1");
  d.spec.environment = {{"A", "1"}};
  d.has_environment = true;
  d.tags = {{"team", "x"}};
  d.reserved_concurrency = 3;
  d.echoed["VpcConfig"] = R"({"SubnetIds":[]})";
  auto created = registry_->create(d, CodeInput{app_zip("persist"), std::nullopt});
  ASSERT_TRUE(created.ok());
  open();
  auto r = registry_->get(key("f1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->spec.revision_id, created->spec.revision_id);
  EXPECT_EQ(r->code_sha256, created->code_sha256);
  EXPECT_EQ(r->spec.task_root, created->spec.task_root);
  EXPECT_EQ(r->spec.environment, d.spec.environment);
  EXPECT_TRUE(r->has_environment);
  EXPECT_EQ(r->tags, d.tags);
  EXPECT_EQ(r->reserved_concurrency, 3);
  EXPECT_EQ(r->echoed, d.echoed);
  EXPECT_EQ(r->last_modified_ms, created->last_modified_ms);
  EXPECT_EQ(*read_file(FileSystem::posix(), r->spec.task_root + "/app.py"), "persist");
}

TEST_F(RegistryTest, ReopenSweepsStagingStaleCodeAndUnknownFunctions) {
  auto created = registry_->create(draft("f1"), CodeInput{app_zip("v1"), std::nullopt});
  ASSERT_TRUE(created.ok());
  FileSystem* fs = FileSystem::posix();
  // What a crash could leave: a half-built staging dir, an old code dir, a function whose
  // catalog entry was deleted before its directory.
  ASSERT_TRUE(fs->create_dirs(fn_dir("f1") + "/.staging-x/task").ok());
  ASSERT_TRUE(fs->create_dirs(fn_dir("f1") + "/old-code/task").ok());
  ASSERT_TRUE(fs->create_dirs(fn_dir("ghost") + "/c/task").ok());
  open();
  EXPECT_EQ(entries(fn_dir("f1")), std::vector<std::string>{created->code_id});
  EXPECT_FALSE(fs->exists(fn_dir("ghost")));
  EXPECT_TRUE(registry_->get(key("f1")).ok());
}

TEST_F(RegistryTest, MissingCodeDirectoryIsCorruptionAtOpen) {
  auto created = registry_->create(draft("f1"), CodeInput{app_zip("v1"), std::nullopt});
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(FileSystem::posix()->remove_all(fn_dir("f1")).ok());
  registry_.reset();
  auto reopened = FunctionRegistry::open(catalog_.get(), root(), {}, &clock_);
  EXPECT_EQ(reopened.status().code(), Code::kCorruption);
  EXPECT_NE(reopened.status().message().find("f1"), std::string_view::npos);
}

TEST_F(RegistryTest, HotReloadIsRefusedUnlessEnabled) {
  auto r = registry_->create(draft("f1"), CodeInput{"", tmp_.path()});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("NoSuchBucket"), std::string_view::npos);
}

TEST_F(RegistryTest, HotReloadRunsFromTheGivenDirectory) {
  open(RegistryOptions{.zip = {}, .allow_hot_reload = true});
  TempDir code;
  auto r = registry_->create(draft("f1"), CodeInput{"", code.path()});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->spec.task_root, code.path());
  EXPECT_TRUE(r->spec.hot_reload);
  EXPECT_EQ(r->code_sha256, kHotReloadSha256);
  EXPECT_FALSE(registry_->code_zip_path(key("f1"), "").ok());
  EXPECT_EQ(registry_->create(draft("f2"), CodeInput{"", "relative/dir"}).status().code(),
            Code::kInvalidArgument);
  open(RegistryOptions{.zip = {}, .allow_hot_reload = true});
  EXPECT_EQ(registry_->get(key("f1"))->spec.task_root, code.path());
  ASSERT_TRUE(registry_->remove(key("f1")).ok());
  EXPECT_TRUE(FileSystem::posix()->exists(code.path()));  // never ours to remove
}

}  // namespace
}  // namespace sluice::lambda
