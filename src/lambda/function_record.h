#pragma once

#include "base/json_writer.h"
#include "base/result.h"
#include "function/function.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::lambda {

// Everything the control plane keeps about one function ($LATEST only): the runtime's view
// (`spec`) plus what is only reported back to clients. Stored in the catalog as one JSON
// document per function (docs/formats/lambda-catalog.md).
struct FunctionRecord {
  // account, region, name, arn, runtime, handler, timeout, memory, environment,
  // revision_id, log_group, hot_reload; task_root is derived when loaded, never stored.
  function::FunctionSpec spec;
  bool has_environment = false;  // Environment was supplied, maybe empty: echo it
  std::string role;
  std::string description;
  std::string code_sha256;     // base64 of SHA-256 of the zip, or kHotReloadSha256
  int64_t code_size = 0;       // bytes of the zip as uploaded
  std::string code_id;         // the code directory's name (a UUID); empty for hot reload
  std::string hot_reload_dir;  // the developer's directory, for hot reload
  int64_t last_modified_ms = 0;
  std::string architecture = "x86_64";
  std::string log_format = "Text";
  std::map<std::string, std::string> tags;
  std::optional<int64_t> reserved_concurrency;
  // Accepted and echoed, not acted on (VpcConfig, DeadLetterConfig, ...): member name ->
  // minified JSON value as the client sent it.
  std::map<std::string, std::string> echoed;
};

// CodeSha256 of a hot-reload function (spec 2.9: "a fixed marker string").
inline constexpr std::string_view kHotReloadSha256 = "sluice-hot-reload";

// The catalog value for `r` (docs/formats/lambda-catalog.md).
std::string encode_record(const FunctionRecord& r);
// Parses a catalog value; kCorruption naming `key` when it is not one we wrote.
Result<FunctionRecord> decode_record(std::string_view json, std::string_view key);

// Which state the FunctionConfiguration reports (spec 2.4): kCreated for the CreateFunction
// response (Pending, no LastUpdateStatus), kUpdating for update responses (Active,
// InProgress), kSettled for everything else (Active, Successful).
enum class ReportedState { kCreated, kUpdating, kSettled };

// Writes the FunctionConfiguration object of spec 2.2 as the next value of `w`.
void write_configuration(JsonWriter& w, const FunctionRecord& r, ReportedState state);

}  // namespace sluice::lambda
