#pragma once

#include "base/bytes.h"
#include "storage/types.h"

#include <string>
#include <vector>

namespace sluice::storage::testing {

// Records that own their bytes, for building RecordIn spans in tests.
struct OwnedRecord {
  std::string payload;
  std::string partition_key;
  std::string explicit_hash_key;
  int64_t arrival_ms = 0;
};

inline std::vector<RecordIn> as_records(const std::vector<OwnedRecord>& owned) {
  std::vector<RecordIn> out;
  for (const OwnedRecord& r : owned) {
    out.push_back(
        RecordIn{as_bytes(r.payload), r.partition_key, r.explicit_hash_key, r.arrival_ms});
  }
  return out;
}

inline std::vector<OwnedRecord> make_records(int n, int64_t ts, const std::string& tag,
                                             size_t size = 10) {
  std::vector<OwnedRecord> out;
  for (int i = 0; i < n; ++i) {
    std::string payload = tag + "-" + std::to_string(i);
    payload.resize(std::max(payload.size(), size), '.');
    out.push_back(OwnedRecord{payload, "pk-" + std::to_string(i), "", ts + i});
  }
  return out;
}

}  // namespace sluice::storage::testing
