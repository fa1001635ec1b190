#include "lambda/registry.h"

#include "base/base64.h"
#include "base/file.h"
#include "base/log.h"
#include "lambda/internal/ids.h"
#include "lambda/internal/sha256.h"

#include <fmt/format.h>

#include <sys/stat.h>

namespace sluice::lambda {

namespace {

constexpr std::string_view kCatalogNs = "lambda.function";
constexpr std::string_view kStagingPrefix = ".staging-";

std::shared_ptr<spdlog::logger> logger() { return logging::get("lambda"); }

std::string not_found_message(const FunctionKey& key) {
  return "Function not found: " + function::function_arn(key.region, key.account, key.name);
}

std::string in_progress_message(const FunctionKey& key) {
  return "The operation cannot be performed at this time. An update is in progress for "
         "resource: " +
         function::function_arn(key.region, key.account, key.name);
}

Status write_zip(const std::string& path, std::string_view zip) {
  FileSystem* fs = FileSystem::posix();
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs->open(path, OpenMode::kCreateNew));
  const ByteView part(reinterpret_cast<const std::byte*>(zip.data()), zip.size());
  SLUICE_RETURN_IF_ERROR(file->pwritev(0, std::span<const ByteView>(&part, 1)));
  return file->sync();
}

}  // namespace

Result<std::unique_ptr<FunctionRegistry>> FunctionRegistry::open(storage::Catalog* catalog,
                                                                 std::string root,
                                                                 RegistryOptions options,
                                                                 const Clock* clock) {
  std::unique_ptr<FunctionRegistry> registry(
      new FunctionRegistry(catalog, std::move(root), options, clock));
  SLUICE_RETURN_IF_ERROR(FileSystem::posix()->create_dirs(registry->root_));
  SLUICE_RETURN_IF_ERROR(registry->load());
  SLUICE_RETURN_IF_ERROR(registry->sweep());
  return registry;
}

std::string FunctionRegistry::catalog_key(const FunctionKey& key) {
  return key.account + "/" + key.region + "/" + key.name;
}

std::string FunctionRegistry::function_dir(const FunctionKey& key) const {
  return root_ + "/" + key.account + "/" + key.region + "/" + key.name;
}

std::string FunctionRegistry::task_root(const FunctionRecord& r) const {
  if (!r.hot_reload_dir.empty()) return r.hot_reload_dir;
  return function_dir({r.spec.account, r.spec.region, r.spec.name}) + "/" + r.code_id + "/task";
}

Status FunctionRegistry::load() {
  SLUICE_ASSIGN_OR_RETURN(auto entries, catalog_->list(kCatalogNs));
  FileSystem* fs = FileSystem::posix();
  std::lock_guard lock(mu_);
  for (const auto& [key, value] : entries) {
    SLUICE_ASSIGN_OR_RETURN(FunctionRecord r, decode_record(value, key));
    if (catalog_key({r.spec.account, r.spec.region, r.spec.name}) != key) {
      return Status::corruption(fmt::format("lambda catalog entry {} names another function", key));
    }
    r.spec.task_root = task_root(r);
    if (r.hot_reload_dir.empty() && !fs->exists(r.spec.task_root)) {
      return Status::corruption(
          fmt::format("function {}: its code directory {} is missing", key, r.spec.task_root));
    }
    functions_.emplace(key, std::move(r));
  }
  // Quiet when there is nothing to report: a failed start must print one line only.
  if (!functions_.empty()) logger()->info("lambda: {} function(s) loaded", functions_.size());
  return Status();
}

Status FunctionRegistry::sweep() {
  FileSystem* fs = FileSystem::posix();
  std::lock_guard lock(mu_);
  SLUICE_ASSIGN_OR_RETURN(auto accounts, fs->list_dir(root_));
  for (const std::string& account : accounts) {
    const std::string account_dir = root_ + "/" + account;
    SLUICE_ASSIGN_OR_RETURN(auto regions, fs->list_dir(account_dir));
    for (const std::string& region : regions) {
      const std::string region_dir = account_dir + "/" + region;
      SLUICE_ASSIGN_OR_RETURN(auto names, fs->list_dir(region_dir));
      for (const std::string& name : names) {
        const FunctionKey key{account, region, name};
        const std::string dir = function_dir(key);
        auto it = functions_.find(catalog_key(key));
        if (it == functions_.end()) {
          logger()->info("lambda: removing code of unknown function {}", dir);
          SLUICE_RETURN_IF_ERROR(fs->remove_all(dir));
          continue;
        }
        SLUICE_ASSIGN_OR_RETURN(auto codes, fs->list_dir(dir));
        for (const std::string& code : codes) {
          if (code == it->second.code_id) continue;
          logger()->info("lambda: removing stale code {}/{}", dir, code);
          SLUICE_RETURN_IF_ERROR(fs->remove_all(dir + "/" + code));
        }
      }
    }
  }
  return Status();
}

