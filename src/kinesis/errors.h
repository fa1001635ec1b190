#pragma once

#include "base/status.h"
#include "net/http_message.h"

#include <string>
#include <string_view>

namespace sluice::kinesis {

// An AWS-shaped error on the wire (spec 2.3): HTTP status and the __type code.
struct WireError {
  int status = 500;
  std::string_view type;
  bool operator==(const WireError&) const = default;
};

// What kExpired means for the operation at hand: GetRecords' iterator, or a list operation's
// NextToken.
enum class ExpiredMeaning { kIterator, kNextToken };

// The one place that maps a stream-layer Status to the wire (STYLE.md 5, Example 2).
// stream::is_validation_error() failures become ValidationException. Failures the client
// cannot act on (I/O, corruption, internal) are 500 InternalFailure; their detail belongs in
// our log, not in the response. REQUIRES: !s.ok().
WireError to_wire_error(const Status& s, ExpiredMeaning expired = ExpiredMeaning::kIterator);

// The JSON 1.1 error response of spec 2.3: {"__type":..,"message":..} with the
// application/x-amz-json-1.1 content type and x-amzn-ErrorType. An empty `message` is left
// out (InternalFailure has none). `message_key` is "Message" for SerializationException.
net::Response error_response(int status, std::string_view type, std::string_view message,
                             std::string_view message_key = "message");

// error_response() for a failed Status (to_wire_error()); 5xx responses carry no message
// and the detail is logged.
net::Response status_response(const Status& s, ExpiredMeaning expired = ExpiredMeaning::kIterator);

inline constexpr std::string_view kJsonContentType = "application/x-amz-json-1.1";

}  // namespace sluice::kinesis
