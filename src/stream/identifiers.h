#pragma once

#include "base/status.h"
#include "stream/types.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::stream {

// "shardId-" + the index zero-padded to 12 characters (5.2). Negative indices, which only
// parsed sequence numbers can carry (6.5), keep their sign inside the padding:
// -2147483648 -> "shardId--02147483648".
std::string format_shard_id(int64_t index);

// Lenient shard-id parsing (5.2): the text after the first '-' if there is one, else the whole
// string, must be ASCII digits with a value <= 2147483647. "shardId-5", "shard-5", "5" and
// "anything-00005" all give 5; nullopt means "unparseable" ("2.14E4", "ABKLFD8",
// "2147483648", "", "shardId-").
std::optional<int32_t> parse_shard_id(std::string_view text);

// arn:aws:kinesis:<region>:<account>:stream/<name> (section 4).
std::string stream_arn(const StreamKey& key);
// The inverse: "arn:<partition starting with aws>:kinesis:<region>:<account>:stream/<name>";
// nullopt when `arn` does not have that shape or a component is not valid (see
// validate_stream_key).
std::optional<StreamKey> parse_stream_arn(std::string_view arn);

// An enhanced fan-out consumer as its ARN names it (section 4).
struct ConsumerArn {
  StreamKey stream;
  std::string consumer_name;
  int64_t creation_s = 0;  // the consumer's creation time, epoch seconds
  bool operator==(const ConsumerArn&) const = default;
};
// arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<consumer>:<creation_s>.
std::string consumer_arn(const StreamKey& stream, std::string_view consumer_name,
                         int64_t creation_s);
// The inverse (any partition starting with "aws"); nullopt when `arn` does not have that
// shape, a name is not valid or the creation second is not a decimal number.
std::optional<ConsumerArn> parse_consumer_arn(std::string_view arn);

// kInvalidArgument unless account and region are 1-64 characters and the name 1-128
// characters, all of [A-Za-z0-9_.-].
Status validate_stream_key(const StreamKey& key);

}  // namespace sluice::stream
