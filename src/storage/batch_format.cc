#include "storage/batch_format.h"

#include "base/checksum.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace sluice::storage {

std::string_view fsync_policy_name(FsyncPolicy p) {
  switch (p) {
    case FsyncPolicy::kAlways:
      return "always";
    case FsyncPolicy::kGroup:
      return "group";
    case FsyncPolicy::kNever:
      return "never";
  }
  return "?";
}

std::optional<FsyncPolicy> parse_fsync_policy(std::string_view name) {
  if (name == "always") return FsyncPolicy::kAlways;
  if (name == "group") return FsyncPolicy::kGroup;
  if (name == "never") return FsyncPolicy::kNever;
  return std::nullopt;
}

void encode_segment_header(const SegmentHeader& h, std::byte out[kSegmentHeaderSize]) {
  std::memcpy(out, kSegmentMagic, 8);
  store_le32(out + 8, h.version);
  store_le32(out + 12, static_cast<uint32_t>(kSegmentHeaderSize));
  store_le64(out + 16, h.base_offset.value());
  store_le64(out + 24, checksum(ByteView(out, 24)));
}

Result<SegmentHeader> decode_segment_header(ByteView in) {
  if (in.size() < kSegmentHeaderSize) return Status::corruption("short segment header");
  if (std::memcmp(in.data(), kSegmentMagic, 8) != 0) {
    return Status::corruption("not a sluice segment (bad magic)");
  }
  if (load_le64(in.data() + 24) != checksum(in.first(24))) {
    return Status::corruption("segment header checksum mismatch");
  }
  SegmentHeader h;
  h.version = load_le32(in.data() + 8);
  if (h.version != kSegmentFormatVersion || load_le32(in.data() + 12) != kSegmentHeaderSize) {
    return Status::corruption(fmt::format("segment format version {} (this sluice reads {})",
                                          h.version, kSegmentFormatVersion));
  }
  h.base_offset = Offset(load_le64(in.data() + 16));
  return h;
}

std::optional<BatchHeader> parse_batch_header(ByteView in) {
  if (in.size() < kBatchHeaderSize) return std::nullopt;
  const std::byte* p = in.data();
  BatchHeader h;
  h.checksum = load_le64(p);
  h.batch_bytes = load_le32(p + 8);
  h.version = load_le16(p + 12);
  h.flags = load_le16(p + 14);
  h.base_offset = Offset(load_le64(p + 16));
  h.record_count = load_le32(p + 24);
  h.first_timestamp_ms = static_cast<int64_t>(load_le64(p + 32));
  h.max_timestamp_ms = static_cast<int64_t>(load_le64(p + 40));
  const uint64_t min_bytes = kBatchHeaderSize + uint64_t{h.record_count} * kRecordHeaderSize;
  if (h.version != kBatchFormatVersion || h.flags != 0 || h.record_count == 0 ||
      h.record_count > kMaxBatchRecords || h.batch_bytes > kMaxBatchBytes ||
      h.batch_bytes < min_bytes || load_le32(p + 28) != 0 ||
      h.first_timestamp_ms > h.max_timestamp_ms) {
    return std::nullopt;
  }
  return h;
}

Result<BatchHeader> decode_batch_header(ByteView in, FilePos at) {
  if (in.size() < kBatchHeaderSize) {
    return Status::corruption(fmt::format("short batch header at byte {}", at));
  }
  auto h = parse_batch_header(in);
  if (!h) return Status::corruption(fmt::format("impossible batch header at byte {}", at));
  return *h;
}

Status check_batch_records(const BatchHeader& header, ByteView in, FilePos at) {
  int64_t max_ts = kMinTimestamp;
  bool first = true;
  bool bad = false;
  SLUICE_RETURN_IF_ERROR(for_each_record(header, in, at, [&](const RecordView& r) {
    if (first && r.arrival_ms != header.first_timestamp_ms) bad = true;
    first = false;
    max_ts = std::max(max_ts, r.arrival_ms);
    if (r.partition_key.size() > kMaxPartitionKeyBytes ||
        r.explicit_hash_key.size() > kMaxExplicitHashKeyBytes) {
      bad = true;
    }
  }));
  if (bad || max_ts != header.max_timestamp_ms) {
    return Status::corruption(fmt::format("batch at byte {} disagrees with its own header", at));
  }
  return Status();
}

Status verify_batch(const BatchHeader& header, ByteView in, FilePos at) {
  if (in.size() != header.batch_bytes || checksum(in.subspan(8)) != header.checksum) {
    return Status::corruption(fmt::format("batch checksum mismatch at byte {}", at));
  }
  return Status();
}

Status record_overrun(FilePos at) {
  return Status::corruption(fmt::format("record overruns its batch at byte {}", at));
}

size_t encoded_batch_bytes(std::span<const RecordIn> records) {
  size_t bytes = kBatchHeaderSize;
  for (const RecordIn& r : records) {
    bytes +=
        kRecordHeaderSize + r.partition_key.size() + r.explicit_hash_key.size() + r.payload.size();
  }
  return bytes;
}

