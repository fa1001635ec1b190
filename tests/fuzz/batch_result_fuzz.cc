// Fuzz target: esm::classify(), the reader of what a function returns to a Kinesis event
// source mapping (partial batch responses, spec 6.4), and esm::decide() on its result. The
// input is
//   byte 0:  bit 0 ReportBatchItemFailures; bits 1-2 the InvokeOutcome kind;
//   then:    the batch's sequence numbers separated by ',', up to the first NUL byte;
//   then:    the function's result payload (any bytes).
// Nothing may crash, and the classification must keep its contract: a partial result names
// a record of the batch that the payload listed, function errors only come from the
// function or an invalid response, and decide() accepts every result it is given.

#include "esm/batch_result.h"
#include "esm/failure_policy.h"

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

using OutcomeKind = function::InvokeOutcome::Kind;

void run(std::string_view input) {
  const auto flags = static_cast<uint8_t>(input.front());
  input.remove_prefix(1);
  const bool report = (flags & 1) != 0;
  const OutcomeKind kinds[] = {OutcomeKind::kOk, OutcomeKind::kFunctionError,
                               OutcomeKind::kTimedOut, OutcomeKind::kUnavailable};
  const OutcomeKind kind = kinds[(flags >> 1) & 3];

  const size_t nul = input.find('\0');
  const std::string_view list = nul == std::string_view::npos ? input : input.substr(0, nul);
  function::InvokeOutcome outcome;
  outcome.kind = kind;
  if (nul != std::string_view::npos) outcome.payload = std::string(input.substr(nul + 1));

  std::vector<std::string_view> seqs;
  for (size_t start = 0; start <= list.size();) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    seqs.push_back(list.substr(start, end - start));
    start = end + 1;
  }

  const BatchResult r = classify(outcome, report, seqs);
  switch (r.kind) {
    case BatchResult::Kind::kSuccess:
      FUZZ_CHECK(kind == OutcomeKind::kOk);
      FUZZ_CHECK(!r.function_error);
      break;
    case BatchResult::Kind::kPartial:
      FUZZ_CHECK(kind == OutcomeKind::kOk && report);
      FUZZ_CHECK(r.first_failed < seqs.size());
      FUZZ_CHECK(!seqs[r.first_failed].empty());
      FUZZ_CHECK(outcome.payload.find(seqs[r.first_failed]) != std::string::npos);
      FUZZ_CHECK(!r.function_error);
      break;
    case BatchResult::Kind::kFunctionError:
      if (kind == OutcomeKind::kOk) {
        FUZZ_CHECK(report && !r.function_error);  // an invalid partial response
      } else {
        FUZZ_CHECK(kind == OutcomeKind::kFunctionError || kind == OutcomeKind::kTimedOut);
        FUZZ_CHECK(r.function_error && *r.function_error == "Unhandled");
      }
      break;
    case BatchResult::Kind::kInvocationError:
      FUZZ_CHECK(kind == OutcomeKind::kUnavailable);
      break;
  }
  if (kind == OutcomeKind::kOk && !report) FUZZ_CHECK(r.kind == BatchResult::Kind::kSuccess);

  // The reader feeds every classification to decide(); none may break its preconditions.
  const Decision d = decide(r, seqs.size(), static_cast<int32_t>(flags >> 3),
                            FailurePolicy{(flags & 0x40) != 0, (flags & 0x80) != 0 ? -1 : 2});
  if (d.kind == Decision::Kind::kAdvance || d.kind == Decision::Kind::kSplit) {
    FUZZ_CHECK(d.count > 0 && d.count < seqs.size());
  }
}

}  // namespace
}  // namespace sluice::esm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  sluice::esm::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
