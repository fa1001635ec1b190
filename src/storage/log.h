#pragma once

#include "base/clock.h"
#include "base/file.h"
#include "base/result.h"
#include "storage/batch_format.h"
#include "storage/segment_index.h"
#include "storage/types.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace sluice::storage {

struct LogOptions {
  FsyncPolicy fsync = FsyncPolicy::kGroup;
  uint64_t segment_max_bytes = 128ull * 1024 * 1024;  // roll when the active segment is this big
  int64_t segment_max_age_ms = 60 * 60 * 1000;        // ... or its first record is this old
  uint32_t index_interval_bytes = 4096;               // one sparse index entry per this many bytes
  size_t max_group_bytes = 8 * 1024 * 1024;           // cap of one group-commit write
  bool repair = false;       // on start, set aside a damaged middle instead of refusing to open
  Offset initial_offset{0};  // first offset of a log created by open()
};

struct ReadLimits {
  size_t max_records = 10000;
  size_t max_bytes = 10 * 1024 * 1024;  // payload bytes; the first record is returned regardless
};

struct AppendResult {
  Offset base_offset;  // offset of the first record appended
  Offset last_offset;  // offset of the last
};

// Records read from a log. Owns the bytes its views point into (read once from the file,
// never copied again); views stay valid while this object lives, also after a move.
class ReadResult {
 public:
  std::vector<RecordView> records;
  Offset next_offset;  // where a following read continues

 private:
  friend class Log;
  std::vector<std::unique_ptr<std::byte[]>> buffers_;
};

// A segmented, append-only log of records in one directory: the storage of one shard.
// Segment files `<base offset>.log` hold checksummed batches; sealed segments carry a sparse
// offset index and a time index. Formats and recovery: docs/formats/segment.md.
//
// Created by open() (recovering what is on disk) and ended by close() or the destructor.
// Thread-safe: any thread may append, read and trim at once. Appends queued while a write is
// in flight are committed together in the next write (group commit, one fdatasync).
// Readers see a record only once its append has been acknowledged.
class Log {
 public:
  // Opens the log in `dir`, creating it when empty. Scans the last segment, truncates a torn
  // tail, rebuilds missing or damaged indexes. Damage that is not a torn tail fails with
  // kCorruption naming the file and byte position, unless options.repair is set.
  // `fs` and `clock` are borrowed and must outlive the log.
  static Result<std::unique_ptr<Log>> open(FileSystem* fs, std::string dir, LogOptions options,
                                           const Clock* clock);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends `records` as one batch with consecutive offsets and returns once they are
  // acknowledged under the fsync policy. kInvalidArgument for records over the limits;
  // after a failed write or fdatasync the log is poisoned: this and every later append
  // return that first failure, nothing is acknowledged that is not on disk, reads go on.
  // The records' memory is borrowed until return.
  Result<AppendResult> append(std::span<const RecordIn> records);

  // Reads acknowledged records from max(from, start_offset()) on, up to `limits`.
  // An empty result with next_offset == end_offset() when nothing is there yet.
  // kCorruption with file and position when a batch fails its checksum: never bad data.
  Result<ReadResult> read(Offset from, ReadLimits limits) const;

  // Offset of the first record whose arrival time is >= ts_ms, or end_offset() when none is.
  Result<Offset> offset_at_time(int64_t ts_ms) const;

  Offset start_offset() const;  // first offset still kept (the trim horizon)
  Offset end_offset() const;    // offset the next record will get; all below are readable

  // Deletes whole sealed segments whose records all arrived before cutoff_ms; moves
  // start_offset(). The active segment is never deleted (it rolls by age first).
  // Returns the number of segments deleted.
  Result<size_t> trim_before_time(int64_t cutoff_ms);

  // Makes every acknowledged record durable (matters under FsyncPolicy::kNever).
  Status sync();
  // Waits for queued appends, syncs, and refuses further appends. Idempotent.
  Status close();

  // The failure that poisoned the log, or ok.
  Status health() const;
  const std::string& dir() const { return dir_; }
  size_t segment_count() const;

 private:
  struct Segment;
  struct Writer;
  Log(FileSystem* fs, std::string dir, LogOptions options, const Clock* clock);

  Status recover();
  Status load_sealed(Segment& seg, bool is_last_but_repair);
  Status scan_segment(Segment& seg, bool is_last);
  Result<std::shared_ptr<Segment>> create_segment(Offset base);
  Status roll_locked_io(std::unique_lock<std::mutex>& lock);
  Status write_indexes(const Segment& seg);
  std::string path_for(Offset base, std::string_view ext) const;
  bool needs_roll(const Segment& active) const;

  FileSystem* const fs_;
  const std::string dir_;
  const LogOptions options_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  // Segments in offset order; the last is active. Summaries change only under mu_.
  std::vector<std::shared_ptr<Segment>> segments_;  // GUARDED_BY(mu_)
  std::deque<Writer*> writers_;                     // GUARDED_BY(mu_)
  Status poisoned_;                                 // GUARDED_BY(mu_)
  bool closed_ = false;                             // GUARDED_BY(mu_)

  BatchEncoder encoder_;  // used by the current group-commit leader only
};

}  // namespace sluice::storage
