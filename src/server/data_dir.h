#pragma once

#include "base/result.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::server {

// The directory where one sluice process keeps everything it persists, held exclusively for
// the life of this object. Layout and rules (README.md in this directory):
//   <dir>/LOCK    flock()ed by the running process, which writes its pid into it;
//   <dir>/FORMAT  exactly "sluice-data-format 1\n", written atomically on first use.
// Created once at startup by the composition root; the lock is released when the object is
// destroyed or the process ends (the kernel drops flock locks of dead processes, so a
// crashed sluice never leaves a stale lock behind). Not copyable; const methods may be
// called from any thread.
class DataDir {
 public:
  static constexpr int kFormatVersion = 1;

  // Makes `path` usable: creates it (and missing parents) when absent, takes the lock, then
  // checks FORMAT, creating it when the directory is new. Errors, each a one-line message
  // naming the absolute path:
  //   kInvalidArgument  the path exists and is not a directory, or is a non-empty directory
  //                     without FORMAT (a directory sluice did not create);
  //   kIOError          it cannot be created, or LOCK or FORMAT cannot be opened or written;
  //   kInUse            another process holds the lock: "... locked by another running
  //                     sluice (pid N)";
  //   kCorruption       FORMAT holds another version or anything else: "... incompatible
  //                     format version (found ..., this sluice reads 1)".
  static Result<std::unique_ptr<DataDir>> open(std::string_view path);

  ~DataDir();  // closes LOCK, releasing the lock; LOCK and FORMAT stay on disk
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  // Absolute and lexically normalised, without a trailing '/': "/srv/sluice/data".
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string file(std::string_view name) const;

 private:
  DataDir(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}

  const std::string path_;
  const int lock_fd_;
};

}  // namespace sluice::server
