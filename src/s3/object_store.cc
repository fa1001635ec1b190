#include "s3/object_store.h"

#include "base/bytes.h"
#include "base/checksum.h"
#include "base/log.h"
#include "base/utf8.h"
#include "base/uuid.h"
#include "s3/internal/checksums.h"
#include "s3/internal/object_format.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

// On-disk layout: docs/formats/s3-store.md.
namespace sluice::s3 {

namespace {

using internal::ObjectHeader;

constexpr std::string_view kBucketMetaName = "bucket";
constexpr std::string_view kObjectsDir = "objects";
constexpr std::string_view kObjectSuffix = ".obj";
constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::string_view kBucketMetaMagic = "sluice-s3-bucket 1";
constexpr std::string_view kDefaultContentType = "binary/octet-stream";
constexpr size_t kKeyLockStripes = 64;

std::string join(std::string_view a, std::string_view b) {
  std::string out(a);
  out.push_back('/');
  out.append(b);
  return out;
}

// What the index keeps of an object: enough to list it and to find its file.
struct Entry {
  std::string file;  // name inside objects/
  uint64_t size = 0;
  std::string etag;
  int64_t last_modified_ms = 0;
};

struct Bucket {
  BucketInfo info;
  std::string dir;          // <root>/buckets/<name>
  std::string objects_dir;  // dir + "/objects"
  // Shared by every object write for its whole duration; exclusive for DeleteBucket, which
  // so never removes a directory that a PutObject is about to rename a file into.
  std::shared_mutex life;
  bool deleted = false;  // guarded by `life`

  mutable std::mutex index_mu;
  std::map<std::string, Entry, std::less<>> index;  // guarded by index_mu; UTF-8 byte order
  std::unordered_set<std::string> files;            // guarded by index_mu; every Entry::file
};

std::string encode_bucket_meta(const BucketInfo& info) {
  return fmt::format("{}\ncreated_ms={}\nregion={}\n", kBucketMetaMagic, info.created_ms,
                     info.region);
}

Result<BucketInfo> decode_bucket_meta(std::string_view text, std::string name,
                                      std::string_view where) {
  BucketInfo info;
  info.name = std::move(name);
  size_t pos = 0;
  bool first = true, have_created = false;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (first) {
      if (line != kBucketMetaMagic) {
        return Status::corruption(fmt::format("{}: not a bucket file (line 1)", where));
      }
      first = false;
    } else if (line.starts_with("created_ms=")) {
      const std::string_view v = line.substr(11);
      const auto r = std::from_chars(v.data(), v.data() + v.size(), info.created_ms);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
        return Status::corruption(fmt::format("{}: bad created_ms", where));
      }
      have_created = true;
    } else if (line.starts_with("region=")) {
      info.region = line.substr(7);
    }
  }
  if (first || !have_created) return Status::corruption(fmt::format("{}: incomplete", where));
  return info;
}

// The smallest string greater than every string that starts with `p`; "" when there is
// none (p is all 0xff bytes).
std::string prefix_successor(std::string p) {
  while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
  if (!p.empty()) p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
  return p;
}

// An object file's header: its fixed part, then the field block whose size that names.
struct HeaderRead {
  ObjectHeader header;
  uint32_t field_bytes = 0;  // the body starts at kFixedBytes + field_bytes
};
Result<HeaderRead> read_header(File& f, const std::string& path) {
  std::string head(internal::kFixedBytes, '\0');
  SLUICE_ASSIGN_OR_RETURN(
      size_t got, f.pread(0, std::span(reinterpret_cast<std::byte*>(head.data()), head.size())));
  head.resize(got);
  SLUICE_ASSIGN_OR_RETURN(const uint32_t fields, internal::field_block_bytes(head, path));
  head.resize(internal::kFixedBytes + fields);
  SLUICE_ASSIGN_OR_RETURN(
      got, f.pread(internal::kFixedBytes,
                   std::span(reinterpret_cast<std::byte*>(head.data()) + internal::kFixedBytes,
                             fields)));
  head.resize(internal::kFixedBytes + got);
  SLUICE_ASSIGN_OR_RETURN(ObjectHeader h, internal::decode_object_header(head, path));
  return HeaderRead{std::move(h), fields};
}

}  // namespace

