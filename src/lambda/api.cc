#include "lambda/api.h"

#include "base/await.h"
#include "base/base64.h"
#include "base/file.h"
#include "base/json_writer.h"
#include "base/log.h"
#include "function/function.h"
#include "function/invoker.h"
#include "lambda/errors.h"
#include "lambda/internal/ids.h"
#include "lambda/mapping_api.h"
#include "net/aws_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <memory>
#include <regex>
#include <simdjson.h>
#include <vector>

namespace sluice::lambda {

namespace {

using sluice::JsonWriter;
using Dom = simdjson::dom::element;

constexpr std::array<std::string_view, 11> kPrefixes = {
    "/2015-03-31/", "/2014-11-13/", "/2016-08-19/", "/2017-03-31/", "/2017-10-31/", "/2018-10-31/",
    "/2019-09-25/", "/2019-09-30/", "/2020-04-22/", "/2020-06-30/", "/2021-10-31/"};

constexpr uint64_t kMaxZippedBytes = 52'428'800;
constexpr uint64_t kMaxCreateRequestBytes = 70'167'211;
constexpr size_t kMaxSyncPayloadBytes = 6'291'456;  // spec 4.1

constexpr std::string_view kRolePattern =
    "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+";

// Every identifier of the Runtime enum in the Lambda API model.
constexpr std::array<std::string_view, 54> kRuntimeEnum = {
    "nodejs",          "nodejs4.3",     "nodejs6.10",      "nodejs8.10",    "nodejs10.x",
    "nodejs12.x",      "nodejs14.x",    "nodejs16.x",      "nodejs18.x",    "nodejs20.x",
    "nodejs22.x",      "nodejs24.x",    "java8",           "java8.al2",     "java11",
    "java17",          "java21",        "java25",          "python2.7",     "python3.6",
    "python3.7",       "python3.8",     "python3.9",       "python3.10",    "python3.11",
    "python3.12",      "python3.13",    "python3.14",      "dotnetcore1.0", "dotnetcore2.0",
    "dotnetcore2.1",   "dotnetcore3.1", "dotnet6",         "dotnet8",       "dotnet10",
    "nodejs4.3-edge",  "go1.x",         "ruby2.5",         "ruby2.7",       "ruby3.2",
    "ruby3.3",         "ruby3.4",       "ruby4.0",         "provided",      "provided.al2",
    "provided.al2023", "nodejs26.x",    "python3.15",      "java8.al2023",  "java11.al2023",
    "java17.al2023",   "custom",        "nodejs16.x-edge", "python3.8-edge"};

// In the enum but no longer accepted for creation or update (spec 2.3 step 3).
constexpr std::array<std::string_view, 23> kDeprecatedRuntimes = {
    "nodejs",     "nodejs4.3",  "nodejs6.10",     "nodejs8.10",    "nodejs10.x",    "nodejs12.x",
    "nodejs14.x", "nodejs16.x", "nodejs4.3-edge", "java8",         "python2.7",     "python3.6",
    "python3.7",  "python3.8",  "dotnetcore1.0",  "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1",
    "dotnet6",    "go1.x",      "ruby2.5",        "ruby2.7",       "provided"};

// What Sluice's runtimes run (spec 2.3, "Runtime identifiers the engine executes").
constexpr std::array<std::string_view, 10> kSupportedRuntimes = {
    "python3.9",  "python3.10", "python3.11", "python3.12",   "python3.13",
    "nodejs18.x", "nodejs20.x", "nodejs22.x", "provided.al2", "provided.al2023"};

// Sluice's own runtimes, not AWS identifiers (docs/runtime.md): C++ handlers loaded into the
// server ("sluice.cpp") and invocations forwarded to an HTTP endpoint ("sluice.remote").
constexpr std::array<std::string_view, 2> kSluiceRuntimes = {"sluice.cpp", "sluice.remote"};

// Members accepted, stored and echoed, not acted on (spec 2.2, last paragraph).
constexpr std::array<std::string_view, 7> kEchoedMembers = {
    "DeadLetterConfig", "EphemeralStorage", "FileSystemConfigs", "ImageConfig",
    "KMSKeyArn",        "TracingConfig",    "VpcConfig"};

template <size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

template <size_t N>
std::string join_list(const std::array<std::string_view, N>& list) {
  std::string out = "[";
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += ", ";
    out += list[i];
  }
  return out + "]";
}

net::Response json_response(int status, std::string body) {
  return net::Response::json(status, std::move(body));
}

net::Response no_content() {
  net::Response r = net::Response::json(204, "");
  return r;
}

net::Response error(ErrorType type, std::string message) {
  return error_response(ApiError{type, std::move(message)});
}

using net::parse_query;
using net::percent_decode;

// One parsed request: identity, decoded path segments after the version, query.
struct Call {
  const net::Request& request;
  Identity id;
  std::string request_id;  // x-amzn-RequestId; for Invoke also the invocation's request id
  std::string version;     // "2015-03-31"
  std::vector<std::string> segments;  // decoded, without empty ones (trailing '/')
  std::vector<std::pair<std::string, std::string>> query;

  std::optional<std::string> param(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};

// The request body as a JSON object. simdjson's DOM is only read here; responses are
// written by JsonWriter.
class Body {
 public:
  // nullopt and an InvalidRequestContent error when the body is not a JSON object. An
  // empty body is an empty object.
  std::optional<ApiError> parse(std::string_view text) {
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) text = "{}";
    if (parser_.parse(text.data(), text.size()).get(root_) != simdjson::SUCCESS) {
      return ApiError{ErrorType::kInvalidRequestContent,
                      "Could not parse request body into json: the body is not valid JSON"};
    }
    if (!root_.is_object()) {
      return ApiError{ErrorType::kInvalidRequestContent,
                      "Could not parse request body into json: the body is not a JSON object"};
    }
    return std::nullopt;
  }

