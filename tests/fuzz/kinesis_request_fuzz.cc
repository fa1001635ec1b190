// Fuzz target: one Kinesis JSON request through kinesis::Api, as the HTTP layer hands it
// over. The first input byte picks the operation, the rest is the body. The service behind
// is real (StreamService over the embedded log on a MemFileSystem, the catalog in an
// in-memory SQLite), holding a stream "s" with two shards and a record, so valid-looking
// inputs reach the stream layer too. Any body may be refused, none may crash, and every
// refusal must carry an AWS-shaped error.

#include "tests/fuzz/kinesis_api_env.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::kinesis {
namespace {

constexpr std::array<std::string_view, 24> kOperations = {
    "CreateStream",
    "DeleteStream",
    "DescribeStream",
    "DescribeStreamSummary",
    "ListStreams",
    "ListShards",
    "PutRecord",
    "PutRecords",
    "GetShardIterator",
    "GetRecords",
    "SplitShard",
    "MergeShards",
    "UpdateShardCount",
    "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod",
    "AddTagsToStream",
    "RemoveTagsFromStream",
    "ListTagsForStream",
    "RegisterStreamConsumer",
    "DescribeStreamConsumer",
    "ListStreamConsumers",
    "TagResource",
    "PutResourcePolicy",
    "NoSuchOperation",
};

struct Env : fuzzing::KinesisApiEnv {
  Env() {
    FUZZ_CHECK(call("CreateStream", R"({"StreamName":"s","ShardCount":2})").status == 200);
    clock.advance_ms(60'000);  // past CREATING
    FUZZ_CHECK(call("PutRecord", R"({"StreamName":"s","PartitionKey":"k","Data":"aGk="})").status ==
               200);
  }

  net::Response call(std::string_view op, std::string_view body) {
    return KinesisApiEnv::call(op, body, "application/x-amz-json-1.1");
  }
};

}  // namespace
}  // namespace sluice::kinesis

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::kinesis;
  static Env* env = new Env();  // one service for the whole run; inputs may add streams
  if (size == 0) return 0;
  const std::string_view op = kOperations[data[0] % kOperations.size()];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const sluice::net::Response r = env->call(op, body);
  FUZZ_CHECK(r.status == 200 || (r.status >= 400 && r.status < 600));
  if (r.status != 200) {
    bool typed = false;
    for (const auto& [name, value] : r.headers)
      typed |= name == "x-amzn-ErrorType" && !value.empty();
    FUZZ_CHECK(typed);
  }
  env->clock.advance_ms(1);  // state transitions and iterator ages move on
  return 0;
}