Status FunctionRegistry::check_hot_reload_dir(const std::string& dir) const {
  if (!options_.allow_hot_reload) {
    return Status::invalid_argument(
        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The "
        "specified bucket does not exist");
  }
  struct stat st;
  if (dir.empty() || dir.front() != '/' || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::invalid_argument(fmt::format(
        "Sluice hot reload: S3Key must be an absolute path of an existing directory, got '{}'",
        dir));
  }
  return Status();
}

Status FunctionRegistry::stage_code(const FunctionKey& key, const CodeInput& code,
                                    FunctionRecord& r, bool keep) {
  if (code.hot_reload_dir) {
    SLUICE_RETURN_IF_ERROR(check_hot_reload_dir(*code.hot_reload_dir));
    r.code_id.clear();
    r.hot_reload_dir = *code.hot_reload_dir;
    r.code_sha256 = std::string(kHotReloadSha256);
    r.code_size = 0;
    return Status();
  }
  FileSystem* fs = FileSystem::posix();
  const std::string dir = function_dir(key);
  SLUICE_RETURN_IF_ERROR(fs->create_dirs(dir));
  // A new name directory (and maybe account/region ones) must survive a crash too.
  SLUICE_RETURN_IF_ERROR(fs->sync_dir(root_ + "/" + key.account + "/" + key.region));
  SLUICE_RETURN_IF_ERROR(fs->sync_dir(root_ + "/" + key.account));
  SLUICE_RETURN_IF_ERROR(fs->sync_dir(root_));
  const std::string code_id = internal::new_uuid();
  const std::string staging = dir + "/" + std::string(kStagingPrefix) + code_id;
  SLUICE_RETURN_IF_ERROR(fs->create_dirs(staging));
  Status s = write_zip(staging + "/code.zip", code.zip);
  if (s.ok()) s = internal::extract_zip(code.zip, staging + "/task", options_.zip);
  if (s.ok()) s = fs->sync_dir(staging);
  if (s.ok() && keep) s = fs->rename(staging, dir + "/" + code_id);
  if (s.ok() && keep) s = fs->sync_dir(dir);
  if (!s.ok() || !keep) {
    Status removed = fs->remove_all(staging);
    if (!removed.ok()) logger()->warn("lambda: cannot remove {}: {}", staging, removed.to_string());
    return s;
  }
  const auto digest = internal::Sha256::of(code.zip);
  r.code_sha256 =
      base64_encode(ByteView(reinterpret_cast<const std::byte*>(digest.data()), digest.size()));
  r.code_size = static_cast<int64_t>(code.zip.size());
  r.code_id = code_id;
  r.hot_reload_dir.clear();
  return Status();
}

Result<FunctionRecord> FunctionRegistry::create(FunctionRecord draft, const CodeInput& code) {
  const FunctionKey key{draft.spec.account, draft.spec.region, draft.spec.name};
  const std::string ckey = catalog_key(key);
  {
    std::lock_guard lock(mu_);
    if (functions_.contains(ckey) || busy_.contains(ckey)) {
      return Status::already_exists("Function already exist: " + key.name);
    }
    busy_.insert(ckey);
  }
  FunctionRecord r = std::move(draft);
  r.spec.arn = function::function_arn(key.region, key.account, key.name);
  r.spec.revision_id = internal::new_uuid();
  r.last_modified_ms = clock_->now_ms();
  Status s = stage_code(key, code, r, /*keep=*/true);
  if (s.ok()) {
    r.spec.task_root = task_root(r);
    r.spec.hot_reload = !r.hot_reload_dir.empty();
    s = catalog_->put(kCatalogNs, ckey, encode_record(r));
    if (!s.ok() && !r.code_id.empty()) {
      (void)FileSystem::posix()->remove_all(function_dir(key) + "/" + r.code_id);
    }
  }
  std::lock_guard lock(mu_);
  busy_.erase(ckey);
  if (!s.ok()) return s;
  functions_.emplace(ckey, r);
  logger()->info("lambda: created function {} runtime={} code={} bytes", r.spec.arn, r.spec.runtime,
                 r.code_size);
  return r;
}

Result<FunctionRecord> FunctionRegistry::get(const FunctionKey& key) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(catalog_key(key));
  if (it == functions_.end()) return Status::not_found(not_found_message(key));
  return it->second;
}