std::optional<std::string> bucket_name_problem(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) {
    return "Bucket names must be between 3 and 63 characters long";
  }
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return "Bucket names may contain only lowercase letters, digits, '.' and '-'";
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) {
    return "Bucket names must begin and end with a letter or a digit";
  }
  if (name.find("..") != std::string_view::npos) {
    return "Bucket names must not contain two adjacent periods";
  }
  // Four dot-separated groups of digits look like an IPv4 address.
  int groups = 1;
  bool all_digits_or_dots = true;
  for (const char c : name) {
    if (c == '.') {
      ++groups;
    } else if (c < '0' || c > '9') {
      all_digits_or_dots = false;
    }
  }
  if (all_digits_or_dots && groups == 4) {
    return "Bucket names must not be formatted as an IP address";
  }
  for (const std::string_view p : {"xn--", "sthree-", "amzn-s3-demo-"}) {
    if (name.starts_with(p)) return fmt::format("Bucket names must not start with '{}'", p);
  }
  for (const std::string_view s : {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}) {
    if (name.ends_with(s)) return fmt::format("Bucket names must not end with '{}'", s);
  }
  return std::nullopt;
}

std::optional<std::string> key_problem(std::string_view key) {
  if (key.empty()) return "Object keys must not be empty";
  if (key.size() > kMaxKeyBytes) return "Your key is too long";
  if (!valid_utf8(key)) return "Object keys must be valid UTF-8";
  return std::nullopt;
}

// ---- StoredObject ----

StoredObject::StoredObject(ObjectSummary summary, std::string content_type,
                           std::vector<std::pair<std::string, std::string>> headers,
                           uint64_t body_checksum, uint64_t body_offset, std::unique_ptr<File> file)
    : summary_(std::move(summary)),
      content_type_(std::move(content_type)),
      headers_(std::move(headers)),
      body_checksum_(body_checksum),
      body_offset_(body_offset),
      file_(std::move(file)) {}

Result<std::string> StoredObject::read(uint64_t pos, uint64_t n) const {
  SLUICE_CHECK(pos <= summary_.size && n <= summary_.size - pos,
               "read [{}, +{}) past object of {} bytes", pos, n, summary_.size);
  std::string out(n, '\0');
  size_t done = 0;
  while (done < n) {
    SLUICE_ASSIGN_OR_RETURN(
        const size_t got,
        file_->pread(
            body_offset_ + pos + done,
            std::span<std::byte>(reinterpret_cast<std::byte*>(out.data()) + done, n - done)));
    if (got == 0) {
      return Status::corruption(
          fmt::format("{}: body cut short at byte {}", file_->path(), body_offset_ + pos + done));
    }
    done += got;
  }
  if (pos == 0 && n == summary_.size && checksum(as_bytes(out)) != body_checksum_) {
    return Status::corruption(
        fmt::format("{}: body checksum mismatch (body at byte {})", file_->path(), body_offset_));
  }
  return out;
}

// ---- ObjectStore ----

struct ObjectStore::Impl {
  FileSystem* fs;
  const Clock* clock;
  std::string root;
  std::string buckets_dir;  // root + "/buckets"
  std::shared_ptr<spdlog::logger> log = logging::get("s3");

  mutable std::shared_mutex mu;
  std::map<std::string, std::shared_ptr<Bucket>, std::less<>> buckets;  // guarded by mu

  // Serialise writes of one key (rename + index update happen in the same order).
  std::array<std::mutex, kKeyLockStripes> key_locks;

