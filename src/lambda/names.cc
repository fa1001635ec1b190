#include "lambda/names.h"

#include "function/function.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace sluice::lambda {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool valid_qualifier(std::string_view q) {
  if (q == "$LATEST") return true;
  return !q.empty() && q.size() <= 128 && std::all_of(q.begin(), q.end(), name_char);
}

bool all_digits(std::string_view s, size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Loose check of the region part of an ARN: lowercase letters, digits and '-'.
bool plausible_region(std::string_view r) {
  return !r.empty() && r.size() <= 32 && std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::vector<std::string_view> split_colons(std::string_view s) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t colon = s.find(':');
    parts.push_back(s.substr(0, colon));
    if (colon == std::string_view::npos) break;
    s.remove_prefix(colon + 1);
  }
  return parts;
}

ApiError pattern_error(std::string_view raw, NameUse use) {
  return {ErrorType::kValidation,
          validation_message({validation_clause(
              raw, "functionName",
              fmt::format("Member must satisfy regular expression pattern: {}",
                          use == NameUse::kWrite ? kWriteNamePattern : kReadNamePattern))})};
}

}  // namespace

bool valid_function_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), name_char);
}

std::optional<ApiError> resolve_function_name(std::string_view raw, const Identity& id,
                                              std::optional<std::string_view> qualifier_param,
                                              NameUse use, FunctionRef& out) {
  const size_t max_len = use == NameUse::kWrite ? 140 : 256;
  const std::vector<std::string_view> parts = split_colons(raw);
  std::string_view region = id.region;
  std::string_view account = id.account;
  std::string_view name;
  std::optional<std::string_view> qualifier;
  bool is_arn = false;

  if (parts.size() <= 2 && raw.size() > 64 && parts[0].size() > 64 &&
      std::all_of(parts[0].begin(), parts[0].end(), name_char)) {
    return ApiError{ErrorType::kInvalidParameterValue,
                    validation_message({validation_clause(
                        raw, "functionName", "Member must have length less than or equal to 64")})};
  }
  if (raw.empty()) return pattern_error(raw, use);
  if (raw.size() > max_len) {
    return ApiError{
        ErrorType::kValidation,
        validation_message({validation_clause(
            raw, "functionName",
            fmt::format("Member must have length less than or equal to {}", max_len))})};
  }
  if (parts[0] == "arn") {
    // arn:aws:lambda:{R}:{A}:function:{F}[:{Q}]
    if (parts.size() < 7 || parts.size() > 8 || !parts[1].starts_with("aws") ||
        parts[2] != "lambda" || !plausible_region(parts[3]) || !all_digits(parts[4], 12) ||
        parts[5] != "function") {
      return pattern_error(raw, use);
    }
    is_arn = true;
    region = parts[3];
    account = parts[4];
    name = parts[6];
    if (parts.size() == 8) qualifier = parts[7];
  } else if (parts.size() >= 3 && parts[1] == "function") {
    // {A}:function:{F}[:{Q}]
    if (parts.size() > 4 || !all_digits(parts[0], 12)) return pattern_error(raw, use);
    is_arn = true;
    account = parts[0];
    name = parts[2];
    if (parts.size() == 4) qualifier = parts[3];
  } else {
    if (parts.size() > 2) return pattern_error(raw, use);
    name = parts[0];
    if (parts.size() == 2) qualifier = parts[1];
  }
  if (name.size() > 64 && std::all_of(name.begin(), name.end(), name_char)) {
    return ApiError{
        ErrorType::kInvalidParameterValue,
        validation_message({validation_clause(
            name, "functionName", "Member must have length less than or equal to 64")})};
  }
  if (!valid_function_name(name) || (qualifier && !valid_qualifier(*qualifier))) {
    return pattern_error(raw, use);
  }
  if (is_arn && region != id.region) {
    return ApiError{ErrorType::kResourceNotFound,
                    fmt::format("Functions from '{}' are not reachable in this region ('{}')",
                                region, id.region)};
  }
  if (qualifier_param) {
    if (qualifier && *qualifier != *qualifier_param) {
      return ApiError{
          ErrorType::kInvalidParameterValue,
          "The derived qualifier from the function name does not match the specified qualifier."};
    }
    if (!valid_qualifier(*qualifier_param)) {
      return ApiError{ErrorType::kValidation,
                      validation_message({validation_clause(
                          *qualifier_param, "qualifier",
                          "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)")})};
    }
    qualifier = qualifier_param;
  }
  out.name = std::string(name);
  out.qualifier = qualifier ? std::optional<std::string>(std::string(*qualifier)) : std::nullopt;
  out.not_found_arn = function::function_arn(std::string(region), std::string(account), out.name);
  if (out.qualifier) out.not_found_arn += ":" + *out.qualifier;
  if (account != id.account) out.name.clear();  // another account's function: never found
  return std::nullopt;
}

}  // namespace sluice::lambda
