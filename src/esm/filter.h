#pragma once

#include "base/bytes.h"
#include "base/result.h"
#include "base/status.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace sluice::esm {

// One record as filter criteria see it (spec 11.2): the kinesis metadata plus the data.
// The views are borrowed for the duration of one FilterSet::matches() call.
struct FilterRecord {
  std::string_view partition_key;
  std::string_view sequence_number;
  int64_t arrival_ms = 0;
  ByteView data;  // the raw record bytes, not base64
};

// The compiled FilterCriteria of one mapping (spec 11). Created by compile() when a mapping is
// created, updated or loaded; immutable afterwards, so any thread may call matches() on it
// concurrently. Copies share the compiled patterns.
//
// A record passes when it matches any pattern; a set without patterns passes every record.
// Each record is matched against the document
//   {"kinesisSchemaVersion":"1.0","partitionKey":...,"sequenceNumber":...,
//    "approximateArrivalTimestamp":<seconds with 3 decimals>,"data":<the data parsed as JSON>}
// and the data is only parsed when some pattern names `data` at its top level. When the data
// is not JSON (or nests deeper than kMaxDepth) every pattern that names `data` fails for it,
// while a pattern on metadata keys alone is still evaluated.
//
// Pattern semantics (EventBridge style, spec 11.3, including where Sluice had to choose because
// AWS documents nothing; wildcard, cidr and anything-but's suffix and equals-ignore-case are
// accepted too):
//  - all keys of a pattern object must match; a leaf is an array of rules, any of which may
//    match; `$or` (an array of at least two objects) adds "and any of these" at its level;
//  - a document array matches when any element matches (nested arrays are flattened); a
//    nested pattern object is matched against each object found under its key;
//  - literals compare strings exactly after unescaping, numbers by their JSON text (300 is
//    not 300.0), true/false/null by type; `numeric` compares values;
//  - `exists: true` holds when the key has at least one scalar value, `exists: false` when it
//    has none (absent, an object, an empty array);
//  - when a key repeats in a pattern object, the last occurrence wins.
class FilterSet {
 public:
  // Patterns longer than this are invalid (spec 11.1).
  static constexpr size_t kMaxPatternChars = 4096;
  // Documents and patterns nested deeper than this are not read.
  static constexpr int kMaxDepth = 256;

  // No patterns: matches() accepts everything.
  FilterSet() = default;

  // Compiles the patterns of FilterCriteria.Filters[].Pattern. Any pattern that is not a JSON
  // object, is empty, has a leaf that is not an array of rules, an unknown or malformed
  // operator, a bad numeric range, or more than kMaxPatternChars characters fails the whole
  // set with kInvalidArgument "Invalid filter pattern definition.".
  static Result<FilterSet> compile(std::span<const std::string> patterns);
  // compile() of one pattern, for validation only.
  static Status validate(std::string_view pattern);

  bool empty() const { return compiled_ == nullptr; }

  // Whether `record` passes. Never throws; allocates nothing per call once this thread's
  // reusable parser and buffers have grown to the largest record seen.
  bool matches(const FilterRecord& record) const;

  struct Compiled;  // defined in filter.cc

 private:
  explicit FilterSet(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}

  std::shared_ptr<const Compiled> compiled_;  // null when there are no patterns
};

}  // namespace sluice::esm