  std::mutex& key_lock(std::string_view bucket, std::string_view key) {
    const size_t h = std::hash<std::string_view>{}(bucket)*31 + std::hash<std::string_view>{}(key);
    return key_locks[h % kKeyLockStripes];
  }

  std::shared_ptr<Bucket> find(std::string_view name) const {
    std::shared_lock lock(mu);
    const auto it = buckets.find(name);
    return it == buckets.end() ? nullptr : it->second;
  }

  Status load_bucket(const std::string& name);
  Status load_object(Bucket& b, const std::string& file);
};

Status ObjectStore::Impl::load_bucket(const std::string& name) {
  auto b = std::make_shared<Bucket>();
  b->dir = join(buckets_dir, name);
  b->objects_dir = join(b->dir, kObjectsDir);
  const std::string meta_path = join(b->dir, kBucketMetaName);
  SLUICE_ASSIGN_OR_RETURN(const std::string meta, read_file(fs, meta_path));
  SLUICE_ASSIGN_OR_RETURN(b->info, decode_bucket_meta(meta, name, meta_path));
  SLUICE_RETURN_IF_ERROR(fs->create_dirs(b->objects_dir));
  SLUICE_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs->list_dir(b->objects_dir));
  for (const std::string& file : names) {
    if (file.starts_with(kTempPrefix)) {
      // A PutObject that never returned: never visible, so never acknowledged.
      SLUICE_RETURN_IF_ERROR(fs->remove_file(join(b->objects_dir, file)));
      continue;
    }
    if (!file.ends_with(kObjectSuffix)) {
      log->warn("bucket={} ignoring stray file {}", name, file);
      continue;
    }
    SLUICE_RETURN_IF_ERROR(load_object(*b, file));
  }
  log->debug("bucket={} opened with {} objects", name, b->index.size());
  buckets.emplace(name, std::move(b));
  return Status();
}

Status ObjectStore::Impl::load_object(Bucket& b, const std::string& file) {
  const std::string path = join(b.objects_dir, file);
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs->open(path, OpenMode::kRead));
  SLUICE_ASSIGN_OR_RETURN(HeaderRead read, read_header(*f, path));
  ObjectHeader& h = read.header;
  const uint32_t fields = read.field_bytes;
  SLUICE_ASSIGN_OR_RETURN(const uint64_t size, f->size());
  if (size != internal::kFixedBytes + fields + h.body_bytes) {
    return Status::corruption(fmt::format("{}: file is {} bytes, its header says {}", path, size,
                                          internal::kFixedBytes + fields + h.body_bytes));
  }
  if (b.index.contains(h.key)) {
    return Status::corruption(fmt::format("{}: a second file for one key", path));
  }
  b.files.insert(file);
  b.index.emplace(std::move(h.key),
                  Entry{file, h.body_bytes, std::move(h.etag), h.last_modified_ms});
  return Status();
}

ObjectStore::ObjectStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ObjectStore::~ObjectStore() = default;

Result<std::unique_ptr<ObjectStore>> ObjectStore::open(const std::string& dir, const Clock* clock) {
  return open(dir, clock, FileSystem::posix());
}

Result<std::unique_ptr<ObjectStore>> ObjectStore::open(const std::string& dir, const Clock* clock,
                                                       FileSystem* fs) {
  auto impl = std::make_unique<Impl>();
  impl->fs = fs;
  impl->clock = clock;
  impl->root = dir;
  impl->buckets_dir = join(dir, "buckets");
  SLUICE_RETURN_IF_ERROR(fs->create_dirs(impl->buckets_dir));
  SLUICE_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs->list_dir(impl->buckets_dir));
  for (const std::string& name : names) {
    if (name.starts_with('.')) {
      // A CreateBucket or DeleteBucket interrupted by a crash (bucket names never start
      // with '.'): the create never returned, the delete had already committed.
      SLUICE_RETURN_IF_ERROR(fs->remove_all(join(impl->buckets_dir, name)));
      continue;
    }
    SLUICE_RETURN_IF_ERROR(impl->load_bucket(name).with_context("opening s3 store"));
  }
  return std::unique_ptr<ObjectStore>(new ObjectStore(std::move(impl)));
}

