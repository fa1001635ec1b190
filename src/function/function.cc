#include "function/function.h"

namespace sluice::function {

std::string function_arn(const std::string& region, const std::string& account,
                         const std::string& name) {
  return "arn:aws:lambda:" + region + ":" + account + ":function:" + name;
}

}  // namespace sluice::function
