#include "base/status.h"

#include <system_error>

namespace sluice {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kInUse:
      return "InUse";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kLimitExceeded:
      return "LimitExceeded";
    case Code::kThrottled:
      return "Throttled";
    case Code::kExpired:
      return "Expired";
    case Code::kCorruption:
      return "Corruption";
    case Code::kIOError:
      return "IOError";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kInternal:
      return "Internal";
    case Code::kEndOfData:
      return "EndOfData";
  }
  return "Unknown";
}

Status Status::from_errno(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::generic_category().message(err);  // strerror is not thread-safe
  return Status(Code::kIOError, msg);
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(code_name(rep_->code));
  out += ": ";
  out += rep_->message;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += rep_->message;
  return Status(rep_->code, msg);
}

}  // namespace sluice