Status ObjectStore::check_bucket(std::string_view name) const {
  if (impl_->find(name) == nullptr) return Status::not_found(fmt::format("no bucket {}", name));
  return Status();
}

Result<BucketInfo> ObjectStore::bucket(std::string_view name) const {
  const auto b = impl_->find(name);
  if (b == nullptr) return Status::not_found(fmt::format("no bucket {}", name));
  return b->info;
}

std::vector<BucketInfo> ObjectStore::list_buckets() const {
  std::shared_lock lock(impl_->mu);
  std::vector<BucketInfo> out;
  out.reserve(impl_->buckets.size());
  for (const auto& [name, b] : impl_->buckets) out.push_back(b->info);
  return out;
}

Status ObjectStore::create_bucket(std::string_view name, std::string_view region) {
  if (auto problem = bucket_name_problem(name)) return Status::invalid_argument(*problem);
  Impl& s = *impl_;
  // Creations are rare: holding the map lock across the I/O keeps two creates of one name
  // from racing.
  std::unique_lock lock(s.mu);
  if (s.buckets.contains(name)) return Status::already_exists(fmt::format("bucket {}", name));
  auto b = std::make_shared<Bucket>();
  b->info = BucketInfo{std::string(name), s.clock->now_ms(), std::string(region)};
  b->dir = join(s.buckets_dir, name);
  b->objects_dir = join(b->dir, kObjectsDir);
  // Built under a hidden name and renamed into place: a crash leaves either no bucket or a
  // whole one.
  const std::string staging = join(s.buckets_dir, fmt::format(".new-{}-{}", name, new_uuid()));
  Status st = s.fs->create_dirs(join(staging, kObjectsDir));
  if (st.ok()) {
    st = write_file_atomic(s.fs, join(staging, kBucketMetaName), encode_bucket_meta(b->info));
  }
  if (st.ok()) st = s.fs->rename(staging, b->dir);
  if (st.ok()) st = s.fs->sync_dir(s.buckets_dir);
  if (!st.ok()) {
    (void)s.fs->remove_all(staging);
    return st.with_context(fmt::format("creating bucket {}", name));
  }
  s.buckets.emplace(std::string(name), std::move(b));
  s.log->info("bucket={} created region={}", name, region);
  return Status();
}

Status ObjectStore::delete_bucket(std::string_view name) {
  Impl& s = *impl_;
  const auto b = s.find(name);
  if (b == nullptr) return Status::not_found(fmt::format("no bucket {}", name));
  std::unique_lock life(b->life);
  if (b->deleted) return Status::not_found(fmt::format("no bucket {}", name));
  {
    std::lock_guard index_lock(b->index_mu);
    if (!b->index.empty()) return Status::in_use(fmt::format("bucket {} is not empty", name));
  }
  const std::string doomed = join(s.buckets_dir, fmt::format(".del-{}-{}", name, new_uuid()));
  SLUICE_RETURN_IF_ERROR(s.fs->rename(b->dir, doomed));
  SLUICE_RETURN_IF_ERROR(s.fs->sync_dir(s.buckets_dir));
  b->deleted = true;
  {
    std::unique_lock lock(s.mu);
    s.buckets.erase(std::string(name));
  }
  // Committed: what is left is garbage that open() would also remove.
  if (Status st = s.fs->remove_all(doomed); !st.ok()) {
    s.log->warn("bucket={} deleted, but removing {} failed: {}", name, doomed, st.to_string());
  }
  s.log->info("bucket={} deleted", name);
  return Status();
}

Status ObjectStore::put_object(std::string_view bucket, std::string_view key,
                               std::string_view body) {
  return put_object(bucket, key, body, PutOptions{}).status();
}

