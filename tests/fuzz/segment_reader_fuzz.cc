// Fuzz target: the input is the whole of a log's only segment file. Log::open (with and
// without --repair) must fail with a Status or succeed; never crash, hang or trip a
// sanitizer. When it succeeds, the log must hold exactly the records of the longest run of
// whole, checksum-valid batches with consecutive offsets from the start of the file
// (computed here independently), serve all of them without error, answer offset_at_time
// like a brute-force search, and a second open must find the same end (recovery is
// idempotent).
//
// Random bytes almost never carry a valid XXH3 checksum, so every input is also tried once
// more with its segment header, batch offsets, timestamps and checksums made consistent:
// that reaches the record walk and the read path, not only header checks.

#include "base/bytes.h"
#include "base/checksum.h"
#include "base/log.h"
#include "storage/batch_format.h"
#include "storage/log.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice::storage {
namespace {

constexpr char kDir[] = "/log";
constexpr char kSegment[] = "/log/00000000000000000000.log";

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

struct Expected {
  struct Record {
    int64_t arrival_ms;
    std::string key;
    std::string hash_key;
    std::string payload;
  };
  std::vector<Record> records;   // offsets 0, 1, ...
  bool malformed_batch = false;  // a checksum-valid batch whose records do not parse
};

// What recovery must keep of `bytes`: the batches from byte 32 on, while each is whole,
// checksum-valid, continues the offsets and agrees with its records. Uses only the batch
// codec, not the Log.
Expected expected_records(std::string_view file) {
  Expected e;
  const ByteView bytes = as_bytes(file);
  auto header = decode_segment_header(bytes);
  if (!header.ok() || header->base_offset != Offset(0)) return e;
  size_t pos = kSegmentHeaderSize;
  uint64_t next = 0;
  while (pos < bytes.size()) {
    auto h = decode_batch_header(bytes.subspan(pos), FilePos(pos));
    if (!h.ok() || h->batch_bytes > bytes.size() - pos || h->base_offset != Offset(next)) break;
    const ByteView batch = bytes.subspan(pos, h->batch_bytes);
    if (!verify_batch(*h, batch, FilePos(pos)).ok()) break;
    std::vector<Expected::Record> records;
    const Status s = for_each_record(*h, batch, FilePos(pos), [&](const RecordView& r) {
      records.push_back({r.arrival_ms, std::string(r.partition_key),
                         std::string(r.explicit_hash_key), std::string(as_string_view(r.payload))});
    });
    if (!s.ok()) {
      e.malformed_batch = true;
      break;
    }
    // Recovery also wants the records to agree with their header (timestamps, key sizes:
    // docs/formats/segment.md, recovery step 3); a batch that does not ends what it keeps.
    if (!check_batch_records(*h, batch, FilePos(pos)).ok()) break;
    for (auto& r : records) e.records.push_back(std::move(r));
    next += h->record_count;
    pos += h->batch_bytes;
  }
  return e;
}

// A copy of `file` with a valid segment header for base 0 and, batch by batch while the
// headers decode and fit, consecutive offsets, timestamps matching the records and correct
// checksums.
std::string make_consistent(std::string file) {
  if (file.size() < kSegmentHeaderSize) return file;
  auto* p = reinterpret_cast<std::byte*>(file.data());
  encode_segment_header(SegmentHeader{kSegmentFormatVersion, Offset(0)}, p);
  size_t pos = kSegmentHeaderSize;
  uint64_t next = 0;
  while (pos < file.size()) {
    std::byte* b = p + pos;
    const ByteView rest(b, file.size() - pos);
    auto h = decode_batch_header(rest, FilePos(pos));
    if (!h.ok() || h->batch_bytes > rest.size()) break;
    store_le64(b + 16, next);
    // Timestamps from the records, when they parse (checked under a valid checksum).
    store_le64(b, checksum(ByteView(b + 8, h->batch_bytes - 8)));
    h->checksum = load_le64(b);
    int64_t first = 0;
    int64_t max = 0;
    bool any = false;
    const Status s =
        for_each_record(*h, ByteView(b, h->batch_bytes), FilePos(pos), [&](const RecordView& r) {
          if (!any) first = max = r.arrival_ms;
          max = std::max(max, r.arrival_ms);
          any = true;
        });
    if (s.ok() && any) {
      store_le64(b + 32, static_cast<uint64_t>(first));
      store_le64(b + 40, static_cast<uint64_t>(max));
    }
    store_le64(b, checksum(ByteView(b + 8, h->batch_bytes - 8)));
    next += h->record_count;
    pos += h->batch_bytes;
  }
  return file;
}

Result<std::unique_ptr<Log>> open_log(MemFileSystem* fs, const ManualClock* clock, bool repair) {
  LogOptions options;
  options.repair = repair;
  options.index_interval_bytes = 128;  // many index entries, so lookups use them
  options.segment_max_bytes = 1 << 20;
  return Log::open(fs, kDir, options, clock);
}

void check_log(const Log& log, const Expected& e) {
  FUZZ_CHECK(log.start_offset() == Offset(0));
  const uint64_t end = log.end_offset().value();
  if (e.malformed_batch) {
    // Recovery checks checksums, not record layout: it may keep a checksum-valid batch
    // whose records do not parse. Reading it must then fail as corruption, never crash.
    FUZZ_CHECK(end >= e.records.size());
  } else {
    FUZZ_CHECK(end == e.records.size());
  }
  uint64_t from = 0;
  while (from < end) {
    auto r = log.read(Offset(from), ReadLimits{7, 300});
    if (!r.ok()) {
      FUZZ_CHECK(e.malformed_batch && r.status().is_corruption());
      return;
    }
    FUZZ_CHECK(!r->records.empty());
    for (const RecordView& v : r->records) {
      FUZZ_CHECK(v.offset == Offset(from));
      FUZZ_CHECK(from < e.records.size());
      const Expected::Record& want = e.records[from];
      FUZZ_CHECK(v.arrival_ms == want.arrival_ms);
      FUZZ_CHECK(v.partition_key == want.key);
      FUZZ_CHECK(v.explicit_hash_key == want.hash_key);
      FUZZ_CHECK(as_string_view(v.payload) == want.payload);
      ++from;
    }
    FUZZ_CHECK(r->next_offset == Offset(from));
  }
  if (e.malformed_batch) return;
  // offset_at_time: the first record at or after ts, else the end.
  std::vector<int64_t> probes = {INT64_MIN, INT64_MAX, 0};
  for (size_t i = 0; i < e.records.size() && probes.size() < 12; i += 1 + e.records.size() / 8) {
    probes.push_back(e.records[i].arrival_ms);
    if (e.records[i].arrival_ms != INT64_MAX) probes.push_back(e.records[i].arrival_ms + 1);
  }
  for (int64_t ts : probes) {
    uint64_t want = end;
    for (uint64_t o = 0; o < e.records.size(); ++o) {
      if (e.records[o].arrival_ms >= ts) {
        want = o;
        break;
      }
    }
    auto got = log.offset_at_time(ts);
    FUZZ_CHECK(got.ok());
    FUZZ_CHECK(got->value() == want);
  }
}

void check_segment(std::string_view file) {
  const Expected e = expected_records(file);
  for (const bool repair : {false, true}) {
    MemFileSystem fs;
    ManualClock clock;
    fs.set_contents(kSegment, file);
    auto log = open_log(&fs, &clock, repair);
    if (!log.ok()) {
      FUZZ_CHECK(!log.status().ok());
      continue;
    }
    check_log(**log, e);
    const uint64_t end = (*log)->end_offset().value();
    FUZZ_CHECK((*log)->close().ok());
    log->reset();
    // Recovery is idempotent, and what --repair leaves opens without it.
    auto again = open_log(&fs, &clock, /*repair=*/false);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK((*again)->end_offset().value() == end);
    check_log(**again, e);
  }
}

}  // namespace
}  // namespace sluice::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = sluice::logging::init("off").ok();
  (void)quiet;
  const std::string file(reinterpret_cast<const char*>(data), size);
  sluice::storage::check_segment(file);
  const std::string consistent = sluice::storage::make_consistent(file);
  if (consistent != file) sluice::storage::check_segment(consistent);
  return 0;
}
