#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace sluice::function {

// What a runtime needs to know to run one function: a snapshot of its configuration, taken
// from the control plane's FunctionRegistry (src/lambda). A plain value: copies do not
// follow later updates; compare `revision_id` to notice that code or configuration changed
// (a runtime retires environments built from an older revision).
struct FunctionSpec {
  std::string account;  // 12 digits
  std::string region;   // "us-east-1"
  std::string name;     // 1-64 of [A-Za-z0-9_-]
  std::string arn;      // unqualified: arn:aws:lambda:{region}:{account}:function:{name}
  std::string runtime;  // "python3.12", "nodejs20.x", "provided.al2023", ...
  std::string handler;  // as configured: "app.handler"; the runtime interprets it
  int32_t timeout_s = 3;
  int32_t memory_mb = 128;
  // The function's own Environment.Variables (not the Lambda-defined ones), by name.
  std::map<std::string, std::string> environment;
  // Absolute path of the extracted code (LAMBDA_TASK_ROOT). Read-only for runtimes: the
  // registry replaces it as a whole on a code update and removes the old one afterwards,
  // so a runtime must not keep using a task root once `revision_id` moved on.
  std::string task_root;
  // True when task_root is a developer's own directory (Code.S3Bucket "hot-reload"): its
  // files may change at any time and a runtime should start a fresh environment after a
  // change. Never removed by Sluice.
  bool hot_reload = false;
  // Changes (a new UUID) on every code or configuration change.
  std::string revision_id;
  std::string log_group;  // LoggingConfig.LogGroup, default "/aws/lambda/{name}"
};

// Environment variables a function may not set (spec 5.2, "reserved"): CreateFunction and
// UpdateFunctionConfiguration refuse them, and a runtime gives each its own value or none.
inline constexpr std::array<std::string_view, 19> kReservedEnvironmentKeys = {
    "AWS_LAMBDA_RUNTIME_API",
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "AWS_EXECUTION_ENV",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY",
    "TZ",
    "_X_AMZN_TRACE_ID"};

bool is_reserved_environment_key(std::string_view name);

// The unqualified function ARN of spec section 0.
std::string function_arn(const std::string& region, const std::string& account,
                         const std::string& name);

}  // namespace sluice::function