Result<ObjectSummary> ObjectStore::put_object(std::string_view bucket, std::string_view key,
                                              std::string_view body, const PutOptions& options) {
  if (auto problem = key_problem(key)) return Status::invalid_argument(*problem);
  Impl& s = *impl_;
  const auto b = s.find(bucket);
  if (b == nullptr) return Status::not_found(fmt::format("no bucket {}", bucket));
  std::shared_lock life(b->life);
  if (b->deleted) return Status::not_found(fmt::format("no bucket {}", bucket));

  ObjectHeader h;
  h.key = key;
  h.etag = internal::etag_of(body);
  h.last_modified_ms = s.clock->now_ms();
  h.content_type =
      options.content_type.empty() ? std::string(kDefaultContentType) : options.content_type;
  h.headers = options.headers;
  h.body_bytes = body.size();
  h.body_checksum = checksum(as_bytes(body));
  const std::string head = internal::encode_object_header(h);

  // Write and sync under a unique temporary name, then rename over the key's file: readers
  // and a crash see the old object or the new one, never part of one.
  const std::string tmp = join(b->objects_dir, std::string(kTempPrefix) + new_uuid());
  {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<File> f, s.fs->open(tmp, OpenMode::kCreateNew));
    const std::array<ByteView, 2> parts = {as_bytes(head), as_bytes(body)};
    Status st = f->pwritev(0, parts);
    if (st.ok()) st = f->sync();
    if (!st.ok()) {
      f.reset();
      (void)s.fs->remove_file(tmp);
      return st.with_context(fmt::format("storing {}/{}", bucket, key));
    }
  }

  std::lock_guard key_lock(s.key_lock(bucket, key));
  std::string file;
  {
    std::lock_guard index_lock(b->index_mu);
    if (const auto it = b->index.find(key); it != b->index.end()) {
      file = it->second.file;
    } else {
      // The file name is the MD5 of the key: any key maps to a safe, fixed-length name, and
      // "a" and "a/b" never meet. A (deliberate) MD5 collision takes the next free suffix.
      const internal::Md5Digest d = internal::md5(key);
      const std::string base =
          internal::hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
      file = base + std::string(kObjectSuffix);
      for (int n = 1; b->files.contains(file); ++n) {
        file = fmt::format("{}-{}{}", base, n, kObjectSuffix);
      }
      // Reserved now, so that a concurrent put of another colliding key picks another name.
      b->files.insert(file);
    }
  }
  if (Status st = s.fs->rename(tmp, join(b->objects_dir, file)); !st.ok()) {
    (void)s.fs->remove_file(tmp);
    std::lock_guard index_lock(b->index_mu);
    if (!b->index.contains(key)) b->files.erase(file);
    return st.with_context(fmt::format("storing {}/{}", bucket, key));
  }
  {
    // Visible from here on; the index follows the file, whatever the sync below says.
    std::lock_guard index_lock(b->index_mu);
    b->index.insert_or_assign(std::string(key),
                              Entry{file, h.body_bytes, h.etag, h.last_modified_ms});
  }
  if (Status st = s.fs->sync_dir(b->objects_dir); !st.ok()) {
    return st.with_context(fmt::format("storing {}/{}", bucket, key));
  }
  return ObjectSummary{std::string(key), h.body_bytes, h.etag, h.last_modified_ms};
}

