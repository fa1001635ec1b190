#include "tests/support/mem_file_system.h"

#include "base/check.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace sluice {
namespace detail {

struct MemFileData {
  mutable std::mutex mu;
  std::string bytes;  // GUARDED_BY(mu)
};

}  // namespace detail

namespace {

// "a//./b/" -> "a/b"; "/" stays "/"; "." and "./" become "" (the relative root).
std::string normalize(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::string out = absolute ? "/" : "";
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(begin, end - begin);
    if (!component.empty() && component != ".") {
      if (!out.empty() && out.back() != '/') out += '/';
      out += component;
    }
    begin = end + 1;
  }
  return out;
}

bool is_root(const std::string& norm) { return norm.empty() || norm == "/"; }

// The directory holding `norm`; a root is its own parent.
std::string parent_of(const std::string& norm) {
  if (is_root(norm)) return norm;
  const size_t slash = norm.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return norm.substr(0, slash);
}

// True when `entry` lies strictly below directory `dir` (both normalised).
bool is_under(const std::string& entry, const std::string& dir) {
  if (entry == dir) return false;
  if (dir.empty()) return !entry.empty() && entry.front() != '/';
  if (dir == "/") return !entry.empty() && entry.front() == '/';
  return entry.size() > dir.size() && entry.compare(0, dir.size(), dir) == 0 &&
         entry[dir.size()] == '/';
}

std::string last_component(const std::string& norm) {
  const size_t slash = norm.rfind('/');
  return slash == std::string::npos ? norm : norm.substr(slash + 1);
}

// Every proper ancestor of `norm` that is not a root, outermost first: "/a/b/c" -> "/a", "/a/b".
std::vector<std::string> proper_ancestors(const std::string& norm) {
  std::vector<std::string> out;
  for (size_t slash = norm.find('/', 1); slash != std::string::npos;
       slash = norm.find('/', slash + 1)) {
    out.push_back(norm.substr(0, slash));
  }
  return out;
}

size_t total_bytes(std::span<const ByteView> parts) {
  size_t total = 0;
  for (ByteView p : parts) total += p.size();
  return total;
}

}  // namespace

// ---- MemFile ----

MemFile::MemFile() : MemFile("mem_file") {}

MemFile::MemFile(std::string path)
    : MemFile(std::make_shared<detail::MemFileData>(), std::move(path), /*writable=*/true) {}

MemFile::MemFile(std::shared_ptr<detail::MemFileData> data, std::string path, bool writable)
    : data_(std::move(data)), path_(std::move(path)), writable_(writable) {}

MemFile::~MemFile() = default;

Result<size_t> MemFile::pread(uint64_t pos, std::span<std::byte> out) const {
  std::lock_guard lock(data_->mu);
  const std::string& bytes = data_->bytes;
  if (pos >= bytes.size()) return size_t{0};
  const size_t n = std::min<uint64_t>(out.size(), bytes.size() - pos);
  if (n > 0) std::memcpy(out.data(), bytes.data() + pos, n);
  return n;
}

Status MemFile::pwritev(uint64_t pos, std::span<const ByteView> parts) {
  const size_t total = total_bytes(parts);
  // Like PosixFile, which makes no system call when there is nothing to write.
  if (total == 0) return Status();
  if (!writable_) return Status::from_errno("pwritev " + path_, EBADF);
  if (pos > kMaxBytes || total > kMaxBytes - pos) {
    return Status::from_errno("pwritev " + path_, EFBIG);
  }
  std::lock_guard lock(data_->mu);
  std::string& bytes = data_->bytes;
  if (bytes.size() < pos + total) bytes.resize(pos + total, '\0');  // a gap reads as zeros
  size_t at = pos;
  for (ByteView p : parts) {
    if (p.empty()) continue;
    std::memcpy(bytes.data() + at, p.data(), p.size());
    at += p.size();
  }
  return Status();
}

Status MemFile::sync() { return Status(); }

Status MemFile::truncate(uint64_t size) {
  if (!writable_) return Status::from_errno("ftruncate " + path_, EBADF);
  if (size > kMaxBytes) return Status::from_errno("ftruncate " + path_, EFBIG);
  std::lock_guard lock(data_->mu);
  data_->bytes.resize(size, '\0');
  return Status();
}