  bool has(std::string_view name) const {
    Dom v;
    return root_[name].get(v) == simdjson::SUCCESS && !v.is_null();
  }
  std::optional<Dom> get(std::string_view name) const {
    Dom v;
    if (root_[name].get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
    return v;
  }
  // Typed accessors: absent (or null) is nullopt; a wrong type records a type error.
  std::optional<std::string> string(std::string_view name) {
    auto v = get(name);
    if (!v) return std::nullopt;
    std::string_view s;
    if (v->get_string().get(s) != simdjson::SUCCESS) return type_error(name, "a string");
    return std::string(s);
  }
  std::optional<int64_t> integer(std::string_view name) {
    auto v = get(name);
    if (!v) return std::nullopt;
    int64_t i = 0;
    if (v->get_int64().get(i) != simdjson::SUCCESS) {
      type_error(name, "an integer");
      return std::nullopt;
    }
    return i;
  }
  std::optional<bool> boolean(std::string_view name) {
    auto v = get(name);
    if (!v) return std::nullopt;
    bool b = false;
    if (v->get_bool().get(b) != simdjson::SUCCESS) {
      type_error(name, "a boolean");
      return std::nullopt;
    }
    return b;
  }
  // A map of strings (Tags, Environment.Variables) found at `v`.
  std::optional<std::map<std::string, std::string>> string_map(Dom v, std::string_view name) {
    simdjson::dom::object obj;
    if (v.get_object().get(obj) != simdjson::SUCCESS) {
      type_error(name, "an object");
      return std::nullopt;
    }
    std::map<std::string, std::string> out;
    for (auto field : obj) {
      std::string_view s;
      if (field.value.get_string().get(s) != simdjson::SUCCESS) {
        type_error(name, "a map of strings");
        return std::nullopt;
      }
      out[std::string(field.key)] = std::string(s);
    }
    return out;
  }
  std::optional<std::vector<std::string>> string_list(std::string_view name) {
    auto v = get(name);
    if (!v) return std::nullopt;
    simdjson::dom::array arr;
    if (v->get_array().get(arr) != simdjson::SUCCESS) {
      type_error(name, "a list");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (Dom item : arr) {
      std::string_view s;
      if (item.get_string().get(s) != simdjson::SUCCESS) {
        type_error(name, "a list of strings");
        return std::nullopt;
      }
      out.emplace_back(s);
    }
    return out;
  }
  std::optional<std::string> minified(std::string_view name) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    return simdjson::minify(*v);
  }

  // The first type error met, if any.
  const std::optional<ApiError>& type_failure() const { return type_failure_; }

 private:
  std::nullopt_t type_error(std::string_view name, std::string_view expected) {
    if (!type_failure_) {
      type_failure_ =
          ApiError{ErrorType::kInvalidRequestContent,
                   fmt::format("Could not parse request body into json: member '{}' must be {}",
                               name, expected)};
    }
    return std::nullopt;
  }

  simdjson::dom::parser parser_;
  Dom root_;
  std::optional<ApiError> type_failure_;
};

bool valid_env_key(std::string_view k) {
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  // The model's pattern asks for two characters or more, but AWS takes one-letter keys
  // (spec 11 case 11 sets B=2), so one is enough here.
  if (k.empty() || !alpha(k[0])) return false;
  return std::all_of(k.begin() + 1, k.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9') || c == '_'; });
}

bool has_whitespace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

bool valid_role(std::string_view role) {
  static const std::regex pattern{std::string(kRolePattern)};
  return std::regex_match(role.begin(), role.end(), pattern);
}

// The configurable members shared by CreateFunction and UpdateFunctionConfiguration, read
// and checked against the model (spec 1.6 phrasing, all violations together).
struct ConfigInput {
  std::optional<std::string> role, handler, description, runtime;
  std::optional<int64_t> timeout, memory;
  std::optional<std::map<std::string, std::string>> environment;
  std::optional<std::vector<std::string>> layers;
  std::optional<std::string> log_format, log_group;
  std::map<std::string, std::string> echoed;
};

void read_config(Body& body, ConfigInput& in, std::vector<std::string>& clauses) {
  in.role = body.string("Role");
  in.handler = body.string("Handler");
  in.description = body.string("Description");
  in.runtime = body.string("Runtime");
  in.timeout = body.integer("Timeout");
  in.memory = body.integer("MemorySize");
  in.layers = body.string_list("Layers");
  if (auto env = body.get("Environment")) {
    simdjson::dom::object obj;
    if (env->get_object().get(obj) == simdjson::SUCCESS) {
      Dom vars;
      if (obj["Variables"].get(vars) == simdjson::SUCCESS && !vars.is_null()) {
        in.environment = body.string_map(vars, "Environment.Variables");
      } else {
        in.environment.emplace();
      }
    } else {
      (void)body.string_map(*env, "Environment");  // records the type error
    }
  }
  if (auto logging = body.get("LoggingConfig")) {
    std::string_view s;
    if ((*logging)["LogFormat"].get_string().get(s) == simdjson::SUCCESS) in.log_format = s;
    if ((*logging)["LogGroup"].get_string().get(s) == simdjson::SUCCESS) in.log_group = s;
  }
  for (std::string_view m : kEchoedMembers) {
    if (auto json = body.minified(m)) in.echoed[std::string(m)] = *json;
  }

  if (in.role && !valid_role(*in.role)) {
    clauses.push_back(validation_clause(
        *in.role, "role",
        fmt::format("Member must satisfy regular expression pattern: {}", kRolePattern)));
  }
  if (in.handler) {
    if (in.handler->size() > 128) {
      clauses.push_back(validation_clause(*in.handler, "handler",
                                          "Member must have length less than or equal to 128"));
    } else if (in.handler->empty() || has_whitespace(*in.handler)) {
      clauses.push_back(validation_clause(
          *in.handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+"));
    }
  }
  if (in.description && in.description->size() > 256) {
    clauses.push_back(validation_clause(*in.description, "description",
                                        "Member must have length less than or equal to 256"));
  }
  if (in.timeout) {
    if (*in.timeout < 1) {
      clauses.push_back(validation_clause(std::to_string(*in.timeout), "timeout",
                                          "Member must have value greater than or equal to 1"));
    } else if (*in.timeout > 900) {
      clauses.push_back(validation_clause(std::to_string(*in.timeout), "timeout",
                                          "Member must have value less than or equal to 900"));
    }
  }
  if (in.memory) {
    if (*in.memory < 128) {
      clauses.push_back(validation_clause(std::to_string(*in.memory), "memorySize",
                                          "Member must have value greater than or equal to 128"));
    } else if (*in.memory > 10240) {
      clauses.push_back(validation_clause(std::to_string(*in.memory), "memorySize",
                                          "Member must have value less than or equal to 10240"));
    }
  }
  if (in.log_format && *in.log_format != "Text" && *in.log_format != "JSON") {
    clauses.push_back(validation_clause(*in.log_format, "loggingConfig.logFormat",
                                        "Member must satisfy enum value set: [Text, JSON]"));
  }
}

// Spec 2.3 steps 2 and 3, and the engine's own refusal of runtimes it cannot run.
std::optional<ApiError> check_runtime(const std::string& runtime) {
  if (contains(kSluiceRuntimes, runtime)) return std::nullopt;
  if (!contains(kRuntimeEnum, runtime)) {
    return ApiError{ErrorType::kInvalidParameterValue,
                    fmt::format("Value {} at 'runtime' failed to satisfy constraint: Member must "
                                "satisfy enum value set: {}",
                                runtime, join_list(kRuntimeEnum))};
  }
  if (contains(kDeprecatedRuntimes, runtime)) {
    return ApiError{ErrorType::kInvalidParameterValue,
                    fmt::format("The runtime parameter of {} is no longer supported for creating "
                                "or updating AWS Lambda functions. We recommend you use a "
                                "supported runtime while creating or updating functions.",
                                runtime)};
  }
  if (!contains(kSupportedRuntimes, runtime)) {
    return ApiError{ErrorType::kInvalidParameterValue,
                    fmt::format("Sluice does not run the runtime {}; supported runtimes: {}",
                                runtime, join_list(kSupportedRuntimes))};
  }
  return std::nullopt;
}

// http://host[:port][/path]: a host (name, IPv4, or [IPv6]), a port in 1-65535, no user
// information or fragment.
bool plausible_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme) || url.find_first_of("#@") != std::string_view::npos) {
    return false;
  }
  const std::string_view rest = url.substr(kScheme.size());
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      has_port = true;
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    has_port = true;
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return false;
  if (has_port) {
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
    const unsigned long n = std::stoul(std::string(port));
    if (n == 0 || n > 65535) return false;
  }
  return true;
}

// The Handler of Sluice's own runtimes: "sluice.remote" wants an http:// URL with a host (it
// may point anywhere the operator chooses); "sluice.cpp" a library path inside the code,
// optionally ":<symbol>". Other runtimes: nothing to check here.
std::optional<ApiError> check_sluice_handler(std::string_view runtime, std::string_view handler) {
  if (runtime == "sluice.remote") {
    if (!plausible_http_url(handler)) {
      return ApiError{ErrorType::kInvalidParameterValue,
                      fmt::format("The handler of a sluice.remote function must be an http:// URL "
                                  "with a host, such as http://127.0.0.1:9000/2015-03-31/functions/"
                                  "function/invocations; got {}",
                                  handler)};
    }
  } else if (runtime == "sluice.cpp") {
    const std::string_view path = handler.substr(0, handler.rfind(':'));
    if (path.empty() || path.starts_with('/') || path == ".." || path.starts_with("../") ||
        path.find("/../") != std::string_view::npos || path.ends_with("/..")) {
      return ApiError{ErrorType::kInvalidParameterValue,
                      fmt::format("The handler of a sluice.cpp function must be the path of a "
                                  "shared library inside the code, optionally followed by "
                                  ":<symbol>; got {}",
                                  handler)};
    }
  }
  return std::nullopt;
}

// Spec 2.3 step 8.
std::optional<ApiError> check_environment(const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars) {
    if (!valid_env_key(k)) {
      return ApiError{
          ErrorType::kValidation,
          validation_message({"Value at 'environment.variables' failed to satisfy constraint: "
                              "Map keys must satisfy constraint: [Member must satisfy regular "
                              "expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"})};
    }
  }
  std::vector<std::string> reserved;
  for (const auto& [k, v] : vars) {
    if (function::is_reserved_environment_key(k)) reserved.push_back(k);
  }
  if (!reserved.empty()) {  // the map is ordered: the keys come sorted
    std::string list;
    for (const std::string& k : reserved) list += (list.empty() ? "" : ", ") + k;
    return ApiError{ErrorType::kInvalidParameterValue,
                    "Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided contains reserved keys that are "
                    "currently not supported for modification. Reserved keys used in this "
                    "request: " +
                        list};
  }
  JsonWriter w;
  w.begin_object();
  for (const auto& [k, v] : vars) w.member(k, v);
  w.end_object();
  if (w.text().size() > 4096) {
    return ApiError{ErrorType::kInvalidParameterValue,
                    "Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided exceeded the 4KB limit. String "
                    "measured: " +
                        w.text()};
  }
  return std::nullopt;
}

std::optional<ApiError> check_layers(const std::optional<std::vector<std::string>>& layers) {
  if (layers && !layers->empty()) {
    return ApiError{ErrorType::kInvalidParameterValue,
                    "Sluice does not support layers yet; package the layer's files in the "
                    "function's zip instead."};
  }
  return std::nullopt;
}

void apply_config(const ConfigInput& in, FunctionRecord& r) {
  if (in.role) r.role = *in.role;
  if (in.handler) r.spec.handler = *in.handler;
  if (in.description) r.description = *in.description;
  if (in.runtime) r.spec.runtime = *in.runtime;
  if (in.timeout) r.spec.timeout_s = static_cast<int32_t>(*in.timeout);
  if (in.memory) r.spec.memory_mb = static_cast<int32_t>(*in.memory);
  if (in.environment) {
    r.spec.environment = *in.environment;
    r.has_environment = true;
  }
  if (in.log_format) r.log_format = *in.log_format;
  if (in.log_group) r.spec.log_group = *in.log_group;
  for (const auto& [k, v] : in.echoed) r.echoed[k] = v;
}

// Code of CreateFunction / UpdateFunctionCode (spec 2.3 steps 5-7, 2.9). `zip` receives the
// decoded bytes.
struct CodeRequest {
  std::string zip;
  std::optional<std::string> hot_reload_dir;
};

std::optional<ApiError> read_zip_code(std::optional<std::string> zip_b64,
                                      std::optional<std::string> bucket,
                                      std::optional<std::string> key, CodeRequest& out) {
  if (bucket) {
    if (*bucket == "hot-reload" && key) {
      out.hot_reload_dir = *key;  // the registry refuses it unless hot reload is enabled
      return std::nullopt;
    }
    return ApiError{ErrorType::kInvalidParameterValue,
                    "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error "
                    "Message: The specified bucket does not exist"};
  }
  if (!zip_b64) {
    return ApiError{ErrorType::kInvalidParameterValue,
                    "Please provide a source for function code."};
  }
  if (base64_decode(*zip_b64, out.zip)) {
    return ApiError{ErrorType::kInvalidRequestContent,
                    "Could not parse request body into json: ZipFile is not valid base64"};
  }
  if (out.zip.size() > kMaxZippedBytes) {
    return ApiError{ErrorType::kRequestEntityTooLarge,
                    fmt::format("Zipped size must be smaller than {} bytes", kMaxZippedBytes)};
  }
  return std::nullopt;
}

net::Response not_implemented(std::string_view operation) {
  return error(ErrorType::kInvalidParameterValue,
               fmt::format("Sluice does not implement the {} operation yet.", operation));
}

class Handlers {
 public:
  Handlers(FunctionRegistry* registry, const Clock* clock, function::Invoker* invoker,
           EventQueue* events, size_t max_event_payload_bytes)
      : registry_(registry),
        clock_(clock),
        invoker_(invoker),
        events_(events),
        max_event_payload_bytes_(max_event_payload_bytes) {}

