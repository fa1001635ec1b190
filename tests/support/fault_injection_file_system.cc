#include "tests/support/fault_injection_file_system.h"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace sluice {

// A File of `base_` whose writes and syncs go through the wrapper's fault switches.
class FaultInjectionFileSystem::FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base,
            std::shared_ptr<Tracked> tracked)
      : fs_(fs), base_(std::move(base)), tracked_(std::move(tracked)) {}

  Result<size_t> pread(uint64_t pos, std::span<std::byte> out) const override {
    return base_->pread(pos, out);
  }

  Status pwritev(uint64_t pos, std::span<const ByteView> parts) override {
    bool fail = false;
    uint64_t prefix_bytes = 0;
    {
      std::lock_guard lock(fs_->mu_);
      ++fs_->write_calls_;
      fail = fs_->fail_writes_;
      prefix_bytes = fs_->partial_write_bytes_;
    }
    if (!fail) return base_->pwritev(pos, parts);
    // A torn write: the first `prefix_bytes` bytes reach the file, then the disk is full.
    std::vector<ByteView> prefix;
    for (ByteView p : parts) {
      if (prefix_bytes == 0) break;
      const size_t take = static_cast<size_t>(std::min<uint64_t>(prefix_bytes, p.size()));
      if (take > 0) prefix.push_back(p.first(take));
      prefix_bytes -= take;
    }
    if (!prefix.empty()) SLUICE_RETURN_IF_ERROR(base_->pwritev(pos, prefix));
    return Status::from_errno("pwritev " + path(), ENOSPC);
  }

  Status sync() override {
    {
      std::lock_guard lock(fs_->mu_);
      ++fs_->sync_calls_;
      if (fs_->fail_syncs_) return Status::from_errno("fdatasync " + path(), EIO);
    }
    SLUICE_RETURN_IF_ERROR(base_->sync());
    SLUICE_ASSIGN_OR_RETURN(const uint64_t size, base_->size());
    std::lock_guard lock(fs_->mu_);
    tracked_->synced_bytes = size;
    return Status();
  }

  Status truncate(uint64_t size) override {
    SLUICE_RETURN_IF_ERROR(base_->truncate(size));
    std::lock_guard lock(fs_->mu_);
    tracked_->synced_bytes = std::min(tracked_->synced_bytes, size);
    return Status();
  }

  Result<uint64_t> size() const override { return base_->size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<File> base_;
  const std::shared_ptr<Tracked> tracked_;
};

namespace {

// True for `path` itself and every path below it when it names a directory.
bool is_at_or_under(const std::string& entry, const std::string& path) {
  if (entry == path) return true;
  const std::string prefix = (!path.empty() && path.back() == '/') ? path : path + "/";
  return entry.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(FileSystem* base) : base_(base) {}
FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

Result<std::unique_ptr<File>> FaultInjectionFileSystem::open(const std::string& path,
                                                             OpenMode mode) {
  // Under mu_ so that "did it exist" and the open form one step for other callers of this
  // wrapper.
  std::lock_guard lock(mu_);
  const bool existed = base_->exists(path);
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> file, base_->open(path, mode));
  std::shared_ptr<Tracked>& slot = tracked_[path];
  if (!existed || slot == nullptr) {
    // A file we have not seen: new ones hold nothing durable, older ones are all durable.
    uint64_t synced = 0;
    if (existed) {
      auto size = file->size();
      if (!size.ok()) {
        if (slot == nullptr) tracked_.erase(path);
        return size.status();
      }
      synced = *size;
    }
    slot = std::make_shared<Tracked>();
    slot->synced_bytes = synced;
  }
  return std::unique_ptr<File>(std::make_unique<FaultFile>(this, std::move(file), slot));
}

Status FaultInjectionFileSystem::create_dirs(const std::string& path) {
  return base_->create_dirs(path);
}

Result<std::vector<std::string>> FaultInjectionFileSystem::list_dir(const std::string& path) {
  return base_->list_dir(path);
}

Status FaultInjectionFileSystem::remove_file(const std::string& path) {
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(base_->remove_file(path));
  tracked_.erase(path);
  return Status();
}

Status FaultInjectionFileSystem::remove_all(const std::string& path) {
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(base_->remove_all(path));
  std::erase_if(tracked_, [&](const auto& t) { return is_at_or_under(t.first, path); });
  return Status();
}

Status FaultInjectionFileSystem::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(base_->rename(from, to));
  if (from == to) return Status();
  // `to` (a file, or an empty directory) is gone; what was at or below `from` now lives at
  // or below `to`, keeping its synced size. An untracked `from` leaves `to` untracked: all
  // of it counts as synced, as it did at `from`.
  std::erase_if(tracked_, [&](const auto& t) { return is_at_or_under(t.first, to); });
  std::vector<std::pair<std::string, std::shared_ptr<Tracked>>> moved;
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (is_at_or_under(it->first, from)) {
      moved.emplace_back(to + it->first.substr(from.size()), std::move(it->second));
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [path, t] : moved) tracked_[path] = std::move(t);
  return Status();
}

Status FaultInjectionFileSystem::sync_dir(const std::string& path) { return base_->sync_dir(path); }

bool FaultInjectionFileSystem::exists(const std::string& path) { return base_->exists(path); }

void FaultInjectionFileSystem::fail_writes_with_enospc(bool fail) {
  std::lock_guard lock(mu_);
  fail_writes_ = fail;
}

void FaultInjectionFileSystem::set_partial_write_bytes(uint64_t n) {
  std::lock_guard lock(mu_);
  partial_write_bytes_ = n;
}

uint64_t FaultInjectionFileSystem::partial_write_bytes() const {
  std::lock_guard lock(mu_);
  return partial_write_bytes_;
}

void FaultInjectionFileSystem::fail_syncs(bool fail) {
  std::lock_guard lock(mu_);
  fail_syncs_ = fail;
}

Status FaultInjectionFileSystem::drop_unsynced_data() {
  std::lock_guard lock(mu_);
  Status first_failure;
  const auto note = [&](const Status& s) {
    if (!s.ok() && first_failure.ok()) first_failure = s.with_context("drop_unsynced_data");
  };
  for (const auto& [path, tracked] : tracked_) {
    if (!base_->exists(path)) continue;  // removed behind our back: nothing to drop
    auto file = base_->open(path, OpenMode::kReadWrite);
    if (!file.ok()) {
      note(file.status());
      continue;
    }
    auto size = (*file)->size();
    if (!size.ok()) {
      note(size.status());
      continue;
    }
    if (*size > tracked->synced_bytes) note((*file)->truncate(tracked->synced_bytes));
  }
  return first_failure;
}

std::optional<uint64_t> FaultInjectionFileSystem::synced_bytes(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = tracked_.find(path);
  if (it == tracked_.end()) return std::nullopt;
  return it->second->synced_bytes;
}

uint64_t FaultInjectionFileSystem::write_calls() const {
  std::lock_guard lock(mu_);
  return write_calls_;
}

uint64_t FaultInjectionFileSystem::sync_calls() const {
  std::lock_guard lock(mu_);
  return sync_calls_;
}

}  // namespace sluice
