#pragma once

#include "base/status.h"
#include "net/http_message.h"

#include <string>
#include <string_view>
#include <vector>

namespace sluice::lambda {

// The Lambda REST-JSON error codes Sluice sends (spec 1.5); each has a fixed HTTP status
// and body casing.
enum class ErrorType {
  kResourceNotFound,       // 404 {"Type":"User","Message"}
  kInvalidParameterValue,  // 400 {"Type":"User","message"}
  kResourceConflict,       // 409 {"Type":"User","message"}
  kValidation,             // 400 {"message"}
  kInvalidRequestContent,  // 400 {"Type":"User","message"}
  kRequestEntityTooLarge,  // 413 {"Message"}
  kPreconditionFailed,     // 412 {"Type":"User","message"}
  kResourceInUse,          // 400 {"Type":"User","Message"}
  kService,                // 500 {"Type":"Service","Message"}
};

struct ApiError {
  ErrorType type;
  std::string message;
};

std::string_view error_code(ErrorType type);  // "ResourceNotFoundException", ...
int http_status(ErrorType type);

// The response: status, x-amzn-ErrorType, the body in the type's casing. The request id
// header is added by the caller, as for every response.
net::Response error_response(const ApiError& error);

// The one mapping from a registry Status to the wire (STYLE.md example 2). The registry
// uses: kNotFound -> ResourceNotFound, kAlreadyExists and kInUse -> ResourceConflict,
// kInvalidArgument -> InvalidParameterValue, kLimitExceeded -> RequestEntityTooLarge,
// kExpired (a stale RevisionId) -> PreconditionFailed. Anything else is a Sluice failure:
// ServiceException with a fixed text (the detail is for our log).
ApiError to_api_error(const Status& status);

// Coral-style model validation (spec 1.6). One clause:
//   "Value '<value>' at '<member>' failed to satisfy constraint: <rule>"
// With `quote` false the value is written bare (AWS writes "Value null at ...").
std::string validation_clause(std::string_view value, std::string_view member,
                              std::string_view rule, bool quote = true);
// "1 validation error detected: <clause>" or "N validation errors detected: a; b".
// REQUIRES: !clauses.empty().
std::string validation_message(const std::vector<std::string>& clauses);

}  // namespace sluice::lambda
