#pragma once

#include "base/file.h"
#include "base/result.h"
#include "storage/batch_format.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace sluice::storage::internal {

// Walks the batches of one segment file between two positions, reading large chunks so that
// a scan costs few syscalls. Views it hands out point into its chunk buffers: with
// keep_buffers a buffer is never reused (the caller collects them with take_buffers() and
// the views stay valid as long as it keeps them); otherwise a view lives until next().
// Not thread-safe. The file is borrowed.
class BatchScanner {
 public:
  struct Batch {
    BatchHeader header;
    ByteView bytes;  // the whole batch, header included
    FilePos position;
  };

  BatchScanner(const File* file, uint64_t begin, uint64_t end, size_t chunk_bytes,
               bool keep_buffers);

  // The next whole, checksum-verified batch. kEndOfData at `end`; kCorruption naming the
  // position for bytes that are not a valid batch (a batch reaching past `end` included).
  // After a failure position() stays at the bad batch.
  Result<Batch> next();
  uint64_t position() const { return pos_; }
  std::vector<std::unique_ptr<std::byte[]>> take_buffers();

 private:
  // Makes [pos_, pos_ + n) resident; false when that reaches past end_.
  Result<bool> ensure(size_t n);

  const File* const file_;
  uint64_t pos_;
  const uint64_t end_;
  const size_t chunk_bytes_;
  const bool keep_buffers_;
  std::unique_ptr<std::byte[]> buf_;
  size_t buf_capacity_ = 0;
  uint64_t buf_start_ = 0;  // file position of buf_[0]
  size_t buf_len_ = 0;
  std::vector<std::unique_ptr<std::byte[]>> kept_;
};

}  // namespace sluice::storage::internal