  net::Response create_function(Call& c) {
    if (c.request.body.size() > kMaxCreateRequestBytes) {
      return error(ErrorType::kRequestEntityTooLarge,
                   fmt::format("Request must be smaller than {} bytes for the CreateFunction "
                               "operation",
                               kMaxCreateRequestBytes));
    }
    Body body;
    if (auto e = body.parse(c.request.body)) return error_response(*e);

    // Step 1: the model's constraints.
    std::vector<std::string> clauses;
    const std::optional<std::string> raw_name = body.string("FunctionName");
    if (!raw_name)
      clauses.push_back(
          validation_clause("null", "functionName", "Member must not be null", false));
    ConfigInput in;
    read_config(body, in, clauses);
    if (!in.role && !body.has("Role")) {
      clauses.push_back(validation_clause("null", "role", "Member must not be null", false));
    }
    std::optional<Dom> code = body.get("Code");
    if (!code)
      clauses.push_back(validation_clause("null", "code", "Member must not be null", false));
    const std::optional<std::vector<std::string>> architectures = body.string_list("Architectures");
    if (architectures) {
      if (architectures->size() != 1) {
        std::string shown = "[";
        for (size_t i = 0; i < architectures->size(); ++i) {
          shown += (i > 0 ? ", " : "") + (*architectures)[i];
        }
        shown += "]";
        clauses.push_back(validation_clause(
            shown, "architectures",
            architectures->empty() ? "Member must have length greater than or equal to 1"
                                   : "Member must have length less than or equal to 1"));
      } else if ((*architectures)[0] != "x86_64" && (*architectures)[0] != "arm64") {
        clauses.push_back(validation_clause((*architectures)[0], "architectures",
                                            "Member must satisfy enum value set: [x86_64, arm64]"));
      }
    }
    const std::optional<std::string> package_type = body.string("PackageType");
    if (package_type && *package_type != "Zip" && *package_type != "Image") {
      clauses.push_back(validation_clause(*package_type, "packageType",
                                          "Member must satisfy enum value set: [Zip, Image]"));
    }
    std::optional<std::map<std::string, std::string>> tags;
    if (auto t = body.get("Tags")) tags = body.string_map(*t, "Tags");
    std::optional<std::string> zip_b64, bucket, key, image_uri;
    if (code) {
      simdjson::dom::object obj;
      if (code->get_object().get(obj) != simdjson::SUCCESS) {
        return error(ErrorType::kInvalidRequestContent,
                     "Could not parse request body into json: member 'Code' must be an object");
      }
      std::string_view s;
      if (obj["ZipFile"].get_string().get(s) == simdjson::SUCCESS) zip_b64 = s;
      if (obj["S3Bucket"].get_string().get(s) == simdjson::SUCCESS) bucket = s;
      if (obj["S3Key"].get_string().get(s) == simdjson::SUCCESS) key = s;
      if (obj["ImageUri"].get_string().get(s) == simdjson::SUCCESS) image_uri = s;
    }
    if (body.type_failure()) return error_response(*body.type_failure());
    FunctionRef ref;
    if (raw_name) {
      if (auto e = resolve_function_name(*raw_name, c.id, std::nullopt, NameUse::kWrite, ref)) {
        return error_response(*e);
      }
      if (ref.qualifier || ref.name.empty()) {
        return error(ErrorType::kValidation,
                     validation_message({validation_clause(
                         *raw_name, "functionName",
                         fmt::format("Member must satisfy regular expression pattern: {}",
                                     kWriteNamePattern))}));
      }
    }
    if (!clauses.empty()) return error(ErrorType::kValidation, validation_message(clauses));

    // Steps 2-3: the runtime.
    if (in.runtime) {
      if (auto e = check_runtime(*in.runtime)) return error_response(*e);
    }
    const bool image = (package_type && *package_type == "Image") || image_uri.has_value();
    // Step 4.
    if (!image && (!in.runtime || !in.handler)) {
      return error(ErrorType::kInvalidParameterValue,
                   "Runtime and Handler are mandatory parameters for functions created with "
                   "deployment packages.");
    }
    if (in.runtime && in.handler) {
      if (auto e = check_sluice_handler(*in.runtime, *in.handler)) return error_response(*e);
    }
    // Step 5.
    if (image) {
      return error(ErrorType::kInvalidParameterValue,
                   "Sluice does not support container image functions (PackageType Image); "
                   "upload a zip file instead.");
    }
    // Steps 6-7.
    CodeRequest code_request;
    if (auto e = read_zip_code(zip_b64, bucket, key, code_request)) return error_response(*e);
    if (!code_request.hot_reload_dir) {
      Status scanned = internal::extract_zip(code_request.zip, "", registry_->options().zip);
      if (!scanned.ok()) return error_response(to_api_error(scanned));
    }
    // Step 8.
    if (in.environment) {
      if (auto e = check_environment(*in.environment)) return error_response(*e);
    }
    // Step 9.
    if (auto e = check_layers(in.layers)) return error_response(*e);

    // Steps 10-12.
    FunctionRecord draft;
    draft.spec.account = c.id.account;
    draft.spec.region = c.id.region;
    draft.spec.name = ref.name;
    draft.spec.log_group = "/aws/lambda/" + ref.name;
    apply_config(in, draft);
    if (architectures) draft.architecture = (*architectures)[0];
    if (tags) draft.tags = *tags;
    auto created = registry_->create(std::move(draft),
                                     CodeInput{code_request.zip, code_request.hot_reload_dir});
    if (!created.ok()) return error_response(to_api_error(created.status()));
    JsonWriter w;
    write_configuration(w, *created, ReportedState::kCreated);
    return json_response(201, w.take());
  }