Result<uint64_t> MemFile::size() const {
  std::lock_guard lock(data_->mu);
  return uint64_t{data_->bytes.size()};
}

std::string MemFile::contents() const {
  std::lock_guard lock(data_->mu);
  return data_->bytes;
}

void MemFile::set_contents(std::string_view bytes) {
  std::lock_guard lock(data_->mu);
  data_->bytes.assign(bytes);
}

// ---- MemFileSystem ----

MemFileSystem::MemFileSystem() = default;
MemFileSystem::~MemFileSystem() = default;

bool MemFileSystem::is_dir_locked(const std::string& norm) const {
  return is_root(norm) || dirs_.contains(norm);
}

bool MemFileSystem::parent_is_dir_locked(const std::string& norm) const {
  return is_dir_locked(parent_of(norm));
}

bool MemFileSystem::has_children_locked(const std::string& norm) const {
  const auto under = [&](const auto& entry) { return is_under(entry, norm); };
  return std::any_of(dirs_.begin(), dirs_.end(), under) ||
         std::any_of(files_.begin(), files_.end(), [&](const auto& f) { return under(f.first); });
}

void MemFileSystem::create_dirs_locked(const std::string& norm) {
  for (const std::string& a : proper_ancestors(norm)) {
    SLUICE_CHECK(!files_.contains(a), "MemFileSystem: {} is a file", a);
    dirs_.insert(a);
  }
  if (!is_root(norm)) dirs_.insert(norm);
}

Result<std::unique_ptr<File>> MemFileSystem::open(const std::string& path, OpenMode mode) {
  const bool create = mode == OpenMode::kCreate || mode == OpenMode::kCreateNew;
  if (path.empty()) return Status::not_found("open " + path + ": no such file");
  std::lock_guard lock(mu_);
  const std::string norm = normalize(path);
  for (const std::string& a : proper_ancestors(norm)) {
    if (files_.contains(a)) return Status::from_errno("open " + path, ENOTDIR);
  }
  if (is_dir_locked(norm)) {
    if (mode == OpenMode::kCreateNew) return Status::already_exists("open " + path + ": exists");
    return Status::from_errno("open " + path, EISDIR);
  }
  auto it = files_.find(norm);
  if (it == files_.end()) {
    if (!create || !parent_is_dir_locked(norm)) {
      return Status::not_found("open " + path + ": no such file");
    }
    it = files_.emplace(norm, std::make_shared<detail::MemFileData>()).first;
  } else if (mode == OpenMode::kCreateNew) {
    return Status::already_exists("open " + path + ": exists");
  }
  const bool writable = mode != OpenMode::kRead;
  return std::unique_ptr<File>(new MemFile(it->second, path, writable));
}

Status MemFileSystem::create_dirs(const std::string& path) {
  if (path.empty()) return Status::io_error("create directory : " + std::string(strerror(ENOENT)));
  std::lock_guard lock(mu_);
  const std::string norm = normalize(path);
  for (const std::string& a : proper_ancestors(norm)) {
    if (files_.contains(a)) {
      return Status::io_error("create directory " + path + ": " + strerror(ENOTDIR));
    }
  }
  if (files_.contains(norm)) {
    return Status::io_error("create directory " + path + ": " + strerror(EEXIST));
  }
  create_dirs_locked(norm);
  return Status();
}

Result<std::vector<std::string>> MemFileSystem::list_dir(const std::string& path) {
  std::lock_guard lock(mu_);
  const std::string norm = normalize(path);
  if (!path.empty() && files_.contains(norm)) return Status::from_errno("opendir " + path, ENOTDIR);
  if (path.empty() || !is_dir_locked(norm)) {
    return Status::not_found("list " + path + ": no such directory");
  }
  std::vector<std::string> names;
  const auto add_if_child = [&](const std::string& entry) {
    if (is_under(entry, norm) && parent_of(entry) == norm) names.push_back(last_component(entry));
  };
  for (const std::string& d : dirs_) add_if_child(d);
  for (const auto& [name, data] : files_) add_if_child(name);
  return names;
}

