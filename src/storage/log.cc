#include "storage/log.h"

#include "base/log.h"
#include "storage/internal/batch_scanner.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace sluice::storage {
namespace {

constexpr size_t kScanChunkBytes = 1 << 20;
constexpr size_t kMinReadChunkBytes = 64 << 10;
constexpr size_t kMaxReadChunkBytes = 4 << 20;
constexpr std::string_view kLogExt = ".log";

std::shared_ptr<spdlog::logger> logger() {
  static auto l = logging::get("storage");
  return l;
}

// "00000000000000001042.log" -> 1042; nullopt for any other name.
std::optional<uint64_t> parse_segment_name(std::string_view name) {
  if (name.size() != 20 + kLogExt.size() || !name.ends_with(kLogExt)) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, v);
  if (ec != std::errc() || p != name.data() + 20) return std::nullopt;
  return v;
}

// Whether a whole, checksum-valid batch starts anywhere in [from, end) of `file`. That tells
// damage in the middle of a log (acknowledged batches follow it) from a torn tail (nothing
// whole follows). Only runs on the failure path of recovery.
bool whole_batch_after(const File& file, uint64_t from, uint64_t end) {
  constexpr size_t kWindow = 1 << 20;
  if (from >= end) return false;
  std::vector<std::byte> window(std::min<uint64_t>(kWindow + kBatchHeaderSize, end - from));
  std::vector<std::byte> batch;
  for (uint64_t start = from; start + kBatchHeaderSize <= end; start += kWindow) {
    auto got = file.pread(start, window);
    if (!got.ok()) return false;
    for (size_t i = 0; i + kBatchHeaderSize <= *got && i < kWindow; ++i) {
      // Most positions fail this cheap check; only plausible headers cost a read.
      auto h = parse_batch_header(ByteView(window.data() + i, kBatchHeaderSize));
      if (!h || start + i + h->batch_bytes > end) continue;
      batch.resize(h->batch_bytes);
      auto n = file.pread(start + i, batch);
      if (n.ok() && *n == batch.size() &&
          verify_batch(*h, ByteView(batch.data(), batch.size()), FilePos(start + i)).ok()) {
        return true;
      }
    }
  }
  return false;
}

// Where the records a read from `from` may take end at the latest, when it takes at most
// `max_records`: the first index point at or past from + max_records starts a batch that
// holds none of them (index points are batch starts). The segment's end when there is none.
// `entry` is find_entry_for_offset(s, from). REQUIRES: Log::mu_ held (entries grow).
uint64_t wanted_span(const SegmentSummary& s, size_t entry, Offset from, size_t max_records) {
  const uint64_t stop = from.value() - s.base_offset.value() + max_records;
  const auto it =
      std::lower_bound(s.entries.begin() + static_cast<std::ptrdiff_t>(entry), s.entries.end(),
                       stop, [](const IndexEntry& e, uint64_t rel) { return e.rel_offset < rel; });
  return it == s.entries.end() ? s.valid_bytes : it->position;
}

}  // namespace

struct Log::Segment {
  std::shared_ptr<File> file;
  std::string path;
  SegmentSummary summary;          // GUARDED_BY(Log::mu_)
  uint64_t bytes_since_index = 0;  // GUARDED_BY(Log::mu_)
  int64_t first_append_ms = 0;     // when it got its first record (or was recovered): rolls by age
  bool sealed = false;             // GUARDED_BY(Log::mu_)

  // Records a batch written at `pos` in the summary and the sparse index.
  void note_batch(const BatchHeader& h, uint64_t pos, uint32_t index_interval) {
    if (summary.entries.empty() || bytes_since_index >= index_interval) {
      summary.entries.push_back(
          IndexEntry{static_cast<uint32_t>(h.base_offset.value() - summary.base_offset.value()),
                     static_cast<uint32_t>(pos), summary.max_timestamp_ms});
      bytes_since_index = 0;
    }
    bytes_since_index += h.batch_bytes;
    if (summary.first_timestamp_ms == kNoTimestamp)
      summary.first_timestamp_ms = h.first_timestamp_ms;
    summary.max_timestamp_ms = std::max(summary.max_timestamp_ms, h.max_timestamp_ms);
    summary.next_offset = h.next_offset();
    summary.valid_bytes = pos + h.batch_bytes;
  }
};