Status validate_records(std::span<const RecordIn> records) {
  if (records.empty()) return Status::invalid_argument("an append needs at least one record");
  if (records.size() > kMaxBatchRecords) {
    return Status::invalid_argument(
        fmt::format("more than {} records in one append", kMaxBatchRecords));
  }
  for (const RecordIn& r : records) {
    if (r.payload.size() > kMaxPayloadBytes) {
      return Status::invalid_argument(
          fmt::format("record payload of {} bytes exceeds {}", r.payload.size(), kMaxPayloadBytes));
    }
    if (r.partition_key.size() > kMaxPartitionKeyBytes) {
      return Status::invalid_argument("partition key too long");
    }
    if (r.explicit_hash_key.size() > kMaxExplicitHashKeyBytes) {
      return Status::invalid_argument("explicit hash key too long");
    }
  }
  if (encoded_batch_bytes(records) > kMaxBatchBytes) {
    return Status::invalid_argument(fmt::format("append exceeds {} bytes", kMaxBatchBytes));
  }
  return Status();
}

void BatchEncoder::clear() {
  meta_.clear();
  pieces_.clear();
  batches_.clear();
  headers_.clear();
  parts_.clear();
  bytes_ = 0;
}

void BatchEncoder::add(Offset base_offset, std::span<const RecordIn> records) {
  BatchParts batch{meta_.size(), pieces_.size(), 0};
  meta_.resize(meta_.size() + kBatchHeaderSize);
  Piece piece{batch.meta_begin, meta_.size(), {}};
  int64_t max_ts = records.front().arrival_ms;
  size_t total = kBatchHeaderSize;
  for (const RecordIn& r : records) {
    const size_t at = meta_.size();
    const size_t keys = r.partition_key.size() + r.explicit_hash_key.size();
    meta_.resize(at + kRecordHeaderSize + keys);
    std::byte* p = meta_.data() + at;
    store_le32(p, static_cast<uint32_t>(r.payload.size()));
    store_le16(p + 4, static_cast<uint16_t>(r.partition_key.size()));
    p[6] = std::byte(r.explicit_hash_key.size());
    p[7] = std::byte{0};
    store_le64(p + 8, static_cast<uint64_t>(r.arrival_ms));
    std::memcpy(p + kRecordHeaderSize, r.partition_key.data(), r.partition_key.size());
    std::memcpy(p + kRecordHeaderSize + r.partition_key.size(), r.explicit_hash_key.data(),
                r.explicit_hash_key.size());
    piece.meta_end = meta_.size();
    if (!r.payload.empty()) {
      // Close the meta piece, reference the payload, open the next meta piece.
      pieces_.push_back(piece);
      pieces_.push_back(Piece{0, 0, r.payload});
      piece = Piece{meta_.size(), meta_.size(), {}};
    }
    max_ts = std::max(max_ts, r.arrival_ms);
    total += kRecordHeaderSize + keys + r.payload.size();
  }
  if (piece.meta_end > piece.meta_begin) pieces_.push_back(piece);
  batch.piece_count = pieces_.size() - batch.first_piece;
  batches_.push_back(batch);

  BatchHeader h;
  h.batch_bytes = static_cast<uint32_t>(total);
  h.base_offset = base_offset;
  h.record_count = static_cast<uint32_t>(records.size());
  h.first_timestamp_ms = records.front().arrival_ms;
  h.max_timestamp_ms = max_ts;
  std::byte* p = meta_.data() + batch.meta_begin;
  store_le32(p + 8, h.batch_bytes);
  store_le16(p + 12, h.version);
  store_le16(p + 14, h.flags);
  store_le64(p + 16, base_offset.value());
  store_le32(p + 24, h.record_count);
  store_le32(p + 28, 0);
  store_le64(p + 32, static_cast<uint64_t>(h.first_timestamp_ms));
  store_le64(p + 40, static_cast<uint64_t>(max_ts));
  headers_.push_back(h);
  bytes_ += total;
}

std::span<const ByteView> BatchEncoder::finish() {
  // meta_ no longer moves: turn pieces into views, then checksum each batch's own views.
  parts_.clear();
  for (const Piece& piece : pieces_) {
    if (piece.payload.empty()) {
      parts_.emplace_back(meta_.data() + piece.meta_begin, piece.meta_end - piece.meta_begin);
    } else {
      parts_.push_back(piece.payload);
    }
  }
  for (size_t b = 0; b < batches_.size(); ++b) {
    const BatchParts& batch = batches_[b];
    std::span<ByteView> own(parts_.data() + batch.first_piece, batch.piece_count);
    // The checksum covers everything after its own 8 bytes.
    const ByteView first = own[0];
    own[0] = first.subspan(8);
    const uint64_t sum = checksum(std::span<const ByteView>(own.data(), own.size()));
    own[0] = first;
    store_le64(meta_.data() + batch.meta_begin, sum);
    headers_[b].checksum = sum;
  }
  return parts_;
}

}  // namespace sluice::storage