  // Resolves {F} (+ ?Qualifier) to a $LATEST function key, or the error.
  std::optional<ApiError> resolve(Call& c, const std::string& raw, NameUse use, FunctionKey& key,
                                  bool allow_qualifier = true) {
    FunctionRef ref;
    const std::optional<std::string> q = allow_qualifier ? c.param("Qualifier") : std::nullopt;
    std::optional<std::string_view> qv;
    if (q) qv = *q;
    if (auto e = resolve_function_name(raw, c.id, qv, use, ref)) return e;
    if (ref.name.empty() || (ref.qualifier && *ref.qualifier != "$LATEST")) {
      return ApiError{ErrorType::kResourceNotFound, "Function not found: " + ref.not_found_arn};
    }
    key = FunctionKey{c.id.account, c.id.region, ref.name};
    last_ref_ = ref;
    return std::nullopt;
  }

  // Spec 4.1-4.6. A synchronous invoke waits here for the invoker's outcome, which comes
  // by the function's deadline (Api::handle_async answers without waiting); an Event is
  // queued durably and answered 202 (docs/async-invoke.md). `legacy_async`: InvokeAsync (4.5).
  net::Response invoke(Call& c, bool legacy_async = false) {
    PreparedInvoke prepared = prepare_invoke(c, legacy_async);
    if (prepared.answer) return std::move(*prepared.answer);
    function::InvokeOutcome outcome =
        await_callback<function::InvokeOutcome>([&](function::Invoker::Done done) {
          invoker_->invoke(std::move(prepared.invocation), std::move(done));
        });
    return invoke_answer(prepared.arn, prepared.tail, std::move(outcome));
  }

  // Everything of invoke() up to the invoker: `answer` when the request is answered
  // without running the function (an error, DryRun, Event), else what to run.
  struct PreparedInvoke {
    std::optional<net::Response> answer;
    function::Invocation invocation;
    std::string arn;    // the function's unqualified ARN
    bool tail = false;  // X-Amz-Log-Type: Tail
  };
  PreparedInvoke prepare_invoke(Call& c, bool legacy_async) {
    PreparedInvoke prepared;
    prepared.answer = prepare_invoke(c, legacy_async, prepared);
    return prepared;
  }

