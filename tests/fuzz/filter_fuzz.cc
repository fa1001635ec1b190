// Fuzz target: esm::FilterSet, the compiler of FilterCriteria patterns (control plane input)
// and its matcher over record data (stream input). The input is
//   the pattern, up to the first NUL byte;
//   then:  the record's data (any bytes).
// Nothing may crash, and what is accepted must keep its contract: validate() agrees with
// compile(), matching is deterministic, and a set that repeats a pattern decides like the
// pattern alone.

#include "esm/filter.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::esm {
namespace {

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

void run(std::string_view input) {
  const size_t nul = input.find('\0');
  const std::string pattern(input.substr(0, nul));
  const std::string_view data =
      nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  const std::vector<std::string> one = {pattern};
  auto set = FilterSet::compile(one);
  FUZZ_CHECK(set.ok() == FilterSet::validate(pattern).ok());
  if (!set.ok()) return;
  FUZZ_CHECK(!set->empty());

  FilterRecord record;
  record.partition_key = "pk";
  record.sequence_number = "49650000000000000000000000000000000000000000000000000000";
  record.arrival_ms = 1767225600125;
  record.data = as_bytes(data);
  const bool first = set->matches(record);
  FUZZ_CHECK(set->matches(record) == first);

  const std::vector<std::string> twice = {pattern, pattern};
  auto doubled = FilterSet::compile(twice);
  FUZZ_CHECK(doubled.ok());
  FUZZ_CHECK(doubled->matches(record) == first);
}

}  // namespace
}  // namespace sluice::esm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::esm::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
