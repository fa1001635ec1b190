#include "storage/log_store.h"

#include <algorithm>

namespace sluice::storage {

Status validate_log_name(std::string_view name) {
  const bool chars_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (name.empty() || name.size() > 200 || !chars_ok || name == "." || name == "..") {
    return Status::invalid_argument("invalid log name '" + std::string(name) + "'");
  }
  return Status();
}

LogStore::LogStore(FileSystem* fs, std::string root, LogOptions defaults, const Clock* clock)
    : fs_(fs), root_(std::move(root)), defaults_(defaults), clock_(clock) {}

LogStore::~LogStore() { (void)close_all(); }

Result<std::unique_ptr<LogStore>> LogStore::open(FileSystem* fs, std::string root,
                                                 LogOptions defaults, const Clock* clock) {
  std::unique_ptr<LogStore> store(new LogStore(fs, std::move(root), defaults, clock));
  SLUICE_RETURN_IF_ERROR(fs->create_dirs(store->root_));
  SLUICE_ASSIGN_OR_RETURN(auto names, fs->list_dir(store->root_));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (!validate_log_name(name).ok()) continue;
    SLUICE_ASSIGN_OR_RETURN(auto log, store->open_log(name));
  }
  return store;
}

Result<std::shared_ptr<Log>> LogStore::open_log(std::string_view name) {
  SLUICE_RETURN_IF_ERROR(validate_log_name(name));
  std::lock_guard lock(mu_);
  if (auto it = logs_.find(name); it != logs_.end()) return it->second;
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Log> log,
                          Log::open(fs_, root_ + "/" + std::string(name), defaults_, clock_));
  std::shared_ptr<Log> shared(std::move(log));
  logs_.emplace(std::string(name), shared);
  return shared;
}

Status LogStore::remove_log(std::string_view name) {
  SLUICE_RETURN_IF_ERROR(validate_log_name(name));
  std::shared_ptr<Log> log;
  {
    std::lock_guard lock(mu_);
    auto it = logs_.find(name);
    if (it == logs_.end()) return Status::not_found("no log '" + std::string(name) + "'");
    log = std::move(it->second);
    logs_.erase(it);
  }
  (void)log->close();
  SLUICE_RETURN_IF_ERROR(fs_->remove_all(root_ + "/" + std::string(name)));
  return fs_->sync_dir(root_);
}

std::vector<std::string> LogStore::log_names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, log] : logs_) names.push_back(name);
  return names;
}

Status LogStore::close_all() {
  std::map<std::string, std::shared_ptr<Log>, std::less<>> logs;
  {
    std::lock_guard lock(mu_);
    logs.swap(logs_);
  }
  Status first;
  for (auto& [name, log] : logs) {
    Status s = log->close();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace sluice::storage
