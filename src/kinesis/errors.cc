#include "kinesis/errors.h"

#include "base/log.h"
#include "kinesis/json_writer.h"
#include "stream/stream_service.h"

namespace sluice::kinesis {

WireError to_wire_error(const Status& s, ExpiredMeaning expired) {
  if (stream::is_validation_error(s)) return {400, "ValidationException"};
  switch (s.code()) {  // no default: -Wswitch points here when a Code is added
    case Code::kNotFound:
      return {400, "ResourceNotFoundException"};
    case Code::kAlreadyExists:
    case Code::kInUse:
      return {400, "ResourceInUseException"};
    case Code::kInvalidArgument:
      return {400, "InvalidArgumentException"};
    case Code::kLimitExceeded:
      return {400, "LimitExceededException"};
    case Code::kThrottled:
      return {400, "ProvisionedThroughputExceededException"};
    case Code::kExpired:
      return expired == ExpiredMeaning::kIterator ? WireError{400, "ExpiredIteratorException"}
                                                  : WireError{400, "ExpiredNextTokenException"};
    case Code::kUnavailable:
      return {503, "ServiceUnavailableException"};
    case Code::kOk:  // never mapped: callers only map failures
    case Code::kCorruption:
    case Code::kIOError:
    case Code::kInternal:
    case Code::kEndOfData:
      break;
  }
  return {500, "InternalFailure"};
}

net::Response error_response(int status, std::string_view type, std::string_view message,
                             std::string_view message_key) {
  JsonWriter w;
  w.begin_object();
  w.member("__type", type);
  if (!message.empty()) w.member(message_key, message);
  w.end_object();
  net::Response r;
  r.status = status;
  r.content_type = std::string(kJsonContentType);
  r.headers.emplace_back("x-amzn-ErrorType", std::string(type));
  r.body = w.take();
  return r;
}

net::Response status_response(const Status& s, ExpiredMeaning expired) {
  const WireError e = to_wire_error(s, expired);
  if (e.status >= 500) {
    logging::get("kinesis")->error("request failed: {}", s.to_string());
    return error_response(e.status, e.type, "");
  }
  return error_response(e.status, e.type, s.message());
}

}  // namespace sluice::kinesis