struct Log::Writer {
  std::span<const RecordIn> records;
  size_t bytes = 0;
  bool done = false;
  Status status;
  AppendResult result;
  std::condition_variable cv;
};

Log::Log(FileSystem* fs, std::string dir, LogOptions options, const Clock* clock)
    : fs_(fs), dir_(std::move(dir)), options_(options), clock_(clock) {}

Log::~Log() { (void)close(); }

Result<std::unique_ptr<Log>> Log::open(FileSystem* fs, std::string dir, LogOptions options,
                                       const Clock* clock) {
  if (options.segment_max_bytes > (1ull << 30)) {
    return Status::invalid_argument("segment_max_bytes above 1 GiB");
  }
  std::unique_ptr<Log> log(new Log(fs, std::move(dir), options, clock));
  Status s = log->recover();
  if (!s.ok()) return s.with_context("opening log " + log->dir_);
  return log;
}

std::string Log::path_for(Offset base, std::string_view ext) const {
  return fmt::format("{}/{:020}{}", dir_, base.value(), ext);
}

Result<std::shared_ptr<Log::Segment>> Log::create_segment(Offset base) {
  auto seg = std::make_shared<Segment>();
  seg->path = path_for(base, kLogExt);
  SLUICE_ASSIGN_OR_RETURN(auto file, fs_->open(seg->path, OpenMode::kCreateNew));
  std::byte header[kSegmentHeaderSize];
  encode_segment_header(SegmentHeader{kSegmentFormatVersion, base}, header);
  const ByteView part(header, kSegmentHeaderSize);
  SLUICE_RETURN_IF_ERROR(file->pwritev(0, std::span(&part, 1)));
  SLUICE_RETURN_IF_ERROR(file->sync());
  // The new file's name must survive a crash before anything acknowledged lands in it.
  SLUICE_RETURN_IF_ERROR(fs_->sync_dir(dir_));
  seg->file = std::move(file);
  seg->summary.base_offset = base;
  seg->summary.next_offset = base;
  seg->summary.valid_bytes = kSegmentHeaderSize;
  return seg;
}

Status Log::write_indexes(const Segment& seg) {
  SLUICE_RETURN_IF_ERROR(write_file_atomic(fs_, path_for(seg.summary.base_offset, ".index"),
                                           encode_offset_index(seg.summary)));
  return write_file_atomic(fs_, path_for(seg.summary.base_offset, ".timeindex"),
                           encode_time_index(seg.summary));
}

Status Log::recover() {
  SLUICE_RETURN_IF_ERROR(fs_->create_dirs(dir_));
  SLUICE_ASSIGN_OR_RETURN(auto names, fs_->list_dir(dir_));
  std::vector<uint64_t> bases;
  for (const std::string& name : names) {
    if (name.ends_with(".tmp")) {
      // An index rewrite that did not finish; the index is rebuilt below if needed.
      SLUICE_RETURN_IF_ERROR(fs_->remove_file(dir_ + "/" + name));
    } else if (auto base = parse_segment_name(name)) {
      bases.push_back(*base);
    }
  }
  std::sort(bases.begin(), bases.end());
  if (bases.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto seg, create_segment(options_.initial_offset));
    segments_.push_back(std::move(seg));
    return Status();
  }

  for (size_t i = 0; i < bases.size(); ++i) {
    const bool is_last = i + 1 == bases.size();
    auto seg = std::make_shared<Segment>();
    seg->path = path_for(Offset(bases[i]), kLogExt);
    SLUICE_ASSIGN_OR_RETURN(auto file, fs_->open(seg->path, OpenMode::kReadWrite));
    seg->file = std::move(file);
    seg->summary.base_offset = Offset(bases[i]);
    seg->first_append_ms = clock_->now_ms();
    if (is_last) {
      SLUICE_RETURN_IF_ERROR(scan_segment(*seg, /*is_last=*/true));
      // The scan may have found batches a killed process wrote but never synced; they are
      // served from now on, so a power failure must not take them back.
      SLUICE_RETURN_IF_ERROR(seg->file->sync());
    } else {
      SLUICE_RETURN_IF_ERROR(load_sealed(*seg, false));
      seg->sealed = true;
    }
    if (!segments_.empty()) {
      const SegmentSummary& prev = segments_.back()->summary;
      if (prev.next_offset > seg->summary.base_offset ||
          (prev.next_offset < seg->summary.base_offset && !options_.repair)) {
        return Status::corruption(fmt::format(
            "segment {} ends at offset {} but the next segment starts at {}; start with --repair "
            "to accept the gap",
            segments_.back()->path, prev.next_offset, seg->summary.base_offset));
      }
    }
    segments_.push_back(std::move(seg));
  }
  const auto& last = segments_.back()->summary;
  logger()->debug("log={} recovered segments={} start={} end={}", dir_, segments_.size(),
                  segments_.front()->summary.base_offset, last.next_offset);
  return Status();
}

