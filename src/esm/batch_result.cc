#include "esm/batch_result.h"

#include <simdjson.h>
#include <unordered_map>

namespace sluice::esm {

namespace {

using Kind = BatchResult::Kind;

BatchResult success() { return BatchResult{Kind::kSuccess, 0, std::nullopt}; }

// An invalid partial response: handled as a function error, but the function itself did not
// fail, so the failure notice reports functionError null (spec 6.4).
BatchResult invalid_response() { return BatchResult{Kind::kFunctionError, 0, std::nullopt}; }

// Sequence numbers are decimal strings: numeric order is length first, then text (spec 0).
bool numerically_less(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

// The table of spec 6.4 over the result the function returned without a function error.
BatchResult classify_response(std::string_view payload,
                              std::span<const std::string_view> sequence_numbers) {
  // Whatever is not JSON (including an empty body: the handler returned nothing) cannot be a
  // partial response. The function did return normally, so this is a success, as for any
  // other value without a batchItemFailures member. The same holds for JSON simdjson refuses
  // to read (nested deeper than its limit): it is no partial response we can act on.
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(payload.data(), payload.size()).get(root) != simdjson::SUCCESS) {
    return success();
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return success();  // "", [], 7, null
  simdjson::dom::element failures;
  if (obj["batchItemFailures"].get(failures) != simdjson::SUCCESS || failures.is_null()) {
    return success();  // {} or {"batchItemFailures": null}
  }
  simdjson::dom::array items;
  if (failures.get_array().get(items) != simdjson::SUCCESS) return invalid_response();
  if (items.size() == 0) return success();

  // Identifiers are matched as exact strings; an index by text keeps a long list of items
  // from costing (items x records).
  std::unordered_map<std::string_view, size_t> index;
  index.reserve(sequence_numbers.size());
  for (size_t i = 0; i < sequence_numbers.size(); ++i) index.emplace(sequence_numbers[i], i);

  std::string_view lowest;
  size_t lowest_index = 0;
  for (simdjson::dom::element item : items) {
    simdjson::dom::object item_obj;
    if (item.get_object().get(item_obj) != simdjson::SUCCESS) return invalid_response();
    std::string_view id;
    // Missing, null, a number, an empty string: all make the whole response invalid.
    if (item_obj["itemIdentifier"].get_string().get(id) != simdjson::SUCCESS || id.empty()) {
      return invalid_response();
    }
    const auto found = index.find(id);
    if (found == index.end()) return invalid_response();
    if (lowest.empty() || numerically_less(found->first, lowest)) {
      lowest = found->first;
      lowest_index = found->second;
    }
  }
  return BatchResult{Kind::kPartial, lowest_index, std::nullopt};
}

}  // namespace

BatchResult classify(const function::InvokeOutcome& outcome, bool report_batch_item_failures,
                     std::span<const std::string_view> sequence_numbers) {
  switch (outcome.kind) {  // no default: -Wswitch points here when a Kind is added
    case function::InvokeOutcome::Kind::kOk:
      if (!report_batch_item_failures) return success();  // the result is ignored (6.4)
      return classify_response(outcome.payload, sequence_numbers);
    case function::InvokeOutcome::Kind::kFunctionError:
    case function::InvokeOutcome::Kind::kTimedOut:
      // The Invoke API reports both with X-Amz-Function-Error: Unhandled (spec 8.1).
      return BatchResult{Kind::kFunctionError, 0, std::string("Unhandled")};
    case function::InvokeOutcome::Kind::kUnavailable:
      return BatchResult{Kind::kInvocationError, 0, std::nullopt};
  }
  return BatchResult{Kind::kInvocationError, 0, std::nullopt};  // not reached
}

}  // namespace sluice::esm
