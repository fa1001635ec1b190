#include "base/file.h"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace sluice {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Result<size_t> pread(uint64_t pos, std::span<std::byte> out) const override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(pos + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::from_errno("pread " + path_, errno);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  Status pwritev(uint64_t pos, std::span<const ByteView> parts) override {
    // iovec arrays are capped (IOV_MAX); write in chunks and resume after short writes.
    constexpr size_t kMaxIov = 512;
    iovec iov[kMaxIov];
    size_t part = 0;
    size_t part_done = 0;  // bytes of parts[part] already written
    while (part < parts.size()) {
      size_t n_iov = 0;
      for (size_t i = part; i < parts.size() && n_iov < kMaxIov; ++i) {
        const size_t skip = (i == part) ? part_done : 0;
        if (parts[i].size() == skip) continue;
        iov[n_iov].iov_base = const_cast<std::byte*>(parts[i].data() + skip);
        iov[n_iov].iov_len = parts[i].size() - skip;
        ++n_iov;
      }
      if (n_iov == 0) break;
      ssize_t n = ::pwritev(fd_, iov, static_cast<int>(n_iov), static_cast<off_t>(pos));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::from_errno("pwritev " + path_, errno);
      }
      if (n == 0) return Status::io_error("pwritev " + path_ + ": wrote nothing");
      pos += static_cast<uint64_t>(n);
      size_t left = static_cast<size_t>(n);
      while (left > 0 && part < parts.size()) {
        const size_t avail = parts[part].size() - part_done;
        if (left >= avail) {
          left -= avail;
          ++part;
          part_done = 0;
        } else {
          part_done += left;
          left = 0;
        }
      }
      while (part < parts.size() && parts[part].size() == part_done) {
        ++part;
        part_done = 0;
      }
    }
    return Status();
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return Status::from_errno("fdatasync " + path_, errno);
    return Status();
  }

  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return Status::from_errno("ftruncate " + path_, errno);
    }
    return Status();
  }

  Result<uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return Status::from_errno("fstat " + path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  const int fd_;
  const std::string path_;
};

// Adds owner write (and search) permission to `path` and every directory below it; symlinks
// are not followed. Best effort: what cannot be changed makes the removal fail later.
void restore_owner_write(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(path, ec))) return;
  // The tree is about to go: its directories' exact modes do not matter.
  ::chmod(path.c_str(), 0700);
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  }
}

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateNew:
        flags |= O_RDWR | O_CREAT | O_EXCL;
        break;
    }
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT) return Status::not_found("open " + path + ": no such file");
      if (err == EEXIST) return Status::already_exists("open " + path + ": exists");
      return Status::from_errno("open " + path, err);
    }
    return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path));
  }

  Status create_dirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::io_error("create directory " + path + ": " + ec.message());
    return Status();
  }

  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) {
      if (errno == ENOENT) return Status::not_found("list " + path + ": no such directory");
      return Status::from_errno("opendir " + path, errno);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir)) {
      std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    ::closedir(dir);
    return names;
  }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::from_errno("unlink " + path, errno);
    return Status();
  }

  Status remove_all(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec == std::errc::permission_denied) {
      // Read-only directories below (a function's extracted code): give their owner write
      // access back, then try again.
      restore_owner_write(path);
      ec.clear();
      std::filesystem::remove_all(path, ec);
    }
    if (ec) return Status::io_error("remove " + path + ": " + ec.message());
    return Status();
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::from_errno("rename " + from + " to " + to, errno);
    }
    return Status();
  }

  Status sync_dir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::from_errno("open directory " + path, errno);
    Status s;
    if (::fsync(fd) != 0) s = Status::from_errno("fsync directory " + path, errno);
    ::close(fd);
    return s;
  }

  bool exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
};

}  // namespace

FileSystem* FileSystem::posix() {
  static PosixFileSystem fs;
  return &fs;
}

Result<std::string> read_file(FileSystem* fs, const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(auto file, fs->open(path, OpenMode::kRead));
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, file->size());
  std::string data(size, '\0');
  SLUICE_ASSIGN_OR_RETURN(
      size_t n, file->pread(0, std::as_writable_bytes(std::span(data.data(), data.size()))));
  data.resize(n);
  return data;
}

Status write_file_atomic(FileSystem* fs, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    SLUICE_ASSIGN_OR_RETURN(auto file, fs->open(tmp, OpenMode::kCreate));
    SLUICE_RETURN_IF_ERROR(file->truncate(0));
    const ByteView part = as_bytes(data);
    SLUICE_RETURN_IF_ERROR(file->pwritev(0, std::span(&part, 1)));
    SLUICE_RETURN_IF_ERROR(file->sync());
  }
  SLUICE_RETURN_IF_ERROR(fs->rename(tmp, path));
  const auto slash = path.find_last_of('/');
  return fs->sync_dir(slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash));
}

}  // namespace sluice
