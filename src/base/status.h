#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

// What went wrong, in terms a caller can act on. Each layer maps these to its own wire
// errors in exactly one place (kinesis/errors.cc and friends).
enum class Code : uint8_t {
  kOk,
  kNotFound,
  kAlreadyExists,
  kInUse,
  kInvalidArgument,
  kLimitExceeded,
  kThrottled,
  kExpired,
  kCorruption,
  kIOError,
  kUnavailable,
  kInternal,
  kEndOfData,  // a reader reached the end of what is there; not a failure of the data
};

std::string_view code_name(Code code);

// The result of an operation that returns no value. ok() carries no allocation; a failure
// holds its code and a message in one heap block. Copying is cheap enough for error paths.
class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status ok_status() { return Status(); }
  static Status not_found(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status already_exists(std::string_view msg) { return Status(Code::kAlreadyExists, msg); }
  static Status in_use(std::string_view msg) { return Status(Code::kInUse, msg); }
  static Status invalid_argument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status limit_exceeded(std::string_view msg) { return Status(Code::kLimitExceeded, msg); }
  static Status throttled(std::string_view msg) { return Status(Code::kThrottled, msg); }
  static Status expired(std::string_view msg) { return Status(Code::kExpired, msg); }
  static Status corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status io_error(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status unavailable(std::string_view msg) { return Status(Code::kUnavailable, msg); }
  static Status internal(std::string_view msg) { return Status(Code::kInternal, msg); }
  static Status end_of_data() { return Status(Code::kEndOfData, "end of data"); }
  // An I/O failure described by errno: "<what>: <strerror(err)>".
  static Status from_errno(std::string_view what, int err);

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  bool is_not_found() const { return code() == Code::kNotFound; }
  bool is_corruption() const { return code() == Code::kCorruption; }
  bool is_end_of_data() const { return code() == Code::kEndOfData; }
  // The message without the code name; empty when ok.
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : ""; }
  // "Corruption: bad checksum at 4096" or "OK".
  std::string to_string() const;

  // Adds context in front of the message, keeping the code: "opening log x: <message>".
  Status with_context(std::string_view context) const;

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  Status(Code code, std::string_view msg)
      : rep_(std::make_shared<Rep>(Rep{code, std::string(msg)})) {}

  std::shared_ptr<const Rep> rep_;
};

inline std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.to_string(); }

}  // namespace sluice