Status Log::load_sealed(Segment& seg, bool) {
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, seg.file->size());
  auto off = read_file(fs_, path_for(seg.summary.base_offset, ".index"));
  auto tim = read_file(fs_, path_for(seg.summary.base_offset, ".timeindex"));
  if (off.ok() && tim.ok()) {
    auto summary = decode_indexes(*off, *tim, seg.summary.base_offset, size);
    if (summary.ok()) {
      seg.summary = std::move(*summary);
      return Status();
    }
    logger()->warn("log={} segment={} index damaged ({}); rebuilding", dir_, seg.path,
                   summary.status().message());
  } else {
    logger()->info("log={} segment={} index missing; rebuilding", dir_, seg.path);
  }
  SLUICE_RETURN_IF_ERROR(scan_segment(seg, /*is_last=*/false));
  return write_indexes(seg);
}

Status Log::scan_segment(Segment& seg, bool is_last) {
  SLUICE_ASSIGN_OR_RETURN(uint64_t size, seg.file->size());
  const Offset base = seg.summary.base_offset;
  seg.summary = SegmentSummary{};
  seg.summary.base_offset = base;
  seg.summary.next_offset = base;
  seg.summary.valid_bytes = kSegmentHeaderSize;
  seg.bytes_since_index = 0;

  std::byte header[kSegmentHeaderSize];
  SLUICE_ASSIGN_OR_RETURN(size_t got, seg.file->pread(0, std::span(header, kSegmentHeaderSize)));
  auto decoded = got == kSegmentHeaderSize
                     ? decode_segment_header(ByteView(header, got))
                     : Result<SegmentHeader>(Status::corruption("short segment header"));
  if (!decoded.ok() || decoded->base_offset != base) {
    // A segment is created with its header synced before anything is written to it, so a
    // damaged header on the newest segment means it never held an acknowledged record.
    if (is_last && size <= kSegmentHeaderSize) {
      logger()->warn("log={} segment={} has a torn header; rewriting it", dir_, seg.path);
      std::byte fresh[kSegmentHeaderSize];
      encode_segment_header(SegmentHeader{kSegmentFormatVersion, base}, fresh);
      const ByteView part(fresh, kSegmentHeaderSize);
      SLUICE_RETURN_IF_ERROR(seg.file->truncate(0));
      SLUICE_RETURN_IF_ERROR(seg.file->pwritev(0, std::span(&part, 1)));
      return seg.file->sync();
    }
    const std::string why = decoded.ok() ? "base offset differs from the file name"
                                         : std::string(decoded.status().message());
    return Status::corruption(fmt::format("segment {}: {} (byte 0)", seg.path, why));
  }

  internal::BatchScanner scanner(seg.file.get(), kSegmentHeaderSize, size, kScanChunkBytes, false);
  Offset expected = base;
  while (true) {
    auto batch = scanner.next();
    if (batch.ok()) {
      Status records = check_batch_records(batch->header, batch->bytes, batch->position);
      if (!records.ok()) batch = records;
    }
    if (batch.ok() && batch->header.base_offset != expected) {
      batch = Status::corruption(fmt::format("batch at byte {} has offset {}, expected {}",
                                             batch->position, batch->header.base_offset, expected));
    }
    if (batch.ok()) {
      seg.note_batch(batch->header, batch->position.value(), options_.index_interval_bytes);
      expected = batch->header.next_offset();
      continue;
    }
    if (batch.status().is_end_of_data()) break;
    if (!batch.status().is_corruption()) return batch.status();

    const uint64_t bad_at = scanner.position();
    // A torn tail: the newest bytes of the newest segment, with no whole batch after them.
    // Appends are acknowledged only after everything before them is on disk, so nothing
    // acknowledged can sit behind a torn write.
    const bool valid_batch_follows = whole_batch_after(*seg.file, bad_at + 1, size);
    if (is_last && !valid_batch_follows) {
      logger()->warn("log={} segment={} torn tail at byte {}: dropping {} unacknowledged bytes",
                     dir_, seg.path, bad_at, size - bad_at);
      SLUICE_RETURN_IF_ERROR(seg.file->truncate(bad_at));
      SLUICE_RETURN_IF_ERROR(seg.file->sync());
      break;
    }
    if (!options_.repair) {
      return Status::corruption(fmt::format(
          "segment {} is damaged at byte {} ({}); start with --repair to set the damaged part "
          "aside",
          seg.path, bad_at, batch.status().message()));
    }
    // Repair: keep the damaged bytes beside the segment for inspection, then cut them off.
    const std::string aside = fmt::format("{}.damaged-at-{}", seg.path, bad_at);
    {
      std::vector<std::byte> rest(size - bad_at);
      SLUICE_ASSIGN_OR_RETURN(size_t n, seg.file->pread(bad_at, rest));
      rest.resize(n);
      SLUICE_ASSIGN_OR_RETURN(auto out, fs_->open(aside, OpenMode::kCreate));
      const ByteView part(rest.data(), rest.size());
      SLUICE_RETURN_IF_ERROR(out->truncate(0));
      SLUICE_RETURN_IF_ERROR(out->pwritev(0, std::span(&part, 1)));
      SLUICE_RETURN_IF_ERROR(out->sync());
    }
    SLUICE_RETURN_IF_ERROR(seg.file->truncate(bad_at));
    SLUICE_RETURN_IF_ERROR(seg.file->sync());
    SLUICE_RETURN_IF_ERROR(fs_->sync_dir(dir_));
    logger()->error("log={} segment={} repaired: {} bytes from byte {} moved to {}", dir_, seg.path,
                    size - bad_at, bad_at, aside);
    break;
  }
  return Status();
}