 private:
  std::optional<net::Response> prepare_invoke(Call& c, bool legacy_async, PreparedInvoke& out) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key)) return error_response(*e);
    std::string_view type = c.request.header("X-Amz-Invocation-Type");
    if (type.empty()) type = "RequestResponse";
    if (legacy_async) type = "Event";
    if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
      return error(ErrorType::kValidation,
                   validation_message({validation_clause(
                       type, "invocationType",
                       "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")}));
    }
    if (type == "Event" && c.request.body.size() > max_event_payload_bytes_) {
      return error(ErrorType::kRequestEntityTooLarge,
                   fmt::format("{} byte payload is too large for the Event invocation type "
                               "(limit {} bytes)",
                               c.request.body.size(), max_event_payload_bytes_));
    }
    if (c.request.body.size() > kMaxSyncPayloadBytes) {
      return error(ErrorType::kRequestEntityTooLarge,
                   fmt::format("Request must be smaller than {} bytes for the InvokeFunction "
                               "operation",
                               kMaxSyncPayloadBytes));
    }
    std::string payload(c.request.body.empty() ? std::string_view("{}") : c.request.body);
    {
      thread_local simdjson::dom::parser parser;
      simdjson::dom::element doc;
      if (const auto err = parser.parse(payload).get(doc); err != simdjson::SUCCESS) {
        return error(ErrorType::kInvalidRequestContent,
                     fmt::format("Could not parse request body into json: Could not parse "
                                 "payload into json: {}",
                                 simdjson::error_message(err)));
      }
    }
    auto spec = registry_->spec(key);
    if (!spec.ok()) return error_response(to_api_error(spec.status()));
    if (type == "DryRun") return no_content();
    if (type == "Event") return enqueue_event(c, *spec, std::move(payload));
    if (invoker_ == nullptr) return not_implemented("Invoke");

    function::Invocation invocation;
    invocation.request_id = c.request_id;
    invocation.function_arn = spec->arn;
    invocation.deadline = std::chrono::system_clock::now() + std::chrono::seconds(spec->timeout_s);
    invocation.payload = std::move(payload);
    if (const std::string_view cc = c.request.header("X-Amz-Client-Context"); !cc.empty()) {
      std::string decoded;
      if (base64_decode(cc, decoded)) {
        return error(ErrorType::kInvalidRequestContent,
                     "Client context must be a valid Base64-encoded JSON object.");
      }
      invocation.client_context = std::move(decoded);
    }
    invocation.trace_id = std::string(c.request.header("X-Amzn-Trace-Id"));
    invocation.tenant_id = std::string(c.request.header("X-Amz-Tenant-Id"));
    out.invocation = std::move(invocation);
    out.arn = spec->arn;
    out.tail = c.request.header("X-Amz-Log-Type") == "Tail";
    return std::nullopt;
  }

 public:
  // The Invoke answer for an invoker's `outcome` (spec 4.2, 4.3, 4.6).
  static net::Response invoke_answer(const std::string& arn, bool tail,
                                     function::InvokeOutcome outcome) {
    using Kind = function::InvokeOutcome::Kind;
    if (outcome.kind == Kind::kUnavailable) {
      if (outcome.payload == "ReservedFunctionConcurrentInvocationLimitExceeded" ||
          outcome.payload == "ConcurrentInvocationLimitExceeded") {
        JsonWriter w;
        w.begin_object();
        w.member("Type", "User");
        w.member("message", "Rate Exceeded.");
        w.member("Reason", outcome.payload);
        w.end_object();
        net::Response r = json_response(429, w.take());
        r.headers.emplace_back("x-amzn-ErrorType", "TooManyRequestsException");
        r.headers.emplace_back("Retry-After", "1");
        return r;
      }
      if (outcome.payload == "ResourceNotFound") {
        return error(ErrorType::kResourceNotFound, "Function not found: " + arn);
      }
      // Nothing ran, so a client retrying the 500 runs the function at most once.
      return error(ErrorType::kService,
                   "Sluice could not start an execution environment for " + arn + ".");
    }
    net::Response r = json_response(200, std::move(outcome.payload));
    // Spec 4.3: the type the runtime gave its result.
    if (outcome.kind == Kind::kOk && !outcome.content_type.empty()) {
      r.content_type = std::move(outcome.content_type);
    }
    r.headers.emplace_back("X-Amz-Executed-Version", "$LATEST");
    if (outcome.kind != Kind::kOk) r.headers.emplace_back("X-Amz-Function-Error", "Unhandled");
    if (tail) {
      r.headers.emplace_back("X-Amz-Log-Result", base64_encode(as_bytes(outcome.log_tail)));
    }
    return r;
  }

  // Spec 4.4: durable before the 202, whose x-amzn-RequestId is the request id every
  // attempt of the event runs with.
  net::Response enqueue_event(Call& c, const function::FunctionSpec& spec, std::string payload) {
    if (events_ == nullptr) return not_implemented("asynchronous (Event) Invoke");
    AsyncEvent event;
    event.request_id = c.request_id;
    event.function_arn = spec.arn;
    event.payload = std::move(payload);
    if (const std::string_view cc = c.request.header("X-Amz-Client-Context"); !cc.empty()) {
      std::string decoded;
      if (base64_decode(cc, decoded)) {
        return error(ErrorType::kInvalidRequestContent,
                     "Client context must be a valid Base64-encoded JSON object.");
      }
      event.client_context_b64 = std::string(cc);
    }
    // Header values are kept only when printable ASCII: the record is JSON text.
    auto printable = [](std::string_view v) {
      return std::all_of(v.begin(), v.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; });
    };
    if (const std::string_view v = c.request.header("X-Amzn-Trace-Id"); printable(v)) {
      event.trace_id = std::string(v);
    }
    if (const std::string_view v = c.request.header("X-Amz-Tenant-Id"); printable(v)) {
      event.tenant_id = std::string(v);
    }
    const Status queued = events_->enqueue(std::move(event));
    if (queued.code() == Code::kLimitExceeded) {
      JsonWriter w;
      w.begin_object();
      w.member("Type", "User");
      w.member("message", "Rate Exceeded.");
      w.member("Reason", "CallerRateLimitExceeded");
      w.end_object();
      net::Response r = json_response(429, w.take());
      r.headers.emplace_back("x-amzn-ErrorType", "TooManyRequestsException");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    if (!queued.ok()) {
      // Nothing was accepted, so a client retrying the 500 queues the event at most once.
      logging::get("lambda")->error("request {}: queueing the event failed: {}", c.request_id,
                                    queued.to_string());
      return error(ErrorType::kService, "Sluice could not queue the event for " + spec.arn + ".");
    }
    return net::Response::json(202, "");
  }

  net::Response get_function(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key)) return error_response(*e);
    auto r = registry_->get(key);
    if (!r.ok()) return error_response(to_api_error(r.status()));
    JsonWriter w;
    w.begin_object();
    w.key("Configuration");
    write_configuration(w, *r, ReportedState::kSettled);
    w.key("Code");
    w.begin_object();
    w.member("RepositoryType", "S3");
    if (!r->code_id.empty()) {
      std::string host(c.request.header("Host"));
      if (host.empty()) host = "127.0.0.1";
      w.member("Location", fmt::format("http://{}{}{}/{}/{}/{}/code.zip", host, Api::kCodePrefix,
                                       key.account, key.region, key.name, r->code_id));
    }
    w.end_object();
    if (!r->tags.empty()) {
      w.key("Tags");
      w.begin_object();
      for (const auto& [k, v] : r->tags) w.member(k, v);
      w.end_object();
    }
    w.end_object();
    return json_response(200, w.take());
  }

  net::Response get_configuration(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key)) return error_response(*e);
    auto r = registry_->get(key);
    if (!r.ok()) return error_response(to_api_error(r.status()));
    JsonWriter w;
    write_configuration(w, *r, ReportedState::kSettled);
    return json_response(200, w.take());
  }

  net::Response list_functions(Call& c) {
    if (auto v = c.param("FunctionVersion"); v && *v != "ALL") {
      return error(ErrorType::kValidation,
                   validation_message({validation_clause(
                       *v, "functionVersion", "Member must satisfy enum value set: [ALL]")}));
    }
    int64_t max_items = 50;
    if (auto m = c.param("MaxItems")) {
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(m->data(), m->data() + m->size(), n);
      if (ec != std::errc() || end != m->data() + m->size()) {
        return error(ErrorType::kValidation,
                     validation_message(
                         {validation_clause(*m, "maxItems", "Member must be a number", true)}));
      }
      if (n < 1 || n > 10000) {
        return error(ErrorType::kValidation,
                     validation_message({validation_clause(
                         *m, "maxItems",
                         n < 1 ? "Member must have value greater than or equal to 1"
                               : "Member must have value less than or equal to 10000")}));
      }
      max_items = std::min<int64_t>(n, 50);
    }
    // The marker is the name of the first function of the next page (opaque to clients).
    const std::string marker = c.param("Marker").value_or("");
    const std::vector<FunctionRecord> all = registry_->list(c.id.account, c.id.region);
    auto it = std::lower_bound(
        all.begin(), all.end(), marker,
        [](const FunctionRecord& r, const std::string& m) { return r.spec.name < m; });
    JsonWriter w;
    w.begin_object();
    w.key("Functions");
    w.begin_array();
    int64_t n = 0;
    for (; it != all.end() && n < max_items; ++it, ++n) {
      write_configuration(w, *it, ReportedState::kSettled);
    }
    w.end_array();
    if (it != all.end()) w.member("NextMarker", it->spec.name);
    w.end_object();
    return json_response(200, w.take());
  }

  net::Response delete_function(Call& c) {
    FunctionKey key;
    const std::optional<std::string> q = c.param("Qualifier");
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key)) {
      return error_response(*e);
    }
    if (last_ref_.qualifier && *last_ref_.qualifier == "$LATEST") {
      if (!registry_->get(key).ok()) {
        return error(ErrorType::kResourceNotFound,
                     "Function not found: " + last_ref_.not_found_arn);
      }
      return error(ErrorType::kInvalidParameterValue,
                   "$LATEST version cannot be deleted without deleting the function.");
    }
    Status s = registry_->remove(key);
    if (!s.ok()) return error_response(to_api_error(s));
    return no_content();
  }

  net::Response update_code(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kWrite, key, false)) return error_response(*e);
    Body body;
    if (auto e = body.parse(c.request.body)) return error_response(*e);
    const auto zip_b64 = body.string("ZipFile");
    const auto bucket = body.string("S3Bucket");
    const auto s3key = body.string("S3Key");
    const auto image_uri = body.string("ImageUri");
    const auto revision = body.string("RevisionId");
    const auto dry_run = body.boolean("DryRun");
    const auto architectures = body.string_list("Architectures");
    (void)body.boolean("Publish");
    if (body.type_failure()) return error_response(*body.type_failure());
    if (architectures && (architectures->size() != 1 ||
                          ((*architectures)[0] != "x86_64" && (*architectures)[0] != "arm64"))) {
      return error(ErrorType::kValidation,
                   validation_message({validation_clause(
                       architectures->empty() ? "[]" : (*architectures)[0], "architectures",
                       "Member must satisfy enum value set: [x86_64, arm64]")}));
    }
    if (auto r = registry_->get(key); !r.ok()) return error_response(to_api_error(r.status()));
    if (image_uri) {
      return error(ErrorType::kInvalidParameterValue,
                   "Please don't provide ImageUri when updating a function with packageType Zip.");
    }
    CodeRequest code_request;
    if (auto e = read_zip_code(zip_b64, bucket, s3key, code_request)) return error_response(*e);
    auto updated =
        registry_->update_code(key, CodeInput{code_request.zip, code_request.hot_reload_dir},
                               revision, dry_run.value_or(false));
    if (!updated.ok()) return error_response(to_api_error(updated.status()));
    if (architectures && !dry_run.value_or(false)) {
      const std::string arch = (*architectures)[0];
      auto again = registry_->update(
          key, std::nullopt,
          [&](FunctionRecord& r) {
            r.architecture = arch;
            return Status();
          },
          /*new_revision=*/false);
      if (again.ok()) updated = std::move(again);
    }
    JsonWriter w;
    write_configuration(
        w, *updated, dry_run.value_or(false) ? ReportedState::kSettled : ReportedState::kUpdating);
    return json_response(200, w.take());
  }

  net::Response update_configuration(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kWrite, key, false)) return error_response(*e);
    Body body;
    if (auto e = body.parse(c.request.body)) return error_response(*e);
    std::vector<std::string> clauses;
    ConfigInput in;
    read_config(body, in, clauses);
    const auto revision = body.string("RevisionId");
    if (body.type_failure()) return error_response(*body.type_failure());
    if (!clauses.empty()) return error(ErrorType::kValidation, validation_message(clauses));
    if (in.runtime) {
      if (auto e = check_runtime(*in.runtime)) return error_response(*e);
    }
    if (in.environment) {
      if (auto e = check_environment(*in.environment)) return error_response(*e);
    }
    if (auto e = check_layers(in.layers)) return error_response(*e);
    auto updated = registry_->update(
        key, revision,
        [&](FunctionRecord& r) {
          apply_config(in, r);
          if (auto e = check_sluice_handler(r.spec.runtime, r.spec.handler)) {
            return Status::invalid_argument(e->message);  // InvalidParameterValueException
          }
          return Status();
        },
        /*new_revision=*/true);
    if (!updated.ok()) return error_response(to_api_error(updated.status()));
    JsonWriter w;
    write_configuration(w, *updated, ReportedState::kUpdating);
    return json_response(200, w.take());
  }

  net::Response list_versions(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key, false)) return error_response(*e);
    auto r = registry_->get(key);
    if (!r.ok()) return error_response(to_api_error(r.status()));
    JsonWriter w;
    w.begin_object();
    w.key("Versions");
    w.begin_array();
    write_configuration(w, *r, ReportedState::kSettled);
    w.end_array();
    w.end_object();
    return json_response(200, w.take());
  }

  net::Response get_policy(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key)) return error_response(*e);
    if (auto r = registry_->get(key); !r.ok()) return error_response(to_api_error(r.status()));
    return error(ErrorType::kResourceNotFound, "The resource you requested does not exist.");
  }

  net::Response add_permission(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key)) return error_response(*e);
    auto r = registry_->get(key);
    if (!r.ok()) return error_response(to_api_error(r.status()));
    Body body;
    if (auto e = body.parse(c.request.body)) return error_response(*e);
    const auto sid = body.string("StatementId");
    const auto action = body.string("Action");
    const auto principal = body.string("Principal");
    if (body.type_failure()) return error_response(*body.type_failure());
    std::vector<std::string> clauses;
    if (!sid)
      clauses.push_back(validation_clause("null", "statementId", "Member must not be null", false));
    if (!action)
      clauses.push_back(validation_clause("null", "action", "Member must not be null", false));
    if (!principal)
      clauses.push_back(validation_clause("null", "principal", "Member must not be null", false));
    if (!clauses.empty()) return error(ErrorType::kValidation, validation_message(clauses));
    JsonWriter statement;
    statement.begin_object();
    statement.member("Sid", *sid);
    statement.member("Effect", "Allow");
    statement.key("Principal");
    statement.begin_object();
    statement.member(principal->find('.') != std::string::npos ? "Service" : "AWS", *principal);
    statement.end_object();
    statement.member("Action", *action);
    statement.member("Resource", r->spec.arn);
    statement.end_object();
    JsonWriter w;
    w.begin_object();
    w.member("Statement", statement.text());
    w.end_object();
    return json_response(201, w.take());
  }

  net::Response tags(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key, false)) return error_response(*e);
    if (c.request.method == "GET") {
      auto r = registry_->get(key);
      if (!r.ok()) return error_response(to_api_error(r.status()));
      JsonWriter w;
      w.begin_object();
      w.key("Tags");
      w.begin_object();
      for (const auto& [k, v] : r->tags) w.member(k, v);
      w.end_object();
      w.end_object();
      return json_response(200, w.take());
    }
    if (c.request.method == "POST") {
      Body body;
      if (auto e = body.parse(c.request.body)) return error_response(*e);
      std::optional<std::map<std::string, std::string>> tags;
      if (auto t = body.get("Tags")) tags = body.string_map(*t, "Tags");
      if (body.type_failure()) return error_response(*body.type_failure());
      if (!tags) {
        return error(ErrorType::kValidation,
                     validation_message(
                         {validation_clause("null", "tags", "Member must not be null", false)}));
      }
      auto r = registry_->update(
          key, std::nullopt,
          [&](FunctionRecord& rec) {
            for (const auto& [k, v] : *tags) rec.tags[k] = v;
            return Status();
          },
          false);
      if (!r.ok()) return error_response(to_api_error(r.status()));
      return no_content();
    }
    std::vector<std::string> keys;
    for (const auto& [k, v] : c.query) {
      if (k == "tagKeys") keys.push_back(v);
    }
    auto r = registry_->update(
        key, std::nullopt,
        [&](FunctionRecord& rec) {
          for (const std::string& k : keys) rec.tags.erase(k);
          return Status();
        },
        false);
    if (!r.ok()) return error_response(to_api_error(r.status()));
    return no_content();
  }

  net::Response concurrency(Call& c) {
    FunctionKey key;
    if (auto e = resolve(c, c.segments[1], NameUse::kRead, key, false)) return error_response(*e);
    if (c.request.method == "GET") {
      auto r = registry_->get(key);
      if (!r.ok()) return error_response(to_api_error(r.status()));
      JsonWriter w;
      w.begin_object();
      if (r->reserved_concurrency) {
        w.member_int("ReservedConcurrentExecutions", *r->reserved_concurrency);
      }
      w.end_object();
      return json_response(200, w.take());
    }
    std::optional<int64_t> value;
    if (c.request.method == "PUT") {
      Body body;
      if (auto e = body.parse(c.request.body)) return error_response(*e);
      value = body.integer("ReservedConcurrentExecutions");
      if (body.type_failure()) return error_response(*body.type_failure());
      if (!value) {
        return error(ErrorType::kValidation,
                     validation_message({validation_clause("null", "reservedConcurrentExecutions",
                                                           "Member must not be null", false)}));
      }
      if (*value < 0) {
        return error(ErrorType::kValidation,
                     validation_message(
                         {validation_clause(std::to_string(*value), "reservedConcurrentExecutions",
                                            "Member must have value greater than or equal to 0")}));
      }
    }
    auto r = registry_->update(
        key, std::nullopt,
        [&](FunctionRecord& rec) {
          rec.reserved_concurrency = value;
          return Status();
        },
        false);
    if (!r.ok()) return error_response(to_api_error(r.status()));
    if (!value) return no_content();
    JsonWriter w;
    w.begin_object();
    w.member_int("ReservedConcurrentExecutions", *value);
    w.end_object();
    return json_response(200, w.take());
  }

  net::Response account_settings(Call& c) {
    const std::vector<FunctionRecord> all = registry_->list(c.id.account, c.id.region);
    int64_t total = 0;
    for (const FunctionRecord& r : all) total += r.code_size;
    JsonWriter w;
    w.begin_object();
    w.key("AccountLimit");
    w.begin_object();
    w.member_int("TotalCodeSize", 80'530'636'800);
    w.member_int("CodeSizeUnzipped",
                 static_cast<int64_t>(registry_->options().zip.max_unzipped_bytes));
    w.member_int("CodeSizeZipped", static_cast<int64_t>(kMaxZippedBytes));
    w.member_int("ConcurrentExecutions", 1000);
    w.member_int("UnreservedConcurrentExecutions", 1000);
    w.end_object();
    w.key("AccountUsage");
    w.begin_object();
    w.member_int("TotalCodeSize", total);
    w.member_int("FunctionCount", static_cast<int64_t>(all.size()));
    w.end_object();
    w.end_object();
    return json_response(200, w.take());
  }

 private:
  FunctionRegistry* const registry_;
  [[maybe_unused]] const Clock* const clock_;
  function::Invoker* const invoker_;  // null: Invoke is refused
  EventQueue* const events_;          // null: Event invocations are refused
  const size_t max_event_payload_bytes_;
  FunctionRef last_ref_;  // of the last successful resolve()
};

