#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "function/function.h"
#include "lambda/function_record.h"
#include "lambda/internal/zip_extract.h"
#include "storage/catalog.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::lambda {

struct FunctionKey {
  std::string account;
  std::string region;
  std::string name;
};

struct RegistryOptions {
  internal::ZipLimits zip;
  // Code.S3Bucket "hot-reload" + S3Key <absolute directory> runs code from that directory
  // (spec 2.9, non-AWS behaviour). Off unless enabled.
  bool allow_hot_reload = false;
};

// The code of a create or code update: zip bytes, or a hot-reload directory.
struct CodeInput {
  std::string_view zip;  // must stay valid for the call
  std::optional<std::string> hot_reload_dir;
};

// Every function of every (account, region): metadata in the catalog (namespace
// "lambda.function", docs/formats/lambda-catalog.md), code under `root`:
//   <root>/<account>/<region>/<name>/<code_id>/code.zip   the zip as uploaded
//   <root>/<account>/<region>/<name>/<code_id>/task/      the extracted task root
// A code directory is built as <name>/.staging-<code_id>, fsynced and renamed into place
// before the catalog points at it; the previous one is removed after the catalog moved on.
// open() removes whatever a crash left behind (staging dirs, superseded code, functions the
// catalog no longer lists).
//
// Created once by the composition root; borrows `catalog` and `clock`, which must outlive
// it. Thread-safe. Calls block on file I/O (extraction, fsync) and run on the caller's
// thread; only the bookkeeping is under the mutex, so a long extraction holds up only
// other writes to the same function (they fail with kInUse, spec 2.4's "update in
// progress"), never reads.
class FunctionRegistry {
 public:
  static Result<std::unique_ptr<FunctionRegistry>> open(storage::Catalog* catalog, std::string root,
                                                        RegistryOptions options,
                                                        const Clock* clock);
  FunctionRegistry(const FunctionRegistry&) = delete;
  FunctionRegistry& operator=(const FunctionRegistry&) = delete;

  // Stores a new function. `draft` holds the configuration (spec.account/region/name and
  // the configurable members); code fields, revision, timestamps and the ARN are set here.
  // Errors: kAlreadyExists "Function already exist: <name>"; kInvalidArgument with the
  // client text for a bad zip or hot-reload directory; kIOError.
  Result<FunctionRecord> create(FunctionRecord draft, const CodeInput& code);

  // kNotFound "Function not found: <arn>".
  Result<FunctionRecord> get(const FunctionKey& key) const;
  // The functions of (account, region), ordered by name.
  std::vector<FunctionRecord> list(std::string_view account, std::string_view region) const;
  // What a runtime needs (function/function.h); kNotFound as get().
  Result<function::FunctionSpec> spec(const FunctionKey& key) const;

  // Forgets the function and removes its code. kNotFound; kInUse while it is being written.
  Status remove(const FunctionKey& key);

  // Replaces the code. `expected_revision`, when set, must equal the current RevisionId
  // (else kExpired with the PreconditionFailed text). With `dry_run` nothing changes and
  // the current record is returned after the checks (the zip is still validated by
  // extracting it into a staging directory that is then removed).
  // Errors as create(), plus kNotFound and kInUse.
  Result<FunctionRecord> update_code(const FunctionKey& key, const CodeInput& code,
                                     const std::optional<std::string>& expected_revision,
                                     bool dry_run);

  // Applies `change` to a copy of the record and stores it; `change` may refuse with a
  // Status, which is returned. With `new_revision` the RevisionId and LastModified move on
  // (configuration changes); tags and concurrency keep them. kNotFound, kInUse, kExpired.
  Result<FunctionRecord> update(const FunctionKey& key,
                                const std::optional<std::string>& expected_revision,
                                const std::function<Status(FunctionRecord&)>& change,
                                bool new_revision);

  // Path of the stored zip of `key` if its current code is `code_id`; kNotFound otherwise
  // (also for hot-reload functions, which have no zip).
  Result<std::string> code_zip_path(const FunctionKey& key, std::string_view code_id) const;

  const RegistryOptions& options() const { return options_; }

 private:
  FunctionRegistry(storage::Catalog* catalog, std::string root, RegistryOptions options,
                   const Clock* clock)
      : catalog_(catalog), root_(std::move(root)), options_(options), clock_(clock) {}

  static std::string catalog_key(const FunctionKey& key);
  std::string function_dir(const FunctionKey& key) const;
  std::string task_root(const FunctionRecord& r) const;
  Status load();
  Status sweep();
  // Builds <function_dir>/<code_id> from `code`; fills the record's code fields.
  Status stage_code(const FunctionKey& key, const CodeInput& code, FunctionRecord& r, bool keep);
  Status check_hot_reload_dir(const std::string& dir) const;

  storage::Catalog* const catalog_;
  const std::string root_;
  const RegistryOptions options_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  std::map<std::string, FunctionRecord> functions_;  // GUARDED_BY(mu_); by catalog_key
  std::set<std::string> busy_;  // GUARDED_BY(mu_); keys being created, updated or removed
};

}  // namespace sluice::lambda