Result<StoredObject> ObjectStore::get_object(std::string_view bucket, std::string_view key) const {
  const Impl& s = *impl_;
  const auto b = s.find(bucket);
  if (b == nullptr) return Status::not_found(fmt::format("no bucket {}", bucket));
  std::string path;
  {
    std::lock_guard index_lock(b->index_mu);
    const auto it = b->index.find(key);
    if (it == b->index.end()) return Status::not_found(fmt::format("no key {}", key));
    path = join(b->objects_dir, it->second.file);
  }
  // The header is read from the opened file, not taken from the index: a put that replaced
  // the file after the lookup is then read whole, with its own metadata.
  auto opened = s.fs->open(path, OpenMode::kRead);
  if (!opened.ok()) {
    if (opened.status().is_not_found()) return Status::not_found(fmt::format("no key {}", key));
    return opened.status();
  }
  std::unique_ptr<File> f = std::move(opened).value();
  SLUICE_ASSIGN_OR_RETURN(HeaderRead read, read_header(*f, path));
  ObjectHeader& h = read.header;
  const uint32_t fields = read.field_bytes;
  if (h.key != key) return Status::not_found(fmt::format("no key {}", key));  // file reused
  return StoredObject(
      ObjectSummary{std::move(h.key), h.body_bytes, std::move(h.etag), h.last_modified_ms},
      std::move(h.content_type), std::move(h.headers), h.body_checksum,
      internal::kFixedBytes + fields, std::move(f));
}

Status ObjectStore::delete_object(std::string_view bucket, std::string_view key) {
  Impl& s = *impl_;
  const auto b = s.find(bucket);
  if (b == nullptr) return Status::not_found(fmt::format("no bucket {}", bucket));
  std::shared_lock life(b->life);
  if (b->deleted) return Status::not_found(fmt::format("no bucket {}", bucket));
  std::lock_guard key_lock(s.key_lock(bucket, key));
  std::string file;
  {
    std::lock_guard index_lock(b->index_mu);
    const auto it = b->index.find(key);
    if (it == b->index.end()) return Status();
    file = it->second.file;
  }
  Status st = s.fs->remove_file(join(b->objects_dir, file));
  if (st.is_not_found()) st = Status();
  if (st.ok()) st = s.fs->sync_dir(b->objects_dir);
  if (!st.ok()) return st.with_context(fmt::format("deleting {}/{}", bucket, key));
  std::lock_guard index_lock(b->index_mu);
  b->index.erase(b->index.find(key));
  b->files.erase(file);
  return Status();
}

Result<ListPage> ObjectStore::list_objects(std::string_view bucket, const ListQuery& q) const {
  const auto b = impl_->find(bucket);
  if (b == nullptr) return Status::not_found(fmt::format("no bucket {}", bucket));
  // The common prefix `key` rolls up into, if any.
  auto common_prefix = [&q](std::string_view key) -> std::optional<std::string> {
    if (q.delimiter.empty() || !key.starts_with(q.prefix)) return std::nullopt;
    const size_t d = key.find(q.delimiter, q.prefix.size());
    if (d == std::string_view::npos) return std::nullopt;
    return std::string(key.substr(0, d + q.delimiter.size()));
  };

  ListPage page;
  std::lock_guard index_lock(b->index_mu);
  const auto& index = b->index;
  auto it = index.lower_bound(q.prefix);
  if (!q.marker.empty()) {
    auto resume = index.upper_bound(q.marker);
    if (auto cp = common_prefix(q.marker)) {
      const std::string next = prefix_successor(*cp);
      resume = next.empty() ? index.end() : index.lower_bound(next);
    }
    // Keys only grow from here; the later of the two starting points wins.
    if (resume == index.end() || (it != index.end() && resume->first > it->first)) it = resume;
  }
  size_t count = 0;
  std::string last;
  for (; it != index.end() && it->first.starts_with(q.prefix);) {
    if (count == q.max_keys) {
      page.truncated = count > 0;
      break;
    }
    if (auto cp = common_prefix(it->first)) {
      const std::string next = prefix_successor(*cp);
      page.common_prefixes.push_back(*cp);
      last = std::move(*cp);
      ++count;
      it = next.empty() ? index.end() : index.lower_bound(next);
      continue;
    }
    page.contents.push_back(
        ObjectSummary{it->first, it->second.size, it->second.etag, it->second.last_modified_ms});
    last = it->first;
    ++count;
    ++it;
  }
  if (page.truncated) page.next_marker = std::move(last);
  return page;
}

}  // namespace sluice::s3
