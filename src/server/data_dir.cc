#include "server/data_dir.h"

#include "base/file.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace sluice::server {

namespace {

constexpr std::string_view kLockName = "LOCK";
constexpr std::string_view kFormatName = "FORMAT";
constexpr std::string_view kFormatPrefix = "sluice-data-format ";
// FORMAT is one short line; reading more than this tells us it is not ours.
constexpr size_t kMaxFormatBytes = 256;

std::string errno_text(int err) { return std::strerror(err); }

Result<std::string> absolute_path(std::string_view path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(std::filesystem::path(path), ec);
  if (ec) {
    return Status::io_error(fmt::format("cannot use data dir {}: {}", path, ec.message()));
  }
  std::string s = abs.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// The bytes a person should see of an unexpected file: printable ASCII, the rest escaped.
std::string describe(std::string_view bytes) {
  constexpr size_t kShown = 40;
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    }
  }
  out += bytes.size() > kShown ? "...\"" : "\"";
  return out;
}

// Reads at most `max` bytes of `path`. kNotFound when it does not exist.
Result<std::string> read_small_file(const std::string& path, size_t max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::not_found(path);
    return Status::from_errno("open " + path, err);
  }
  std::string data(max, '\0');
  size_t got = 0;
  while (got < max) {
    const ssize_t n = ::read(fd, data.data() + got, max - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::from_errno("read " + path, err);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  return data;
}

// The pid recorded in LOCK by the holder, or "unknown" while it has not written it yet.
std::string holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "unknown";
  long pid = 0;
  const auto [end, ec] = std::from_chars(buf, buf + n, pid);
  if (ec != std::errc() || pid <= 0) return "unknown";
  return std::to_string(pid);
}

Status ensure_directory(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return Status::invalid_argument(fmt::format("data dir {} is not a directory", path));
    }
    return Status();
  }
  const int err = errno;
  if (err != ENOENT) {
    return Status::io_error(fmt::format("cannot use data dir {}: {}", path, errno_text(err)));
  }
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return Status::io_error(fmt::format("cannot create data dir {}: {}", path, ec.message()));
  }
  return Status();
}

// Takes the lock and records our pid. Returns the open LOCK descriptor.
Result<int> lock_directory(const std::string& dir) {
  const std::string lock_path = dir + "/" + std::string(kLockName);
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return Status::io_error(
        fmt::format("cannot use data dir {}: cannot open {}: {}", dir, kLockName, errno_text(err)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string pid = holder_pid(fd);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::in_use(
          fmt::format("data dir {} is locked by another running sluice (pid {})", dir, pid));
    }
    return Status::io_error(
        fmt::format("cannot lock data dir {}: flock {}: {}", dir, kLockName, errno_text(err)));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd);
    return Status::io_error(fmt::format("cannot use data dir {}: cannot write {}: {}", dir,
                                        kLockName, errno_text(err)));
  }
  return fd;
}

// Without FORMAT, only a directory that is empty but for what we may have left in it (a
// LOCK, an interrupted FORMAT write) or what mkfs puts at a mount point becomes a data dir.
// Anything else is someone's directory given by mistake: we refuse before writing into it.
Status refuse_foreign(const std::string& dir) {
  if (FileSystem::posix()->exists(dir + "/" + std::string(kFormatName))) return Status();
  auto names = FileSystem::posix()->list_dir(dir);
  if (!names.ok()) {
    return Status::io_error(
        fmt::format("cannot use data dir {}: {}", dir, names.status().message()));
  }
  for (const std::string& name : *names) {
    if (name == kLockName || name == std::string(kFormatName) + ".tmp" || name == "lost+found") {
      continue;
    }
    return Status::invalid_argument(fmt::format(
        "data dir {} is not empty and has no {} file (found '{}'); refusing to use a directory "
        "sluice did not create",
        dir, kFormatName, name));
  }
  return Status();
}

// A fresh directory gets FORMAT; one with FORMAT must hold exactly our version.
Status check_format(const std::string& dir) {
  const std::string format_path = dir + "/" + std::string(kFormatName);
  const std::string expected = fmt::format("{}{}\n", kFormatPrefix, DataDir::kFormatVersion);
  Result<std::string> content = read_small_file(format_path, kMaxFormatBytes);
  if (content.ok()) {
    if (*content == expected) return Status();
    std::string found = describe(*content);
    std::string_view rest(*content);
    if (rest.starts_with(kFormatPrefix) && rest.ends_with('\n')) {
      rest = rest.substr(kFormatPrefix.size(), rest.size() - kFormatPrefix.size() - 1);
      int version = 0;
      const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), version);
      if (ec == std::errc() && end == rest.data() + rest.size()) found = std::to_string(version);
    }
    return Status::corruption(fmt::format(
        "data dir {} was written by an incompatible format version (found {}, this sluice "
        "reads {})",
        dir, found, DataDir::kFormatVersion));
  }
  if (!content.status().is_not_found()) {
    return Status::io_error(
        fmt::format("cannot use data dir {}: {}", dir, content.status().message()));
  }

  Status written = write_file_atomic(FileSystem::posix(), format_path, expected);
  if (!written.ok()) {
    return Status::io_error(
        fmt::format("cannot use data dir {}: writing {}: {}", dir, kFormatName, written.message()));
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<DataDir>> DataDir::open(std::string_view path) {
  if (path.empty()) return Status::invalid_argument("data dir path is empty");
  SLUICE_ASSIGN_OR_RETURN(std::string dir, absolute_path(path));
  SLUICE_RETURN_IF_ERROR(ensure_directory(dir));
  SLUICE_RETURN_IF_ERROR(refuse_foreign(dir));
  // Lock before looking at FORMAT, so two first starts cannot both write it.
  SLUICE_ASSIGN_OR_RETURN(int fd, lock_directory(dir));
  Status format = check_format(dir);
  if (!format.ok()) {
    ::close(fd);
    return format;
  }
  return std::unique_ptr<DataDir>(new DataDir(std::move(dir), fd));
}

DataDir::~DataDir() { ::close(lock_fd_); }

std::string DataDir::file(std::string_view name) const { return fmt::format("{}/{}", path_, name); }

}  // namespace sluice::server