bool Log::needs_roll(const Segment& active) const {
  const SegmentSummary& s = active.summary;
  if (s.next_offset == s.base_offset) return false;  // never roll an empty segment
  return s.valid_bytes >= options_.segment_max_bytes ||
         clock_->now_ms() - active.first_append_ms >= options_.segment_max_age_ms;
}

Status Log::roll_locked_io(std::unique_lock<std::mutex>& lock) {
  std::shared_ptr<Segment> old = segments_.back();
  lock.unlock();
  // Only the group-commit leader gets here, so the old segment's summary cannot change.
  Status s = old->file->sync();
  if (s.ok()) s = write_indexes(*old);
  Result<std::shared_ptr<Segment>> fresh =
      s.ok() ? create_segment(old->summary.next_offset) : Result<std::shared_ptr<Segment>>(s);
  lock.lock();
  if (!fresh.ok()) return fresh.status();
  old->sealed = true;
  segments_.push_back(std::move(*fresh));
  logger()->debug("log={} rolled to segment base={}", dir_, segments_.back()->summary.base_offset);
  return Status();
}

Result<AppendResult> Log::append(std::span<const RecordIn> records) {
  SLUICE_RETURN_IF_ERROR(validate_records(records));
  Writer w;
  w.records = records;
  w.bytes = encoded_batch_bytes(records);

  std::unique_lock lock(mu_);
  if (closed_) return Status::unavailable("log " + dir_ + " is closed");
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.wait(lock);
  if (w.done) {
    if (!w.status.ok()) return w.status;
    return w.result;
  }

  // This writer leads: it writes its own batch and those queued behind it, in one write.
  size_t group_size = 1;
  if (options_.fsync != FsyncPolicy::kAlways) {
    size_t bytes = w.bytes;
    while (group_size < writers_.size() &&
           bytes + writers_[group_size]->bytes <= options_.max_group_bytes) {
      bytes += writers_[group_size++]->bytes;
    }
  }
  Status s = poisoned_;
  if (s.ok() && needs_roll(*segments_.back())) s = roll_locked_io(lock);
  if (s.ok()) {
    std::shared_ptr<Segment> active = segments_.back();
    Offset next = active->summary.next_offset;
    const uint64_t pos = active->summary.valid_bytes;
    std::vector<Writer*> group(writers_.begin(),
                               writers_.begin() + static_cast<ptrdiff_t>(group_size));
    lock.unlock();

    encoder_.clear();
    for (Writer* g : group) {
      encoder_.add(next, g->records);
      g->result = AppendResult{next, Offset(next.value() + g->records.size() - 1)};
      next = Offset(next.value() + g->records.size());
    }
    s = active->file->pwritev(pos, encoder_.finish());
    if (s.ok() && options_.fsync != FsyncPolicy::kNever) s = active->file->sync();

    if (!s.ok()) {
      // Best effort: cut what was written of the failed group, so that records whose
      // append failed do not reappear after a restart. Recovery copes if this fails too.
      (void)active->file->truncate(pos);
    }
    lock.lock();
    if (s.ok()) {
      if (active->summary.next_offset == active->summary.base_offset) {
        active->first_append_ms = clock_->now_ms();
      }
      uint64_t at = pos;
      for (const BatchHeader& h : encoder_.headers()) {
        active->note_batch(h, at, options_.index_interval_bytes);
        at += h.batch_bytes;
      }
    }
  }
  if (!s.ok() && poisoned_.ok()) {
    poisoned_ = s;
    logger()->error("log={} refuses appends from now on: {}", dir_, s.to_string());
  }
  for (size_t i = 0; i < group_size; ++i) {
    Writer* g = writers_.front();
    writers_.pop_front();
    g->status = s;
    g->done = true;
    if (g != &w) g->cv.notify_one();
  }
  if (!writers_.empty()) {
    writers_.front()->cv.notify_one();
  } else {
    idle_cv_.notify_all();
  }
  if (!s.ok()) return s;
  return w.result;
}