net::Response dispatch(Call& c, Handlers& h, const MappingApi* mappings) {
  const std::string_view m = c.request.method;
  const std::vector<std::string>& s = c.segments;
  const size_t n = s.size();
  const bool functions = n >= 1 && s[0] == "functions";
  if (c.version == "2015-03-31") {
    if (functions && n == 1) {
      if (m == "POST") return h.create_function(c);
      if (m == "GET") return h.list_functions(c);
    }
    if (functions && n == 2) {
      if (m == "GET") return h.get_function(c);
      if (m == "DELETE") return h.delete_function(c);
    }
    if (functions && n == 3) {
      if (s[2] == "configuration" && m == "GET") return h.get_configuration(c);
      if (s[2] == "configuration" && m == "PUT") return h.update_configuration(c);
      if (s[2] == "code" && m == "PUT") return h.update_code(c);
      if (s[2] == "versions" && m == "GET") return h.list_versions(c);
      if (s[2] == "versions" && m == "POST") return not_implemented("PublishVersion");
      if (s[2] == "policy" && m == "GET") return h.get_policy(c);
      if (s[2] == "policy" && m == "POST") return h.add_permission(c);
      if (s[2] == "invocations" && m == "POST") return h.invoke(c);
      if (s[2] == "aliases") return not_implemented("aliases");
    }
    if (n >= 1 && s[0] == "event-source-mappings") {
      if (mappings == nullptr) return not_implemented("event source mapping");
      return mappings->route(m, s, c.query, c.request.body, c.id);
    }
  }
  if (c.version == "2014-11-13" && functions && n == 3 && s[2] == "invoke-async" && m == "POST") {
    return h.invoke(c, /*legacy_async=*/true);
  }
  if (c.version == "2017-03-31" && n == 2 && s[0] == "tags" &&
      (m == "GET" || m == "POST" || m == "DELETE")) {
    return h.tags(c);
  }
  if (functions && n == 3 && s[2] == "concurrency" &&
      ((c.version == "2017-10-31" && (m == "PUT" || m == "DELETE")) ||
       (c.version == "2019-09-30" && m == "GET"))) {
    return h.concurrency(c);
  }
  if (c.version == "2016-08-19" && n == 1 && s[0] == "account-settings" && m == "GET") {
    return h.account_settings(c);
  }
  // Anything else (function URLs, event invoke configs, code signing, layers, ...): what
  // AWS answers for a function with nothing configured, so that tools probing them go on.
  return error(ErrorType::kResourceNotFound, "The resource you requested does not exist.");
}

}  // namespace

