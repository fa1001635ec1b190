#include "lambda/errors.h"

#include "base/check.h"
#include "base/json_writer.h"

#include <fmt/format.h>

namespace sluice::lambda {

std::string_view error_code(ErrorType type) {
  switch (type) {
    case ErrorType::kResourceNotFound:
      return "ResourceNotFoundException";
    case ErrorType::kInvalidParameterValue:
      return "InvalidParameterValueException";
    case ErrorType::kResourceConflict:
      return "ResourceConflictException";
    case ErrorType::kValidation:
      return "ValidationException";
    case ErrorType::kInvalidRequestContent:
      return "InvalidRequestContentException";
    case ErrorType::kRequestEntityTooLarge:
      return "RequestEntityTooLargeException";
    case ErrorType::kPreconditionFailed:
      return "PreconditionFailedException";
    case ErrorType::kResourceInUse:
      return "ResourceInUseException";
    case ErrorType::kService:
      return "ServiceException";
  }
  return "ServiceException";
}

int http_status(ErrorType type) {
  switch (type) {
    case ErrorType::kResourceNotFound:
      return 404;
    case ErrorType::kInvalidParameterValue:
    case ErrorType::kValidation:
    case ErrorType::kInvalidRequestContent:
    case ErrorType::kResourceInUse:
      return 400;
    case ErrorType::kResourceConflict:
      return 409;
    case ErrorType::kRequestEntityTooLarge:
      return 413;
    case ErrorType::kPreconditionFailed:
      return 412;
    case ErrorType::kService:
      return 500;
  }
  return 500;
}

net::Response error_response(const ApiError& error) {
  JsonWriter w;
  w.begin_object();
  switch (error.type) {
    case ErrorType::kResourceNotFound:
    case ErrorType::kResourceInUse:
      w.member("Type", "User");
      w.member("Message", error.message);
      break;
    case ErrorType::kInvalidParameterValue:
    case ErrorType::kResourceConflict:
    case ErrorType::kInvalidRequestContent:
    case ErrorType::kPreconditionFailed:
      w.member("Type", "User");
      w.member("message", error.message);
      break;
    case ErrorType::kValidation:
      w.member("message", error.message);
      break;
    case ErrorType::kRequestEntityTooLarge:
      w.member("Message", error.message);
      break;
    case ErrorType::kService:
      w.member("Type", "Service");
      w.member("Message", error.message);
      break;
  }
  w.end_object();
  net::Response r = net::Response::json(http_status(error.type), w.take());
  r.headers.emplace_back("x-amzn-ErrorType", std::string(error_code(error.type)));
  return r;
}

ApiError to_api_error(const Status& status) {
  const std::string message(status.message());
  switch (status.code()) {
    case Code::kNotFound:
      return {ErrorType::kResourceNotFound, message};
    case Code::kAlreadyExists:
    case Code::kInUse:
      return {ErrorType::kResourceConflict, message};
    case Code::kInvalidArgument:
      return {ErrorType::kInvalidParameterValue, message};
    case Code::kLimitExceeded:
      return {ErrorType::kRequestEntityTooLarge, message};
    case Code::kExpired:
      return {ErrorType::kPreconditionFailed, message};
    case Code::kOk:  // never mapped: callers only map failures
    case Code::kThrottled:
    case Code::kCorruption:
    case Code::kIOError:
    case Code::kUnavailable:
    case Code::kInternal:
    case Code::kEndOfData:
      break;
  }
  return {ErrorType::kService, "Sluice failed to complete the request; see the server log."};
}

std::string validation_clause(std::string_view value, std::string_view member,
                              std::string_view rule, bool quote) {
  if (!quote) {
    return fmt::format("Value {} at '{}' failed to satisfy constraint: {}", value, member, rule);
  }
  return fmt::format("Value '{}' at '{}' failed to satisfy constraint: {}", value, member, rule);
}

std::string validation_message(const std::vector<std::string>& clauses) {
  SLUICE_CHECK(!clauses.empty(), "validation_message without clauses");
  std::string out = fmt::format("{} validation error{} detected: ", clauses.size(),
                                clauses.size() == 1 ? "" : "s");
  for (size_t i = 0; i < clauses.size(); ++i) {
    if (i > 0) out += "; ";
    out += clauses[i];
  }
  return out;
}

}  // namespace sluice::lambda