Result<ReadResult> Log::read(Offset from, ReadLimits limits) const {
  ReadResult out;
  size_t payload_bytes = 0;
  std::unique_lock lock(mu_);
  from = std::max(from, segments_.front()->summary.base_offset);
  out.next_offset = from;
  while (out.records.size() < limits.max_records) {
    // The segment holding `from`: the last based at or below it, skipping ones it is past
    // (the end of the log, or a gap left by --repair).
    auto it = std::upper_bound(
        segments_.begin(), segments_.end(), from,
        [](Offset o, const std::shared_ptr<Segment>& s) { return o < s->summary.base_offset; });
    if (it != segments_.begin()) --it;
    while (it != segments_.end() && from >= (*it)->summary.next_offset) ++it;
    if (it == segments_.end()) break;
    const Segment& seg = **it;
    from = std::max(from, seg.summary.base_offset);
    out.next_offset = from;
    const size_t entry = find_entry_for_offset(seg.summary, from);
    const uint64_t begin = seg.summary.entries[entry].position;
    const uint64_t end = seg.summary.valid_bytes;
    const Offset seg_next = seg.summary.next_offset;
    const uint64_t span =
        wanted_span(seg.summary, entry, from, limits.max_records - out.records.size()) - begin;
    std::shared_ptr<File> file = seg.file;
    lock.unlock();

    // The first read takes the wanted span whole and nothing past it: a reader that wants a
    // thousand small records must not copy megabytes out of the page cache to get them.
    const size_t chunk =
        std::min(std::clamp(limits.max_bytes, kMinReadChunkBytes, kMaxReadChunkBytes),
                 static_cast<size_t>(std::max<uint64_t>(span, kBatchHeaderSize)));
    internal::BatchScanner scanner(file.get(), begin, end, chunk, /*keep_buffers=*/true);
    bool full = false;
    while (!full) {
      if (out.records.size() >= limits.max_records) {
        full = true;  // without looking at the next batch, which would cost another read
        break;
      }
      auto batch = scanner.next();
      if (!batch.ok()) {
        if (batch.status().is_end_of_data()) break;
        return batch.status().with_context("reading " + file->path());
      }
      if (batch->header.next_offset() <= from) continue;
      Status s =
          for_each_record(batch->header, batch->bytes, batch->position, [&](const RecordView& r) {
            if (full || r.offset < from) return;
            if (out.records.size() >= limits.max_records ||
                (!out.records.empty() && payload_bytes + r.payload.size() > limits.max_bytes)) {
              full = true;
              return;
            }
            payload_bytes += r.payload.size();
            out.records.push_back(r);
            out.next_offset = Offset(r.offset.value() + 1);
          });
      if (!s.ok()) return s.with_context("reading " + file->path());
    }
    for (auto& b : scanner.take_buffers()) out.buffers_.push_back(std::move(b));
    if (full) break;
    from = seg_next;
    out.next_offset = std::max(out.next_offset, from);
    lock.lock();
  }
  return out;
}

