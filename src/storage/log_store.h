#pragma once

#include "base/clock.h"
#include "base/file.h"
#include "base/result.h"
#include "storage/log.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::storage {

// Every log of one server, each in its own directory under `root` (<data-dir>/logs/<name>).
// open() recovers all of them, so damage anywhere stops start-up before anything is served.
// Thread-safe. Logs it hands out stay usable until close_all() or remove_log().
class LogStore {
 public:
  // `fs` and `clock` are borrowed and must outlive the store.
  static Result<std::unique_ptr<LogStore>> open(FileSystem* fs, std::string root,
                                                LogOptions defaults, const Clock* clock);
  ~LogStore();

  // The log called `name`, created when it does not exist. Names are 1-200 characters of
  // [A-Za-z0-9._-], not "." or ".."; others are kInvalidArgument.
  Result<std::shared_ptr<Log>> open_log(std::string_view name);
  // Closes the log and deletes its directory; kNotFound when there is none.
  Status remove_log(std::string_view name);
  std::vector<std::string> log_names() const;
  // Closes every log (waiting for queued appends and syncing). Idempotent.
  Status close_all();

 private:
  LogStore(FileSystem* fs, std::string root, LogOptions defaults, const Clock* clock);

  FileSystem* const fs_;
  const std::string root_;
  const LogOptions defaults_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Log>, std::less<>> logs_;  // GUARDED_BY(mu_)
};

Status validate_log_name(std::string_view name);

}  // namespace sluice::storage
