#pragma once

#include "base/clock.h"
#include "base/file.h"
#include "base/result.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::s3 {

struct BucketInfo {
  std::string name;
  int64_t created_ms = 0;
  std::string region;  // where CreateBucket put it: its LocationConstraint or the caller's
};

// What a listing shows of an object.
struct ObjectSummary {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // quoted lowercase hex MD5 of the body
  int64_t last_modified_ms = 0;
};

// What PutObject keeps besides the body.
struct PutOptions {
  std::string content_type;  // "" stores S3's default, binary/octet-stream
  // Response headers to store and echo on GET/HEAD, lowercase names (x-amz-meta-*,
  // content-encoding, cache-control, x-amz-checksum-crc32, ...).
  std::vector<std::pair<std::string, std::string>> headers;
};

// One object opened for reading. Holds its file open: a later PutObject or DeleteObject of
// the same key does not change what this handle reads. Used by one thread at a time.
class StoredObject {
 public:
  StoredObject(ObjectSummary summary, std::string content_type,
               std::vector<std::pair<std::string, std::string>> headers, uint64_t body_checksum,
               uint64_t body_offset, std::unique_ptr<File> file);

  const ObjectSummary& summary() const { return summary_; }
  const std::string& content_type() const { return content_type_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

  // Body bytes [pos, pos + n). REQUIRES: pos + n <= summary().size. Reading the whole body
  // (pos 0, n = size) also checks its checksum: kCorruption when the file was damaged.
  Result<std::string> read(uint64_t pos, uint64_t n) const;

 private:
  ObjectSummary summary_;
  std::string content_type_;
  std::vector<std::pair<std::string, std::string>> headers_;
  uint64_t body_checksum_;
  uint64_t body_offset_;
  std::unique_ptr<File> file_;
};

// The arguments of one listing page (ListObjects and ListObjectsV2 both use it).
struct ListQuery {
  std::string prefix;
  std::string delimiter;  // "" rolls nothing up
  // Resume after this key. When it lies under a common prefix of this query (it was one, or
  // was rolled up into one), the page resumes after every key under that common prefix.
  std::string marker;
  size_t max_keys = 1000;
};

struct ListPage {
  // Keys and common prefixes each in key order; together at most max_keys entries, which
  // are the first max_keys of their merge.
  std::vector<ObjectSummary> contents;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  // The last entry of the page (key or common prefix) when truncated: the next marker.
  std::string next_marker;
};

// Sluice's S3-compatible buckets (docs/wire/s3.md): each object a file under `dir`
// (docs/formats/s3-store.md). An in-memory index per bucket, rebuilt by open(), answers
// listings in key order. Created by the composition root; `clock` (and `fs`) are borrowed
// and must outlive the store. Thread-safe: every call may come from any thread at once.
// Calls block on file I/O (fsync included); callers run them on handler threads.
class ObjectStore {
 public:
  // Opens or creates the store rooted at directory `dir`. Removes what an interrupted write
  // left behind (temporary files, half-created or half-deleted buckets). kCorruption when a
  // committed object file fails its checks (the message names it).
  static Result<std::unique_ptr<ObjectStore>> open(const std::string& dir, const Clock* clock);
  static Result<std::unique_ptr<ObjectStore>> open(const std::string& dir, const Clock* clock,
                                                   FileSystem* fs);
  ~ObjectStore();
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  // OK when bucket `name` exists; kNotFound otherwise.
  Status check_bucket(std::string_view name) const;

  // Stores `body` as object `key` of bucket `bucket`, as PutObject would (replacing an object
  // of that key). When it returns OK the object is durable (file and directory synced).
  // kNotFound when the bucket does not exist; kInvalidArgument for a key S3 would refuse.
  Status put_object(std::string_view bucket, std::string_view key, std::string_view body);
  // The same with a content type and stored headers; returns what a listing will show.
  Result<ObjectSummary> put_object(std::string_view bucket, std::string_view key,
                                   std::string_view body, const PutOptions& options);

  // kInvalidArgument when `name` breaks S3's bucket naming rules (bucket_name_problem()),
  // kAlreadyExists when it exists. Durable when it returns OK.
  Status create_bucket(std::string_view name, std::string_view region);
  // kNotFound; kInUse when the bucket still holds objects.
  Status delete_bucket(std::string_view name);
  Result<BucketInfo> bucket(std::string_view name) const;
  std::vector<BucketInfo> list_buckets() const;  // by name

  // kNotFound for a missing bucket or key (check_bucket() tells which).
  Result<StoredObject> get_object(std::string_view bucket, std::string_view key) const;
  // Removes `key`; OK also when it does not exist (S3 answers 204 either way). kNotFound
  // when the bucket does not exist. Durable when it returns OK.
  Status delete_object(std::string_view bucket, std::string_view key);
  // kNotFound for a missing bucket.
  Result<ListPage> list_objects(std::string_view bucket, const ListQuery& query) const;

  struct Impl;

 private:
  explicit ObjectStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;

  friend class Api;
};

// Why `name` is not a valid bucket name, or nullopt when it is: 3 to 63 characters of
// [a-z0-9.-], starting and ending with a letter or digit, no "..", not an IPv4 address, none
// of S3's reserved prefixes and suffixes.
std::optional<std::string> bucket_name_problem(std::string_view name);

// Why `key` is not a valid object key, or nullopt: empty, longer than 1024 bytes, or not
// UTF-8. Any other key is fine, "../" and NUL-free control characters included.
std::optional<std::string> key_problem(std::string_view key);
inline constexpr size_t kMaxKeyBytes = 1024;

}  // namespace sluice::s3
