#pragma once

#include "base/bytes.h"
#include "base/result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace sluice {

// An open file, positioned by explicit offsets (no shared cursor), so concurrent readers
// and one writer can use it at once. Created by a FileSystem; closed by its destructor.
// pread() may be called from any thread; pwritev(), truncate() and sync() from one writer.
class File {
 public:
  virtual ~File() = default;
  // Reads up to out.size() bytes at `pos`; fewer only at end of file. Returns the count.
  virtual Result<size_t> pread(uint64_t pos, std::span<std::byte> out) const = 0;
  // Writes every byte of `parts`, in order, starting at `pos`, or fails. Bytes written are
  // visible to pread() at once; they survive a crash only after sync().
  virtual Status pwritev(uint64_t pos, std::span<const ByteView> parts) = 0;
  // fdatasync: everything written so far survives a crash once this returns ok.
  virtual Status sync() = 0;
  virtual Status truncate(uint64_t size) = 0;
  virtual Result<uint64_t> size() const = 0;
  virtual const std::string& path() const = 0;
};

enum class OpenMode : uint8_t {
  kRead,       // must exist; read only
  kReadWrite,  // must exist
  kCreate,     // read-write; created when missing
  kCreateNew,  // read-write; fails with kAlreadyExists when present
};

// Files and directories. PosixFileSystem is the real one; tests use MemFileSystem and
// FaultInjectionFileSystem (tests/support/). Thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  // mkdir -p; ok when it already exists.
  virtual Status create_dirs(const std::string& path) = 0;
  // Names (not paths) of the entries in `path`, unsorted, without "." and "..".
  virtual Result<std::vector<std::string>> list_dir(const std::string& path) = 0;
  virtual Status remove_file(const std::string& path) = 0;
  // Removes `path` and everything below it, read-only directories included (their owner's
  // write access is restored first); ok when it does not exist.
  virtual Status remove_all(const std::string& path) = 0;
  // Atomic replace of `to` by `from`.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Makes creations, removals and renames in directory `path` survive a crash.
  virtual Status sync_dir(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;

  // The process-wide POSIX file system.
  static FileSystem* posix();
};

// Reads all of `path` into a string.
Result<std::string> read_file(FileSystem* fs, const std::string& path);
// Writes `data` to `path` through a temporary file, fsync and rename, then syncs the
// directory: afterwards `path` holds either the old or the new content, never a mix.
// REQUIRES: one writer per path at a time (the temporary file is `path` + ".tmp").
Status write_file_atomic(FileSystem* fs, const std::string& path, std::string_view data);

}  // namespace sluice
