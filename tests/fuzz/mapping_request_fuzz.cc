// Fuzz target: the bodies of CreateEventSourceMapping and UpdateEventSourceMapping
// (lambda::parse_mapping_fields, build_create_draft, check_update, apply_update and
// render_mapping). Byte 0 picks Create (even) or Update (odd); the rest is the JSON body.
// Nothing may crash; a body that passes must render to JSON that simdjson accepts.

#include "esm/mapping.h"
#include "lambda/mapping_api.h"

#include <cstddef>
#include <cstdint>
#include <simdjson.h>
#include <string>
#include <string_view>

namespace sluice::lambda {
namespace {

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

void run(std::string_view input) {
  if (input.empty()) return;
  const bool create = (static_cast<uint8_t>(input[0]) & 1) == 0;
  const std::string_view body = input.substr(1);
  const Identity id{"000000000000", "us-east-1"};
  const FunctionLookup lookup = [](const FunctionKey& key) -> std::optional<std::string> {
    if (key.name != "f") return std::nullopt;
    return "arn:aws:lambda:us-east-1:000000000000:function:f";
  };
  MappingFields fields;
  if (parse_mapping_fields(body, create ? MappingRequestKind::kCreate : MappingRequestKind::kUpdate,
                           fields)) {
    return;
  }
  esm::Mapping m;
  m.uuid = "7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c";
  if (create) {
    if (build_create_draft(fields, id, 1'800'000'000'000, lookup, m)) return;
    m.uuid = "7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c";
  } else {
    m.account = id.account;
    m.region = id.region;
    m.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
    m.event_source_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
    std::optional<std::string> function_arn;
    if (check_update(fields, id, lookup, function_arn)) return;
    apply_update(fields, function_arn, m);
  }
  const std::string json = render_mapping(m);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  FUZZ_CHECK(parser.parse(json).get(doc) == simdjson::SUCCESS);
  auto decoded = esm::decode_mapping(esm::encode_mapping(m), m.uuid);
  FUZZ_CHECK(decoded.ok() && *decoded == m);
}

}  // namespace
}  // namespace sluice::lambda

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::lambda::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