Identity identity_of(const net::Request& request, const ApiOptions& options) {
  net::Caller caller = net::caller_of(request, options.default_account, options.default_region);
  return Identity{std::move(caller.account), std::move(caller.region)};
}

Api::Api(FunctionRegistry* registry, const Clock* clock, ApiOptions options,
         function::Invoker* invoker, EventQueue* events, esm::Engine* mappings)
    : registry_(registry),
      clock_(clock),
      options_(std::move(options)),
      invoker_(invoker),
      events_(events),
      mappings_(mappings) {}

std::span<const std::string_view> Api::path_prefixes() { return kPrefixes; }

namespace {

// The request's version, decoded path segments, identity and query, and a new request id.
Call make_call(const net::Request& request, const ApiOptions& options) {
  Call call{request, identity_of(request, options), internal::new_uuid(), "",
            {},      parse_query(request.query)};
  std::string_view path = request.path;
  path.remove_prefix(1);
  bool first = true;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view seg = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (first) {
      call.version = std::string(seg);
      first = false;
    } else if (!seg.empty()) {
      call.segments.push_back(percent_decode(seg));
    }
  }
  if (const auto invocation_id = request.header("amz-sdk-invocation-id"); !invocation_id.empty()) {
    // A client's retries of one call share the invocation id and count up in amz-sdk-request
    // ("attempt=2; max=5"): how a retried Invoke shows up (docs/wire/lambda.md).
    logging::get("lambda")->debug("request {} {} {} sdk-invocation={} sdk-request=\"{}\"",
                                  call.request_id, request.method, request.path, invocation_id,
                                  request.header("amz-sdk-request"));
  }
  return call;
}

