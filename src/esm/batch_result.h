#pragma once

#include "function/invoker.h"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::esm {

// What one invocation of a batch amounted to (spec 6.1, 6.4, 8.1).
struct BatchResult {
  enum class Kind {
    kSuccess,          // every record is done
    kPartial,          // records before `first_failed` are done; the rest failed
    kFunctionError,    // counts as an attempt; bisect applies (also: invalid partial response)
    kInvocationError,  // nothing ran (throttled, function missing): no attempt consumed
  };
  Kind kind = Kind::kSuccess;
  size_t first_failed = 0;  // kPartial: index into the batch, >= 0 and < batch size
  // kFunctionError: the failure notice's responseContext.functionError: "Unhandled" for
  // errors and timeouts, nullopt when the function returned an invalid partial response.
  std::optional<std::string> function_error;
};

// Classifies `outcome` of invoking a batch whose records have `sequence_numbers` (in batch
// order). With `report_batch_item_failures` the function's result is parsed per the table of
// spec 6.4 (the lowest listed sequence number wins); without it the result is ignored.
BatchResult classify(const function::InvokeOutcome& outcome, bool report_batch_item_failures,
                     std::span<const std::string_view> sequence_numbers);

}  // namespace sluice::esm
