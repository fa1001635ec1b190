#include "lambda/internal/zip_extract.h"

#include "base/result.h"

#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>
#include <zip.h>

namespace sluice::lambda::internal {

namespace {

enum class Kind { kFile, kDir, kSymlink };

struct Entry {
  zip_uint64_t index;
  std::vector<std::string> parts;  // normalised relative path, never empty
  Kind kind;
  mode_t mode;  // permission bits for files
};

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error (close can report a delayed write error).
  Status close(std::string_view what) {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Status::from_errno(what, errno);
    return Status();
  }

 private:
  int fd_;
};

Status refuse(std::string_view name, std::string_view why) {
  // Client-controlled text: keep it printable and short.
  std::string shown;
  for (size_t i = 0; i < name.size() && i < 200; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    shown.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return Status::invalid_argument(
      fmt::format("Sluice refused the zip file: entry '{}' {}", shown, why));
}

std::string join(const std::string& dest, const std::vector<std::string>& parts, size_t n) {
  std::string path = dest;
  for (size_t i = 0; i < n; ++i) {
    path += '/';
    path += parts[i];
  }
  return path;
}

// Splits a zip entry name into path components. False when it is absolute or climbs.
bool normalise(std::string_view name, std::vector<std::string>& parts) {
  parts.clear();
  if (name.starts_with('/')) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    const std::string_view part = name.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return false;
    parts.emplace_back(part);
  }
  return true;
}

// True when `target`, read relative to the directory holding a symlink at `link_parts`,
// stays inside the extraction root (judged on the text alone: no entry below a symlink is
// extracted, so no directory on the way is a symlink).
bool target_stays_inside(std::string_view target, const std::vector<std::string>& link_parts) {
  if (target.empty() || target.starts_with('/') || target.find('\0') != std::string_view::npos) {
    return false;
  }
  int64_t depth = static_cast<int64_t>(link_parts.size()) - 1;
  size_t start = 0;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    const std::string_view part = target.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (--depth < 0) return false;
    } else {
      ++depth;
    }
  }
  return true;
}

Status make_dir(const std::string& path, std::vector<std::string>& created) {
  if (::mkdir(path.c_str(), 0755) == 0) {
    created.push_back(path);
    return Status();
  }
  if (errno != EEXIST) return Status::from_errno("mkdir " + path, errno);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::from_errno("lstat " + path, errno);
  if (!S_ISDIR(st.st_mode)) return Status::invalid_argument(kCouldNotUnzip);  // file vs dir
  return Status();
}

Status make_parents(const std::string& dest, const std::vector<std::string>& parts,
                    std::vector<std::string>& created) {
  for (size_t n = 1; n < parts.size(); ++n) {
    SLUICE_RETURN_IF_ERROR(make_dir(join(dest, parts, n), created));
  }
  return Status();
}

Status sync_dir(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Status::from_errno("open " + path, errno);
  if (::fsync(fd.get()) != 0) return Status::from_errno("fsync " + path, errno);
  return fd.close("close " + path);
}

}  // namespace

std::string unzipped_too_large_message(uint64_t limit) {
  return fmt::format("Unzipped size must be smaller than {} bytes", limit);
}