// The headers every Lambda answer carries.
net::Response finish(net::Response response, const std::string& request_id, const Clock* clock) {
  response.headers.emplace_back("x-amzn-RequestId", request_id);
  response.headers.emplace_back("Date", internal::format_http_date(clock->now_ms()));
  return response;
}

net::Response service_failure(const Call& call, const std::exception& e) {
  // std::regex or allocation: a bug or exhaustion
  logging::get("lambda")->error("request {} {} {} failed: {}", call.request_id, call.request.method,
                                call.request.path, e.what());
  return error(ErrorType::kService, "Sluice failed to complete the request.");
}

}  // namespace

net::Response Api::handle(const net::Request& request) const {
  Call call = make_call(request, options_);
  Handlers handlers(registry_, clock_, invoker_, events_, options_.max_event_payload_bytes);
  const std::optional<MappingApi> mappings =
      mappings_ == nullptr ? std::nullopt
                           : std::optional<MappingApi>(std::in_place, mappings_, registry_, clock_);
  net::Response response;
  try {
    response = dispatch(call, handlers, mappings ? &*mappings : nullptr);
  } catch (const std::exception& e) {
    response = service_failure(call, e);
  }
  return finish(std::move(response), call.request_id, clock_);
}

void Api::handle_async(const net::Request& request, net::Responder responder) const {
  const std::string_view type = request.header("X-Amz-Invocation-Type");
  if (invoker_ == nullptr || request.method != "POST" ||
      !(type.empty() || type == "RequestResponse") || !request.path.ends_with("/invocations")) {
    responder.answer_blocking([this, &request] { return handle(request); });
    return;
  }
  Call call = make_call(request, options_);
  const std::vector<std::string>& s = call.segments;
  if (call.version != "2015-03-31" || s.size() != 3 || s[0] != "functions" ||
      s[2] != "invocations") {
    responder.answer_blocking([this, &request] { return handle(request); });
    return;
  }
  Handlers handlers(registry_, clock_, invoker_, events_, options_.max_event_payload_bytes);
  Handlers::PreparedInvoke prepared;
  try {
    prepared = handlers.prepare_invoke(call, /*legacy_async=*/false);
  } catch (const std::exception& e) {
    prepared.answer = service_failure(call, e);
  }
  if (prepared.answer) {
    responder.answer(finish(std::move(*prepared.answer), call.request_id, clock_));
    return;
  }
  // The event-loop thread may run a quick in-process handler itself (InProcessInvoker's
  // inline_max): for those, cheaper than handing the call to a worker and back.
  prepared.invocation.may_run_inline = true;
  invoker_->invoke(std::move(prepared.invocation),
                   [responder, arn = std::move(prepared.arn), tail = prepared.tail,
                    request_id = call.request_id, clock = clock_](function::InvokeOutcome outcome) {
                     responder.answer(finish(Handlers::invoke_answer(arn, tail, std::move(outcome)),
                                             request_id, clock));
                   });
}

net::Response Api::handle_code_download(const net::Request& request) const {
  const std::string request_id = internal::new_uuid();
  net::Response response;
  std::vector<std::string> parts;
  std::string_view rest = request.path.substr(kCodePrefix.size());
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    parts.push_back(percent_decode(rest.substr(0, slash)));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  const bool shape_ok = request.method == "GET" && parts.size() == 5 && parts[4] == "code.zip" &&
                        valid_function_name(parts[2]);
  Result<std::string> path =
      shape_ok
          ? registry_->code_zip_path({parts[0], parts[1], parts[2]}, parts[3])
          : Result<std::string>(Status::not_found("The resource you requested does not exist."));
  Result<std::string> bytes =
      path.ok() ? read_file(FileSystem::posix(), *path) : Result<std::string>(path.status());
  if (!bytes.ok()) {
    response = error(ErrorType::kResourceNotFound, "The resource you requested does not exist.");
  } else {
    response.status = 200;
    response.content_type = "application/zip";
    response.body = std::move(*bytes);
  }
  response.headers.emplace_back("x-amzn-RequestId", request_id);
  response.headers.emplace_back("Date", internal::format_http_date(clock_->now_ms()));
  return response;
}

}  // namespace sluice::lambda
