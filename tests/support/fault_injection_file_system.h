#pragma once

#include "base/file.h"
#include "base/result.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

// A FileSystem over another one that injects the failures storage code must survive: full
// disks, torn writes, failing fsyncs and power loss. In the spirit of RocksDB's
// utilities/fault_injection_fs.h. Created by a test around a borrowed `base` (usually a
// MemFileSystem), which must outlive it and every File it opened.
//
// Durability model. Per path it remembers the *synced size*: the file's size after its last
// successful File::sync() through this wrapper.
//   - A file created through this wrapper starts with 0 synced bytes.
//   - A file that already existed when first opened here counts as wholly synced.
//   - truncate(n) lowers the synced size to n when smaller (shrinking counts as durable).
//   - rename() carries the synced size to the new path (and to every path below a renamed
//     directory); remove_file()/remove_all() forget it. Handles follow their file across
//     renames. Paths are compared as spelled: use one spelling per file.
// drop_unsynced_data() simulates power loss by truncating every tracked file back to its
// synced size. Deliberate simplifications: a file never synced is truncated to 0 bytes
// rather than removed (even if its directory was never synced); unsynced overwrites of
// already-synced bytes are kept; directory operations (create, rename, remove) are always
// durable.
//
// Injected faults, each until switched off:
//   fail_writes_with_enospc(true): every File::pwritev() fails with kIOError
//     "pwritev <path>: No space left on device". It first writes the first
//     partial_write_bytes() bytes of its parts (0 by default: nothing) - a torn write.
//   fail_syncs(true): every File::sync() fails with kIOError
//     "fdatasync <path>: Input/output error" and the synced size does not move.
// File::pread(), truncate() and size() and every directory operation pass straight through.
//
// Thread-safe: the controls may be flipped from any thread. drop_unsynced_data() REQUIRES no
// File of this wrapper to be writing concurrently (a crashed process writes nothing).
class FaultInjectionFileSystem final : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem* base);
  ~FaultInjectionFileSystem() override;
  FaultInjectionFileSystem(const FaultInjectionFileSystem&) = delete;
  FaultInjectionFileSystem& operator=(const FaultInjectionFileSystem&) = delete;

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status create_dirs(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  Status remove_file(const std::string& path) override;
  Status remove_all(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status sync_dir(const std::string& path) override;
  bool exists(const std::string& path) override;

  // ---- Controls ----
  void fail_writes_with_enospc(bool fail);
  // How many bytes a failing pwritev() writes before it fails (all of them when it has fewer).
  void set_partial_write_bytes(uint64_t n);
  uint64_t partial_write_bytes() const;
  void fail_syncs(bool fail);

  // Power loss: truncates every tracked file in `base` to its synced size. Returns the first
  // failure of `base`, after trying every file. Open handles stay usable afterwards.
  Status drop_unsynced_data();

  // ---- Observations ----
  // The synced size of `path`; nullopt when `path` is not tracked (never opened here, or
  // removed), which drop_unsynced_data() leaves alone.
  std::optional<uint64_t> synced_bytes(const std::string& path) const;
  // Calls of File::pwritev() / File::sync() on files opened here, failed ones included.
  uint64_t write_calls() const;
  uint64_t sync_calls() const;

 private:
  class FaultFile;
  struct Tracked {
    uint64_t synced_bytes = 0;  // GUARDED_BY(FaultInjectionFileSystem::mu_)
  };

  FileSystem* const base_;
  mutable std::mutex mu_;
  // Handles share their file's Tracked so that a sync after a rename updates the new path.
  std::map<std::string, std::shared_ptr<Tracked>> tracked_;  // GUARDED_BY(mu_)
  bool fail_writes_ = false;                                 // GUARDED_BY(mu_)
  uint64_t partial_write_bytes_ = 0;                         // GUARDED_BY(mu_)
  bool fail_syncs_ = false;                                  // GUARDED_BY(mu_)
  uint64_t write_calls_ = 0;                                 // GUARDED_BY(mu_)
  uint64_t sync_calls_ = 0;                                  // GUARDED_BY(mu_)
};

}  // namespace sluice
