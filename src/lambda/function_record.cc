#include "lambda/function_record.h"

#include "lambda/internal/ids.h"

#include <fmt/format.h>

#include <simdjson.h>

namespace sluice::lambda {

namespace {
constexpr int kRecordVersion = 1;
}  // namespace

std::string encode_record(const FunctionRecord& r) {
  JsonWriter w;
  const function::FunctionSpec& s = r.spec;
  w.begin_object();
  w.member_int("v", kRecordVersion);
  w.member("account", s.account);
  w.member("region", s.region);
  w.member("name", s.name);
  w.member("runtime", s.runtime);
  w.member("handler", s.handler);
  w.member_int("timeout_s", s.timeout_s);
  w.member_int("memory_mb", s.memory_mb);
  w.member_bool("has_environment", r.has_environment);
  w.key("environment");
  w.begin_object();
  for (const auto& [k, v] : s.environment) w.member(k, v);
  w.end_object();
  w.member("revision_id", s.revision_id);
  w.member("log_group", s.log_group);
  w.member("log_format", r.log_format);
  w.member("role", r.role);
  w.member("description", r.description);
  w.member("code_sha256", r.code_sha256);
  w.member_int("code_size", r.code_size);
  w.member("code_id", r.code_id);
  w.member("hot_reload_dir", r.hot_reload_dir);
  w.member_int("last_modified_ms", r.last_modified_ms);
  w.member("architecture", r.architecture);
  w.key("tags");
  w.begin_object();
  for (const auto& [k, v] : r.tags) w.member(k, v);
  w.end_object();
  if (r.reserved_concurrency) w.member_int("reserved_concurrency", *r.reserved_concurrency);
  w.key("echoed");
  w.begin_object();
  for (const auto& [k, v] : r.echoed) w.member(k, v);  // the JSON text, as a string
  w.end_object();
  w.end_object();
  return w.take();
}

Result<FunctionRecord> decode_record(std::string_view json, std::string_view key) {
  auto bad = [&](std::string_view what) {
    return Status::corruption(fmt::format("lambda catalog entry {}: {}", key, what));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return bad("not a JSON object");
  }
  FunctionRecord r;
  function::FunctionSpec& s = r.spec;
  int64_t version = 0;
  int64_t timeout = 0;
  int64_t memory = 0;
  std::string_view sv;
  auto str = [&](const char* name, std::string& out) {
    if (root[name].get_string().get(sv) != simdjson::SUCCESS) return false;
    out = std::string(sv);
    return true;
  };
  auto map = [&](const char* name, std::map<std::string, std::string>& out) {
    simdjson::dom::object obj;
    if (root[name].get_object().get(obj) != simdjson::SUCCESS) return false;
    for (auto field : obj) {
      if (field.value.get_string().get(sv) != simdjson::SUCCESS) return false;
      out.emplace(std::string(field.key), std::string(sv));
    }
    return true;
  };
  if (root["v"].get_int64().get(version) != simdjson::SUCCESS || version != kRecordVersion) {
    return bad("unknown record version");
  }
  bool ok = str("account", s.account) && str("region", s.region) && str("name", s.name) &&
            str("runtime", s.runtime) && str("handler", s.handler) &&
            root["timeout_s"].get_int64().get(timeout) == simdjson::SUCCESS &&
            root["memory_mb"].get_int64().get(memory) == simdjson::SUCCESS &&
            root["has_environment"].get_bool().get(r.has_environment) == simdjson::SUCCESS &&
            map("environment", s.environment) && str("revision_id", s.revision_id) &&
            str("log_group", s.log_group) && str("log_format", r.log_format) &&
            str("role", r.role) && str("description", r.description) &&
            str("code_sha256", r.code_sha256) &&
            root["code_size"].get_int64().get(r.code_size) == simdjson::SUCCESS &&
            str("code_id", r.code_id) && str("hot_reload_dir", r.hot_reload_dir) &&
            root["last_modified_ms"].get_int64().get(r.last_modified_ms) == simdjson::SUCCESS &&
            str("architecture", r.architecture) && map("tags", r.tags) && map("echoed", r.echoed);
  if (!ok) return bad("missing or mistyped member");
  int64_t concurrency = 0;
  if (root["reserved_concurrency"].get_int64().get(concurrency) == simdjson::SUCCESS) {
    r.reserved_concurrency = concurrency;
  }
  s.timeout_s = static_cast<int32_t>(timeout);
  s.memory_mb = static_cast<int32_t>(memory);
  s.arn = function::function_arn(s.region, s.account, s.name);
  s.hot_reload = !r.hot_reload_dir.empty();
  return r;
}

void write_configuration(JsonWriter& w, const FunctionRecord& r, ReportedState state) {
  const function::FunctionSpec& s = r.spec;
  w.begin_object();
  w.member("FunctionName", s.name);
  w.member("FunctionArn", s.arn);
  w.member("Runtime", s.runtime);
  w.member("Role", r.role);
  w.member("Handler", s.handler);
  w.member_int("CodeSize", r.code_size);
  w.member("Description", r.description);
  w.member_int("Timeout", s.timeout_s);
  w.member_int("MemorySize", s.memory_mb);
  w.member("LastModified", internal::format_last_modified(r.last_modified_ms));
  w.member("CodeSha256", r.code_sha256);
  w.member("Version", "$LATEST");
  if (r.has_environment) {
    w.key("Environment");
    w.begin_object();
    w.key("Variables");
    w.begin_object();
    for (const auto& [k, v] : s.environment) w.member(k, v);
    w.end_object();
    w.end_object();
  }
  for (const auto& [member, json] : r.echoed) {
    w.key(member);
    w.raw(json);
  }
  if (!r.echoed.contains("TracingConfig")) {
    w.key("TracingConfig");
    w.raw(R"({"Mode":"PassThrough"})");
  }
  w.member("RevisionId", s.revision_id);
  switch (state) {
    case ReportedState::kCreated:
      w.member("State", "Pending");
      w.member("StateReason", "The function is being created.");
      w.member("StateReasonCode", "Creating");
      break;
    case ReportedState::kUpdating:
      w.member("State", "Active");
      w.member("LastUpdateStatus", "InProgress");
      w.member("LastUpdateStatusReason", "The function is being created.");
      w.member("LastUpdateStatusReasonCode", "Creating");
      break;
    case ReportedState::kSettled:
      w.member("State", "Active");
      w.member("LastUpdateStatus", "Successful");
      break;
  }
  w.member("PackageType", "Zip");
  w.key("Architectures");
  w.begin_array();
  w.string(r.architecture);
  w.end_array();
  if (!r.echoed.contains("EphemeralStorage")) {
    w.key("EphemeralStorage");
    w.raw(R"({"Size":512})");
  }
  w.key("SnapStart");
  w.raw(R"({"ApplyOn":"None","OptimizationStatus":"Off"})");
  w.key("LoggingConfig");
  w.begin_object();
  w.member("LogFormat", r.log_format);
  w.member("LogGroup", s.log_group);
  w.end_object();
  w.end_object();
}

}  // namespace sluice::lambda
