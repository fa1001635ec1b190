#include "storage/internal/batch_scanner.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::storage::internal {

BatchScanner::BatchScanner(const File* file, uint64_t begin, uint64_t end, size_t chunk_bytes,
                           bool keep_buffers)
    : file_(file), pos_(begin), end_(end), chunk_bytes_(chunk_bytes), keep_buffers_(keep_buffers) {}

Result<bool> BatchScanner::ensure(size_t n) {
  if (n > end_ - pos_) return false;
  if (buf_ && pos_ >= buf_start_ && pos_ + n <= buf_start_ + buf_len_) return true;
  // Refill from pos_: a batch is read whole into one buffer, its views never span two.
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(std::max(n, chunk_bytes_), end_ - pos_));
  if (keep_buffers_ && buf_) kept_.push_back(std::move(buf_));
  if (!buf_ || buf_capacity_ < want) {
    buf_ = std::make_unique_for_overwrite<std::byte[]>(want);  // no zero-fill: pread overwrites it
    buf_capacity_ = want;
  }
  SLUICE_ASSIGN_OR_RETURN(size_t got, file_->pread(pos_, std::span(buf_.get(), want)));
  buf_start_ = pos_;
  buf_len_ = got;
  return got >= n;
}

Result<BatchScanner::Batch> BatchScanner::next() {
  if (pos_ >= end_) return Status::end_of_data();
  const FilePos at(pos_);
  SLUICE_ASSIGN_OR_RETURN(bool have_header, ensure(kBatchHeaderSize));
  if (!have_header) return Status::corruption(fmt::format("short batch header at byte {}", at));
  const std::byte* base = buf_.get() + (pos_ - buf_start_);
  SLUICE_ASSIGN_OR_RETURN(BatchHeader h, decode_batch_header(ByteView(base, kBatchHeaderSize), at));
  SLUICE_ASSIGN_OR_RETURN(bool have_batch, ensure(h.batch_bytes));
  if (!have_batch) {
    return Status::corruption(
        fmt::format("batch at byte {} reaches past the end of the segment", at));
  }
  const ByteView bytes(buf_.get() + (pos_ - buf_start_), h.batch_bytes);
  SLUICE_RETURN_IF_ERROR(verify_batch(h, bytes, at));
  pos_ += h.batch_bytes;
  return Batch{h, bytes, at};
}

std::vector<std::unique_ptr<std::byte[]>> BatchScanner::take_buffers() {
  if (buf_) kept_.push_back(std::move(buf_));
  buf_len_ = 0;
  buf_capacity_ = 0;
  return std::move(kept_);
}

}  // namespace sluice::storage::internal