Result<Offset> Log::offset_at_time(int64_t ts_ms) const {
  std::unique_lock lock(mu_);
  auto it =
      std::find_if(segments_.begin(), segments_.end(), [&](const std::shared_ptr<Segment>& s) {
        return s->summary.max_timestamp_ms >= ts_ms &&
               s->summary.next_offset > s->summary.base_offset;
      });
  if (it == segments_.end()) return segments_.back()->summary.next_offset;
  const Segment& seg = **it;
  const uint64_t begin = seg.summary.entries[find_entry_for_time(seg.summary, ts_ms)].position;
  const uint64_t end = seg.summary.valid_bytes;
  std::shared_ptr<File> file = seg.file;
  lock.unlock();

  internal::BatchScanner scanner(file.get(), begin, end, kScanChunkBytes, false);
  while (true) {
    auto batch = scanner.next();
    if (!batch.ok()) {
      if (batch.status().is_end_of_data()) break;
      return batch.status().with_context("reading " + file->path());
    }
    if (batch->header.max_timestamp_ms < ts_ms) continue;
    std::optional<Offset> found;
    Status s =
        for_each_record(batch->header, batch->bytes, batch->position, [&](const RecordView& r) {
          if (!found && r.arrival_ms >= ts_ms) found = r.offset;
        });
    if (!s.ok()) return s.with_context("reading " + file->path());
    if (found) return *found;
  }
  // Unreachable while the segment's max timestamp is >= ts_ms; answer conservatively.
  return seg.summary.next_offset;
}

Offset Log::start_offset() const {
  std::lock_guard lock(mu_);
  return segments_.front()->summary.base_offset;
}

Offset Log::end_offset() const {
  std::lock_guard lock(mu_);
  return segments_.back()->summary.next_offset;
}

size_t Log::segment_count() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

Status Log::health() const {
  std::lock_guard lock(mu_);
  return poisoned_;
}

Result<size_t> Log::trim_before_time(int64_t cutoff_ms) {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard lock(mu_);
    while (segments_.size() > 1 && segments_.front()->sealed &&
           segments_.front()->summary.max_timestamp_ms < cutoff_ms) {
      doomed.push_back(segments_.front());
      segments_.erase(segments_.begin());
    }
  }
  // Readers that still hold a doomed segment keep reading it through their open file.
  for (const auto& seg : doomed) {
    const Offset base = seg->summary.base_offset;
    SLUICE_RETURN_IF_ERROR(fs_->remove_file(seg->path));
    for (std::string_view ext : {".index", ".timeindex"}) {
      Status s = fs_->remove_file(path_for(base, ext));
      if (!s.ok() && !s.is_not_found() && fs_->exists(path_for(base, ext))) return s;
    }
    // One directory sync per segment, oldest first: whatever a power failure keeps of the
    // removals is then a prefix of them, never a gap in the middle of the log.
    SLUICE_RETURN_IF_ERROR(fs_->sync_dir(dir_));
    logger()->debug("log={} retention removed segment base={}", dir_, base);
  }
  return doomed.size();
}

Status Log::sync() {
  std::shared_ptr<Segment> active;
  {
    std::lock_guard lock(mu_);
    if (!poisoned_.ok()) return poisoned_;
    active = segments_.back();
  }
  Status s = active->file->sync();
  if (!s.ok()) {
    // After a failed fdatasync the kernel may have dropped the dirty pages: nothing more
    // can be promised about this log until a restart has recovered it.
    std::lock_guard lock(mu_);
    if (poisoned_.ok()) {
      poisoned_ = s;
      logger()->error("log={} refuses appends from now on: {}", dir_, s.to_string());
    }
  }
  return s;
}

Status Log::close() {
  std::shared_ptr<Segment> active;
  {
    std::unique_lock lock(mu_);
    if (closed_) return Status();
    closed_ = true;
    idle_cv_.wait(lock, [&] { return writers_.empty(); });
    if (segments_.empty() || !poisoned_.ok()) return poisoned_;  // failed open, or poisoned
    active = segments_.back();
  }
  return active->file->sync();
}

}  // namespace sluice::storage
