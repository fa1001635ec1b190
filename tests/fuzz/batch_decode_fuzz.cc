// Fuzz target: raw bytes as one batch. decode_batch_header() and for_each_record() must
// reject what is not a batch with kCorruption and never read outside the input. Because
// random bytes almost never carry a valid checksum, a copy with the checksum fixed is
// walked too: every record view must lie inside the batch, offsets must follow the header,
// and records the writer would accept must come back unchanged from BatchEncoder.

#include "base/bytes.h"
#include "base/checksum.h"
#include "storage/batch_format.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::storage {
namespace {

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

struct Owned {
  Offset offset;
  int64_t arrival_ms;
  std::string key;
  std::string hash_key;
  std::string payload;
  bool operator==(const Owned&) const = default;
};

// Walks `batch` with for_each_record and checks what it hands out.
Status walk(const BatchHeader& h, ByteView batch, std::vector<Owned>* out) {
  const std::byte* lo = batch.data();
  const std::byte* hi = batch.data() + batch.size();
  const auto inside = [&](const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    return n == 0 || (b >= lo && b + n <= hi);
  };
  SLUICE_RETURN_IF_ERROR(verify_batch(h, batch, FilePos(0)));
  return for_each_record(h, batch, FilePos(0), [&](const RecordView& r) {
    FUZZ_CHECK(inside(r.partition_key.data(), r.partition_key.size()));
    FUZZ_CHECK(inside(r.explicit_hash_key.data(), r.explicit_hash_key.size()));
    FUZZ_CHECK(inside(r.payload.data(), r.payload.size()));
    FUZZ_CHECK(r.offset == Offset(h.base_offset.value() + out->size()));
    out->push_back(Owned{r.offset, r.arrival_ms, std::string(r.partition_key),
                         std::string(r.explicit_hash_key), std::string(as_string_view(r.payload))});
  });
}

void check(ByteView in) {
  (void)decode_segment_header(in);  // the other header parser of a segment file
  auto h = decode_batch_header(in, FilePos(0));
  if (!h.ok()) {
    FUZZ_CHECK(h.status().is_corruption());
    return;
  }
  FUZZ_CHECK(h->record_count >= 1 && h->record_count <= kMaxBatchRecords);
  FUZZ_CHECK(h->batch_bytes >= kBatchHeaderSize + uint64_t{h->record_count} * kRecordHeaderSize);
  FUZZ_CHECK(h->batch_bytes <= kMaxBatchBytes);

  // As found: only a batch of exactly batch_bytes with a matching checksum may pass.
  std::vector<Owned> records;
  Status s = walk(*h, in, &records);
  if (s.ok()) {
    FUZZ_CHECK(in.size() == h->batch_bytes);
    FUZZ_CHECK(checksum(in.subspan(8)) == h->checksum);
  } else {
    FUZZ_CHECK(s.is_corruption());
  }
  if (in.size() < h->batch_bytes) return;

  // With the checksum fixed: the record walk itself meets the untrusted lengths.
  std::vector<std::byte> fixed(in.begin(), in.begin() + h->batch_bytes);
  h->checksum = checksum(ByteView(fixed).subspan(8));
  store_le64(fixed.data(), h->checksum);
  records.clear();
  s = walk(*h, fixed, &records);
  if (!s.ok()) {
    FUZZ_CHECK(s.is_corruption());
    return;
  }
  FUZZ_CHECK(records.size() == h->record_count);

  // What parses and what the writer accepts must survive a round trip through the encoder.
  std::vector<RecordIn> again;
  for (const Owned& r : records) {
    again.push_back(RecordIn{as_bytes(r.payload), r.key, r.hash_key, r.arrival_ms});
  }
  if (!validate_records(again).ok()) return;
  BatchEncoder encoder;
  encoder.add(h->base_offset, again);
  std::vector<std::byte> encoded;
  for (ByteView part : encoder.finish()) encoded.insert(encoded.end(), part.begin(), part.end());
  FUZZ_CHECK(encoded.size() == h->batch_bytes);
  auto h2 = decode_batch_header(encoded, FilePos(0));
  FUZZ_CHECK(h2.ok());
  std::vector<Owned> round_trip;
  FUZZ_CHECK(walk(*h2, encoded, &round_trip).ok());
  FUZZ_CHECK(round_trip == records);
}

}  // namespace
}  // namespace sluice::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::storage::check(sluice::ByteView(reinterpret_cast<const std::byte*>(data), size));
  return 0;
}