Status extract_zip(std::string_view zip, const std::string& dest, const ZipLimits& limits) {
  zip_error_t error;
  zip_error_init(&error);
  // The source only borrows the bytes (freep = 0); `zip` outlives the archive below.
  zip_source_t* source = zip_source_buffer_create(zip.data(), zip.size(), 0, &error);
  if (source == nullptr) {
    zip_error_fini(&error);
    return Status::invalid_argument(kCouldNotUnzip);
  }
  std::unique_ptr<zip_t, ZipCloser> archive(
      zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error));
  zip_error_fini(&error);
  if (!archive) {
    zip_source_free(source);  // still ours when the open failed
    return Status::invalid_argument(kCouldNotUnzip);
  }

  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  if (count < 0) return Status::invalid_argument(kCouldNotUnzip);
  if (static_cast<uint64_t>(count) > limits.max_entries) {
    return Status::invalid_argument(
        fmt::format("Sluice refused the zip file: more than {} entries", limits.max_entries));
  }

  // First pass: names, kinds and modes; every path check happens before anything is written.
  std::vector<Entry> entries;
  std::set<std::vector<std::string>> symlinks;
  std::set<std::vector<std::string>> seen;
  std::vector<std::string> parts;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    const char* raw_name = zip_get_name(archive.get(), i, 0);
    if (raw_name == nullptr) return Status::invalid_argument(kCouldNotUnzip);
    const std::string_view name(raw_name);
    if (!normalise(name, parts)) {
      return refuse(name, "would be extracted outside the function's code directory");
    }
    if (parts.empty()) continue;  // "./" and the like: the root itself
    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    if (zip_file_get_external_attributes(archive.get(), i, 0, &opsys, &attributes) != 0) {
      return Status::invalid_argument(kCouldNotUnzip);
    }
    const bool unix_mode = opsys == ZIP_OPSYS_UNIX && (attributes >> 16) != 0;
    const mode_t st_mode = unix_mode ? static_cast<mode_t>(attributes >> 16) : 0;
    // Code is read-only to the function (issue 4 "Security"): no write bits, whatever the
    // archive says; execute bits are kept.
    Entry e{i, parts, Kind::kFile, 0444};
    if (name.ends_with('/') || (unix_mode && S_ISDIR(st_mode))) {
      e.kind = Kind::kDir;
    } else if (unix_mode && S_ISLNK(st_mode)) {
      e.kind = Kind::kSymlink;
      symlinks.insert(parts);
    } else if (unix_mode) {
      e.mode = (st_mode & 0555) | 0444;
    }
    if (e.kind != Kind::kDir && !seen.insert(parts).second) {
      return Status::invalid_argument(kCouldNotUnzip);  // the same file twice
    }
    entries.push_back(std::move(e));
  }
  for (const Entry& e : entries) {
    std::vector<std::string> prefix;
    for (size_t n = 0; n + 1 < e.parts.size(); ++n) {
      prefix.push_back(e.parts[n]);
      if (symlinks.contains(prefix)) {
        return refuse(zip_get_name(archive.get(), e.index, 0), "lies below a symlink entry");
      }
    }
    if (e.kind == Kind::kDir && symlinks.contains(e.parts)) {
      return Status::invalid_argument(kCouldNotUnzip);
    }
  }

  const bool scan_only = dest.empty();
  if (!scan_only && ::mkdir(dest.c_str(), 0755) != 0) {
    return Status::from_errno("mkdir " + dest, errno);
  }
  std::vector<std::string> dirs{dest};
  uint64_t written = 0;
  std::vector<char> buffer(64 * 1024);

  // Second pass: directories and files. Symlinks come last, so nothing is ever written
  // through one.
  for (const Entry& e : entries) {
    const std::string path = join(dest, e.parts, e.parts.size());
    if (!scan_only) {
      SLUICE_RETURN_IF_ERROR(make_parents(dest, e.parts, dirs));
      if (e.kind == Kind::kDir) SLUICE_RETURN_IF_ERROR(make_dir(path, dirs));
    }
    if (e.kind != Kind::kFile) continue;
    std::unique_ptr<zip_file_t, ZipFileCloser> in(zip_fopen_index(archive.get(), e.index, 0));
    if (!in) return Status::invalid_argument(kCouldNotUnzip);  // encrypted, unknown method
    Fd out(scan_only
               ? -1
               : ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!scan_only && out.get() < 0) {
      if (errno == EEXIST) return Status::invalid_argument(kCouldNotUnzip);
      return Status::from_errno("create " + path, errno);
    }
    while (true) {
      // Counted as written, chunk by chunk: a bomb stops within one buffer of the limit.
      const zip_int64_t n = zip_fread(in.get(), buffer.data(), buffer.size());
      if (n < 0) return Status::invalid_argument(kCouldNotUnzip);  // damaged data or CRC
      if (n == 0) break;
      written += static_cast<uint64_t>(n);
      if (written >= limits.max_unzipped_bytes) {
        return Status::invalid_argument(unzipped_too_large_message(limits.max_unzipped_bytes));
      }
      size_t done = scan_only ? static_cast<size_t>(n) : 0;
      while (done < static_cast<size_t>(n)) {
        const ssize_t w = ::write(out.get(), buffer.data() + done, static_cast<size_t>(n) - done);
        if (w < 0) {
          if (errno == EINTR) continue;
          return Status::from_errno("write " + path, errno);
        }
        done += static_cast<size_t>(w);
      }
    }
    if (scan_only) continue;
    if (::fchmod(out.get(), e.mode) != 0) return Status::from_errno("chmod " + path, errno);
    if (::fsync(out.get()) != 0) return Status::from_errno("fsync " + path, errno);
    SLUICE_RETURN_IF_ERROR(out.close("close " + path));
  }

  for (const Entry& e : entries) {
    if (e.kind != Kind::kSymlink) continue;
    const char* name = zip_get_name(archive.get(), e.index, 0);
    std::unique_ptr<zip_file_t, ZipFileCloser> in(zip_fopen_index(archive.get(), e.index, 0));
    if (!in) return Status::invalid_argument(kCouldNotUnzip);
    std::string target;
    constexpr size_t kMaxTarget = 4096;
    while (true) {
      const zip_int64_t n = zip_fread(in.get(), buffer.data(), buffer.size());
      if (n < 0) return Status::invalid_argument(kCouldNotUnzip);
      if (n == 0) break;
      target.append(buffer.data(), static_cast<size_t>(n));
      if (target.size() > kMaxTarget) return refuse(name, "is a symlink with a too long target");
    }
    written += target.size();
    if (written >= limits.max_unzipped_bytes) {
      return Status::invalid_argument(unzipped_too_large_message(limits.max_unzipped_bytes));
    }
    if (!target_stays_inside(target, e.parts)) {
      return refuse(name, "is a symlink pointing outside the function's code directory");
    }
    if (scan_only) continue;
    const std::string path = join(dest, e.parts, e.parts.size());
    if (::symlink(target.c_str(), path.c_str()) != 0) {
      if (errno == EEXIST) return Status::invalid_argument(kCouldNotUnzip);
      return Status::from_errno("symlink " + path, errno);
    }
  }

  if (scan_only) return Status();
  // Directories become read-only too, once everything is in them; then every directory we
  // made is synced, so that its entries (and its mode) survive a crash. Removing the tree
  // later needs FileSystem::remove_all, which restores the owner's write access first.
  for (const std::string& dir : dirs) {
    if (::chmod(dir.c_str(), 0555) != 0) return Status::from_errno("chmod " + dir, errno);
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) SLUICE_RETURN_IF_ERROR(sync_dir(*it));
  return Status();
}

}  // namespace sluice::lambda::internal
