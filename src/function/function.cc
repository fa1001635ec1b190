#include "function/function.h"

#include <algorithm>

namespace sluice::function {

bool is_reserved_environment_key(std::string_view name) {
  return std::find(kReservedEnvironmentKeys.begin(), kReservedEnvironmentKeys.end(), name) !=
         kReservedEnvironmentKeys.end();
}

std::string function_arn(const std::string& region, const std::string& account,
                         const std::string& name) {
  return "arn:aws:lambda:" + region + ":" + account + ":function:" + name;
}

}  // namespace sluice::function
