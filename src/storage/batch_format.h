#pragma once

#include "base/bytes.h"
#include "base/result.h"
#include "storage/types.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

// The bytes of a segment file: a file header, then batches of records. Every field, the
// checksum coverage and a worked example: docs/formats/segment.md. Little-endian throughout.
namespace sluice::storage {

inline constexpr char kSegmentMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'S', 'G'};
inline constexpr uint32_t kSegmentFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 32;

inline constexpr uint16_t kBatchFormatVersion = 1;
inline constexpr size_t kBatchHeaderSize = 48;
inline constexpr size_t kRecordHeaderSize = 16;
// One append becomes one batch; nothing larger is ever written or accepted when read.
inline constexpr size_t kMaxBatchBytes = 64 * 1024 * 1024;
inline constexpr uint32_t kMaxBatchRecords = 1'000'000;
inline constexpr int64_t kMinTimestamp = std::numeric_limits<int64_t>::min();

struct SegmentHeader {
  uint32_t version = kSegmentFormatVersion;
  Offset base_offset;
};

void encode_segment_header(const SegmentHeader& h, std::byte out[kSegmentHeaderSize]);
// kCorruption when the magic, version or checksum is wrong.
Result<SegmentHeader> decode_segment_header(ByteView in);

struct BatchHeader {
  uint64_t checksum = 0;     // XXH3-64 of every byte of the batch after this field
  uint32_t batch_bytes = 0;  // whole batch, this header included
  uint16_t version = kBatchFormatVersion;
  uint16_t flags = 0;
  Offset base_offset;  // offset of the first record; the others follow one by one
  uint32_t record_count = 0;
  int64_t first_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;

  Offset next_offset() const { return Offset(base_offset.value() + record_count); }
};

// Decodes and sanity-checks a batch header (not the checksum: that needs the whole batch).
// kCorruption naming `at` when the bytes cannot be a batch header.
Result<BatchHeader> decode_batch_header(ByteView in, FilePos at);
// The same check without building an error: for scans that try many positions.
std::optional<BatchHeader> parse_batch_header(ByteView in);

// Everything recovery checks beyond the checksum: the records exactly fill the batch, keep
// to the writer's key limits, and agree with the header's timestamps. A checksum-valid batch
// that fails this was not written by Sluice. REQUIRES: verify_batch() passed.
Status check_batch_records(const BatchHeader& header, ByteView in, FilePos at);

// Walks the records of a whole batch `in` (exactly header.batch_bytes long), calling
// fn(const RecordView&) for each; the views point into `in`. kCorruption naming `at` for a
// record that overruns the batch or records that do not fill it. Memory-safe on any bytes,
// but only meaningful after verify_batch() (BatchScanner::next() does that), which is not
// repeated here: the read path would otherwise checksum every batch twice.
template <typename Fn>
Status for_each_record(const BatchHeader& header, ByteView in, FilePos at, Fn&& fn);

// Verifies the checksum of a whole batch.
Status verify_batch(const BatchHeader& header, ByteView in, FilePos at);

// Builds one write of one or more batches without copying payloads: batch headers, record
// headers, keys and hash keys are encoded into a reused buffer; payloads are referenced
// where the caller keeps them. Not thread-safe; owned by the log's single writer.
class BatchEncoder {
 public:
  void clear();
  // Adds `records` as one batch at `base_offset`; its checksum is filled by finish().
  // REQUIRES: validate_records(records).ok(); records stay valid until the write is done.
  void add(Offset base_offset, std::span<const RecordIn> records);
  // Computes the checksums and returns every part of the write, in order. The parts stay
  // valid until the next clear() or add(), and while the records' memory lives.
  std::span<const ByteView> finish();
  // Headers of the batches added since clear(), checksums filled after finish().
  std::span<const BatchHeader> headers() const { return headers_; }
  size_t bytes() const { return bytes_; }

 private:
  struct BatchParts {
    size_t meta_begin;   // batch header position in meta_
    size_t first_piece;  // index into pieces_
    size_t piece_count;
  };
  // A piece of the write: bytes of meta_ (`payload` empty) or a borrowed payload.
  struct Piece {
    size_t meta_begin = 0;
    size_t meta_end = 0;
    ByteView payload;
  };
  std::vector<std::byte> meta_;
  std::vector<Piece> pieces_;
  std::vector<BatchParts> batches_;
  std::vector<BatchHeader> headers_;
  std::vector<ByteView> parts_;
  size_t bytes_ = 0;
};

// kInvalidArgument when a record or the batch as a whole breaks a limit.
Status validate_records(std::span<const RecordIn> records);

// Encoded size of a batch holding `records`.
size_t encoded_batch_bytes(std::span<const RecordIn> records);

// ---- implementation of the template ----
Status record_overrun(FilePos at);

template <typename Fn>
Status for_each_record(const BatchHeader& header, ByteView in, FilePos at, Fn&& fn) {
  if (in.size() < kBatchHeaderSize) return record_overrun(at);
  size_t pos = kBatchHeaderSize;
  for (uint32_t i = 0; i < header.record_count; ++i) {
    if (in.size() - pos < kRecordHeaderSize) return record_overrun(at);
    const std::byte* p = in.data() + pos;
    const uint32_t payload_len = load_le32(p);
    const uint16_t key_len = load_le16(p + 4);
    const uint8_t hash_key_len = static_cast<uint8_t>(p[6]);
    const int64_t arrival = static_cast<int64_t>(load_le64(p + 8));
    const size_t need = size_t{key_len} + hash_key_len + payload_len;
    pos += kRecordHeaderSize;
    if (in.size() - pos < need) return record_overrun(at);
    const char* chars = reinterpret_cast<const char*>(in.data() + pos);
    RecordView view;
    view.offset = Offset(header.base_offset.value() + i);
    view.arrival_ms = arrival;
    view.partition_key = std::string_view(chars, key_len);
    view.explicit_hash_key = std::string_view(chars + key_len, hash_key_len);
    view.payload = in.subspan(pos + key_len + hash_key_len, payload_len);
    pos += need;
    fn(view);
  }
  if (pos != in.size()) return record_overrun(at);
  return Status();
}

}  // namespace sluice::storage
