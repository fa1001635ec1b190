#pragma once

#include "base/bytes.h"
#include "base/file.h"
#include "base/result.h"

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

namespace detail {
// The bytes of one in-memory file. Shared by every MemFile open on it and by the
// MemFileSystem entry naming it, so a removed or renamed file stays readable through handles
// opened before, as on POSIX. Defined in mem_file_system.cc.
struct MemFileData;
}  // namespace detail

// An open in-memory file: a File whose bytes live in the heap. Either made by
// MemFileSystem::open() (reopening a path sees the same bytes) or built standalone for a test
// that needs one File and no file system (`MemFile file;`).
//
// Behaves like PosixFile: pread() returns fewer bytes only at end of file; pwritev() past the
// end fills the gap with zeros; truncate() shrinks or zero-extends; sync() does nothing and
// succeeds (see FaultInjectionFileSystem to make it matter). A handle opened with
// OpenMode::kRead fails pwritev() and truncate() with kIOError ("Bad file descriptor").
// Files are capped at kMaxBytes; a write or truncate beyond fails with kIOError ("File too
// large") and changes nothing.
//
// Thread-safe: each call holds the file's mutex, so pread() from any thread sees every
// pwritev() either wholly or not at all.
class MemFile final : public File {
 public:
  static constexpr uint64_t kMaxBytes = uint64_t{1} << 30;

  // A fresh, empty, writable file not in any file system. path() returns `path`.
  MemFile();
  explicit MemFile(std::string path);
  ~MemFile() override;
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  Result<size_t> pread(uint64_t pos, std::span<std::byte> out) const override;
  Status pwritev(uint64_t pos, std::span<const ByteView> parts) override;
  Status sync() override;
  Status truncate(uint64_t size) override;
  Result<uint64_t> size() const override;
  const std::string& path() const override { return path_; }

  // Test helpers: every byte of the file, and replacing them (ignores the open mode).
  std::string contents() const;
  void set_contents(std::string_view bytes);

 private:
  friend class MemFileSystem;
  MemFile(std::shared_ptr<detail::MemFileData> data, std::string path, bool writable);

  const std::shared_ptr<detail::MemFileData> data_;
  const std::string path_;
  const bool writable_;
};

// A FileSystem in memory, for tests of every layer: fast, no cleanup, and inspectable with
// contents()/set_contents(). Created by the test and outlives every File it opened.
//
// Paths are plain strings, compared after collapsing repeated '/', dropping "." components
// and a trailing '/' ("a//./b/" names "a/b"); ".." is not interpreted. "/" and the relative
// root ("" after normalising, e.g. ".") always exist as directories; the empty string names
// nothing. Directories are a set of names: a file can only be created in an existing
// directory, as on POSIX.
//
// Mirrors PosixFileSystem's results, codes and messages:
//   open        kRead/kReadWrite of a missing file, or creation in a missing directory:
//               kNotFound; kCreateNew of an existing file or directory: kAlreadyExists;
//               opening a directory: kIOError (POSIX lets kRead open one and then fails
//               its reads).
//   create_dirs mkdir -p; kIOError when a component is a file.
//   list_dir    names of direct children, files and directories; kNotFound when missing,
//               kIOError when `path` is a file.
//   remove_file kIOError when missing ("No such file or directory") or a directory.
//   remove_all  removes a file or a tree; ok when missing.
//   rename      replaces a file `to` atomically; moves a directory onto a missing or empty
//               directory; kIOError when `from` or the parent of `to` is missing.
//   sync_dir    ok for an existing directory, kIOError otherwise. Nothing is ever lost here.
// Handles stay valid after their file is removed, renamed or replaced, as on POSIX.
//
// Thread-safe.
class MemFileSystem final : public FileSystem {
 public:
  MemFileSystem();
  ~MemFileSystem() override;
  MemFileSystem(const MemFileSystem&) = delete;
  MemFileSystem& operator=(const MemFileSystem&) = delete;

  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status create_dirs(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  Status remove_file(const std::string& path) override;
  Status remove_all(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status sync_dir(const std::string& path) override;
  // True for files and directories.
  bool exists(const std::string& path) override;

  // Test helpers.
  // Every byte of file `path`. REQUIRES: `path` is a file (aborts otherwise: a test bug).
  std::string contents(const std::string& path);
  // Makes `path` a file holding exactly `bytes`, creating it and its missing parent
  // directories. Handles already open on `path` see the new bytes.
  // REQUIRES: `path` is not a directory and no parent is a file.
  void set_contents(const std::string& path, std::string_view bytes);

 private:
  bool is_dir_locked(const std::string& norm) const;         // EXCLUSIVE_LOCKS_REQUIRED(mu_)
  bool parent_is_dir_locked(const std::string& norm) const;  // EXCLUSIVE_LOCKS_REQUIRED(mu_)
  bool has_children_locked(const std::string& norm) const;   // EXCLUSIVE_LOCKS_REQUIRED(mu_)
  // EXCLUSIVE_LOCKS_REQUIRED(mu_). Aborts when a component of `norm` is a file.
  void create_dirs_locked(const std::string& norm);

  mutable std::mutex mu_;
  // Both keyed by normalised path.
  std::map<std::string, std::shared_ptr<detail::MemFileData>> files_;  // GUARDED_BY(mu_)
  std::set<std::string> dirs_;                                         // GUARDED_BY(mu_)
};

}  // namespace sluice