std::vector<FunctionRecord> FunctionRegistry::list(std::string_view account,
                                                   std::string_view region) const {
  const std::string prefix = fmt::format("{}/{}/", account, region);
  std::vector<FunctionRecord> out;
  std::lock_guard lock(mu_);
  for (auto it = functions_.lower_bound(prefix);
       it != functions_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<function::FunctionSpec> FunctionRegistry::spec(const FunctionKey& key) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(catalog_key(key));
  if (it == functions_.end()) return Status::not_found(not_found_message(key));
  return it->second.spec;
}

Status FunctionRegistry::remove(const FunctionKey& key) {
  const std::string ckey = catalog_key(key);
  {
    std::lock_guard lock(mu_);
    if (!functions_.contains(ckey)) return Status::not_found(not_found_message(key));
    if (busy_.contains(ckey)) return Status::in_use(in_progress_message(key));
    SLUICE_RETURN_IF_ERROR(catalog_->erase(kCatalogNs, ckey));
    functions_.erase(ckey);
    busy_.insert(ckey);  // until the directory is gone: a create of the name waits for it
  }
  Status s = FileSystem::posix()->remove_all(function_dir(key));
  if (!s.ok()) logger()->warn("lambda: cannot remove code of {}: {}", ckey, s.to_string());
  std::lock_guard lock(mu_);
  busy_.erase(ckey);
  logger()->info("lambda: deleted function {}", ckey);
  return Status();  // leftovers are swept at the next start
}

Result<FunctionRecord> FunctionRegistry::update_code(
    const FunctionKey& key, const CodeInput& code,
    const std::optional<std::string>& expected_revision, bool dry_run) {
  const std::string ckey = catalog_key(key);
  FunctionRecord r;
  {
    std::lock_guard lock(mu_);
    auto it = functions_.find(ckey);
    if (it == functions_.end()) return Status::not_found(not_found_message(key));
    if (busy_.contains(ckey)) return Status::in_use(in_progress_message(key));
    if (expected_revision && *expected_revision != it->second.spec.revision_id) {
      return Status::expired(
          "The Revision Id provided does not match the latest Revision Id. Call the "
          "GetFunction/GetAlias API to retrieve the latest Revision Id");
    }
    r = it->second;
    busy_.insert(ckey);
  }
  const FunctionRecord before = r;
  Status s = stage_code(key, code, r, /*keep=*/!dry_run);
  if (s.ok() && !dry_run) {
    r.spec.revision_id = internal::new_uuid();
    r.last_modified_ms = clock_->now_ms();
    r.spec.task_root = task_root(r);
    r.spec.hot_reload = !r.hot_reload_dir.empty();
    s = catalog_->put(kCatalogNs, ckey, encode_record(r));
    if (!s.ok() && !r.code_id.empty()) {
      (void)FileSystem::posix()->remove_all(function_dir(key) + "/" + r.code_id);
    }
  }
  {
    std::lock_guard lock(mu_);
    busy_.erase(ckey);
    if (!s.ok()) return s;
    if (dry_run) return before;
    functions_[ckey] = r;
  }
  // The catalog points at the new code: the old directory is garbage (a runtime still using
  // it notices the new revision_id; see function/function.h).
  if (!before.code_id.empty() && before.code_id != r.code_id) {
    Status removed = FileSystem::posix()->remove_all(function_dir(key) + "/" + before.code_id);
    if (!removed.ok()) {
      logger()->warn("lambda: cannot remove old code of {}: {}", ckey, removed.to_string());
    }
  }
  logger()->info("lambda: updated code of {} code={} bytes", r.spec.arn, r.code_size);
  return r;
}

Result<FunctionRecord> FunctionRegistry::update(
    const FunctionKey& key, const std::optional<std::string>& expected_revision,
    const std::function<Status(FunctionRecord&)>& change, bool new_revision) {
  const std::string ckey = catalog_key(key);
  std::lock_guard lock(mu_);  // no file I/O but the catalog's one transaction
  auto it = functions_.find(ckey);
  if (it == functions_.end()) return Status::not_found(not_found_message(key));
  if (busy_.contains(ckey)) return Status::in_use(in_progress_message(key));
  if (expected_revision && *expected_revision != it->second.spec.revision_id) {
    return Status::expired(
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id");
  }
  FunctionRecord r = it->second;
  SLUICE_RETURN_IF_ERROR(change(r));
  if (new_revision) {
    r.spec.revision_id = internal::new_uuid();
    r.last_modified_ms = clock_->now_ms();
  }
  SLUICE_RETURN_IF_ERROR(catalog_->put(kCatalogNs, ckey, encode_record(r)));
  it->second = r;
  return r;
}

Result<std::string> FunctionRegistry::code_zip_path(const FunctionKey& key,
                                                    std::string_view code_id) const {
  std::lock_guard lock(mu_);
  auto it = functions_.find(catalog_key(key));
  if (it == functions_.end() || it->second.code_id.empty() || it->second.code_id != code_id) {
    return Status::not_found("The resource you requested does not exist.");
  }
  return function_dir(key) + "/" + it->second.code_id + "/code.zip";
}

}  // namespace sluice::lambda