Status MemFileSystem::remove_file(const std::string& path) {
  std::lock_guard lock(mu_);
  const std::string norm = normalize(path);
  if (!path.empty() && is_dir_locked(norm)) return Status::from_errno("unlink " + path, EISDIR);
  if (path.empty() || files_.erase(norm) == 0) return Status::from_errno("unlink " + path, ENOENT);
  return Status();
}

Status MemFileSystem::remove_all(const std::string& path) {
  if (path.empty()) return Status();
  std::lock_guard lock(mu_);
  const std::string norm = normalize(path);
  std::erase_if(files_, [&](const auto& f) { return f.first == norm || is_under(f.first, norm); });
  std::erase_if(dirs_, [&](const std::string& d) { return d == norm || is_under(d, norm); });
  return Status();
}

Status MemFileSystem::rename(const std::string& from, const std::string& to) {
  const auto fail = [&](int err) {
    return Status::from_errno("rename " + from + " to " + to, err);
  };
  if (from.empty() || to.empty()) return fail(ENOENT);
  std::lock_guard lock(mu_);
  const std::string f = normalize(from);
  const std::string t = normalize(to);
  const bool from_is_file = files_.contains(f);
  if (!from_is_file && !is_dir_locked(f)) return fail(ENOENT);
  if (is_root(f)) return fail(EBUSY);
  if (f == t) return Status();
  for (const std::string& a : proper_ancestors(t)) {
    if (files_.contains(a)) return fail(ENOTDIR);
  }
  if (!parent_is_dir_locked(t)) return fail(ENOENT);

  if (from_is_file) {
    if (is_dir_locked(t)) return fail(EISDIR);
    auto data = files_[f];
    files_.erase(f);
    files_[t] = std::move(data);  // replaces any file at `to` in one step
    return Status();
  }
  // A directory: onto a missing or empty directory, never into itself.
  if (files_.contains(t)) return fail(ENOTDIR);
  if (is_under(t, f)) return fail(EINVAL);
  if (is_root(t)) return fail(EBUSY);
  if (is_dir_locked(t) && has_children_locked(t)) return fail(ENOTEMPTY);
  const auto moved = [&](const std::string& entry) { return t + entry.substr(f.size()); };
  std::map<std::string, std::shared_ptr<detail::MemFileData>> new_files;
  for (auto it = files_.begin(); it != files_.end();) {
    if (is_under(it->first, f)) {
      new_files.emplace(moved(it->first), std::move(it->second));
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  std::set<std::string> new_dirs;
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (*it == f || is_under(*it, f)) {
      new_dirs.insert(moved(*it));
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
  files_.merge(new_files);
  dirs_.merge(new_dirs);
  return Status();
}

Status MemFileSystem::sync_dir(const std::string& path) {
  if (path.empty()) return Status::from_errno("open directory " + path, ENOENT);
  std::lock_guard lock(mu_);
  const std::string norm = normalize(path);
  if (files_.contains(norm)) return Status::from_errno("open directory " + path, ENOTDIR);
  if (!is_dir_locked(norm)) return Status::from_errno("open directory " + path, ENOENT);
  return Status();
}

bool MemFileSystem::exists(const std::string& path) {
  if (path.empty()) return false;
  std::lock_guard lock(mu_);
  const std::string norm = normalize(path);
  return is_dir_locked(norm) || files_.contains(norm);
}

std::string MemFileSystem::contents(const std::string& path) {
  std::shared_ptr<detail::MemFileData> data;
  {
    std::lock_guard lock(mu_);
    auto it = files_.find(normalize(path));
    SLUICE_CHECK(it != files_.end(), "MemFileSystem::contents: no file {}", path);
    data = it->second;
  }
  std::lock_guard lock(data->mu);
  return data->bytes;
}

void MemFileSystem::set_contents(const std::string& path, std::string_view bytes) {
  std::shared_ptr<detail::MemFileData> data;
  {
    std::lock_guard lock(mu_);
    const std::string norm = normalize(path);
    SLUICE_CHECK(!path.empty() && !is_dir_locked(norm),
                 "MemFileSystem::set_contents: {} is a directory", path);
    create_dirs_locked(parent_of(norm));
    auto& slot = files_[norm];
    if (slot == nullptr) slot = std::make_shared<detail::MemFileData>();
    data = slot;
  }
  std::lock_guard lock(data->mu);
  data->bytes.assign(bytes);
}

}  // namespace sluice
