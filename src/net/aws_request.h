#pragma once

#include "net/http_message.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::net {

// Pieces of the AWS request conventions that every API on the port shares (Kinesis, Lambda):
// query strings, percent-encoding, and who the caller is according to its SigV4 credential.

// %XX decoding; a '%' not followed by two hex digits stays as it is. '+' is left alone (AWS
// clients encode spaces as %20).
std::string percent_decode(std::string_view s);

// The raw (not decoded) value of query parameter `name`; nullopt when absent, "" for `name`
// without '='.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name);

// Every query parameter, decoded, in order (a name may repeat: tagKeys=a&tagKeys=b).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// The k=v pairs of a SigV4 Authorization header after the algorithm token, as sent.
std::vector<std::pair<std::string_view, std::string_view>> auth_params(std::string_view header);

// The account and region a request acts in: from the credential of its Authorization header
// (Credential=<akid>/<date>/<region>/<service>/aws4_request) or of a presigned query
// (X-Amz-Credential). An access key id of exactly 12 digits is the account; the scope's
// region counts when it looks like one ([a-z0-9-], 1 to 32 characters). Anything missing
// comes from the defaults. Signatures are not verified here.
struct Caller {
  std::string account;
  std::string region;
};
Caller caller_of(const Request& request, std::string_view default_account,
                 std::string_view default_region);

// The service its SigV4 credential scope names ("s3", "kinesis", ...); "s3" for a Signature
// Version 2 request (only S3 takes those); "" when the request is unsigned or the scope has no
// service part.
std::string signing_service(const Request& request);

}  // namespace sluice::net
