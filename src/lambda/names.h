#pragma once

#include "lambda/errors.h"

#include <optional>
#include <string>
#include <string_view>

namespace sluice::lambda {

// Who a request acts as (spec section 0): from the SigV4 credential scope, else defaults.
struct Identity {
  std::string account;  // 12 digits
  std::string region;
};

// Where a FunctionName is used: creation and updates allow 140 characters, reads 256.
enum class NameUse { kWrite, kRead };

inline constexpr std::string_view kWriteNamePattern =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
    "([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
inline constexpr std::string_view kReadNamePattern =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
    "([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";

// A FunctionName resolved against the caller's identity.
struct FunctionRef {
  std::string name;                      // 1-64 of [A-Za-z0-9_-]
  std::optional<std::string> qualifier;  // from "name:Q", an ARN or the Qualifier parameter
  // The ARN to name in "Function not found: ..." (qualified when a qualifier was given).
  std::string not_found_arn;
};

// Resolves a name, "name:qualifier", a partial ARN "{A}:function:{F}[:{Q}]" or a full ARN,
// plus an optional Qualifier query parameter, with the errors of spec 2.1 in this order:
// a bare name longer than 64 (InvalidParameterValue), a longer string than `use` allows
// (Validation), a malformed string (Validation), an ARN of another region
// (ResourceNotFound), a qualifier in the name that differs from `qualifier_param`
// (InvalidParameterValue). An ARN of another account resolves to a name that will not be
// found (its not_found_arn names that account).
// `member` is the member name used in validation messages ("functionName").
std::optional<ApiError> resolve_function_name(std::string_view raw, const Identity& id,
                                              std::optional<std::string_view> qualifier_param,
                                              NameUse use, FunctionRef& out);

// True for 1-64 characters of [A-Za-z0-9_-].
bool valid_function_name(std::string_view name);

}  // namespace sluice::lambda
