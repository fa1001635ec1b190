// Fuzz target: one Kinesis CBOR 1.1 request through kinesis::Api, as the HTTP layer hands it
// over. The first input byte picks the operation, the rest is the CBOR body. The service
// behind is real (StreamService over the embedded log on a MemFileSystem, the catalog in an
// in-memory SQLite), holding a stream "s" with two shards and a record, so valid-looking
// inputs reach the stream layer too. Checked for every input:
//  - nothing crashes; every answer is 200 or an error with an x-amzn-ErrorType;
//  - every answer is CBOR (content type, and a non-empty body is exactly one CBOR item);
//  - the transcoder alone: a body it accepts whose JSON parses goes back to CBOR and to the
//    same JSON (no blob or timestamp members in play, operation "").

#include "kinesis/cbor.h"
#include "tests/fuzz/kinesis_api_env.h"

#include <array>
#include <cbor.h>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <simdjson.h>
#include <string>
#include <string_view>

namespace sluice::kinesis {
namespace {

// Every operation with a blob or timestamp member comes first, then a few others.
constexpr std::array<std::string_view, 16> kOperations = {
    "PutRecord",
    "PutRecords",
    "GetShardIterator",
    "GetRecords",
    "ListShards",
    "ListStreamConsumers",
    "DescribeStreamSummary",
    "DescribeStream",
    "ListStreams",
    "RegisterStreamConsumer",
    "DescribeStreamConsumer",
    "DescribeAccountSettings",
    "CreateStream",
    "AddTagsToStream",
    "SubscribeToShard",
    "NoSuchOperation",
};

// CBOR text string head + bytes (lengths below 256 here).
std::string text(std::string_view s) {
  std::string out;
  if (s.size() < 24) {
    out.push_back(static_cast<char>(0x60 + s.size()));
  } else {
    out.push_back(static_cast<char>(0x78));
    out.push_back(static_cast<char>(s.size()));
  }
  out.append(s);
  return out;
}

struct Env : fuzzing::KinesisApiEnv {
  Env() {
    // {"StreamName":"s","ShardCount":2}
    FUZZ_CHECK(
        call("CreateStream", "\xa2" + text("StreamName") + text("s") + text("ShardCount") + "\x02")
            .status == 200);
    clock.advance_ms(60'000);  // past CREATING
    // {"StreamName":"s","PartitionKey":"k","Data":h'6869'}
    FUZZ_CHECK(call("PutRecord", "\xa3" + text("StreamName") + text("s") + text("PartitionKey") +
                                     text("k") + text("Data") + "\x42hi")
                   .status == 200);
  }

  net::Response call(std::string_view op, std::string_view body) {
    return KinesisApiEnv::call(op, body, kCborContentType);
  }
};

bool one_cbor_item(std::string_view bytes) {
  cbor_load_result result;
  cbor_item_t* item =
      cbor_load(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &result);
  if (item == nullptr) return false;
  cbor_decref(&item);
  return result.read == bytes.size();
}

void check_transcoder(std::string_view body) {
  auto json = cbor_to_json(body, "");
  if (!json.ok()) return;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*json).get(doc) != simdjson::SUCCESS) return;  // e.g. invalid UTF-8
  auto cbor = json_to_cbor(*json, "");
  FUZZ_CHECK(cbor.ok());
  FUZZ_CHECK(one_cbor_item(*cbor));
  auto again = cbor_to_json(*cbor, "");
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *json);
}

}  // namespace
}  // namespace sluice::kinesis

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::kinesis;
  static Env* env = new Env();  // one service for the whole run; inputs may add streams
  if (size == 0) return 0;
  const std::string_view op = kOperations[data[0] % kOperations.size()];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  check_transcoder(body);
  const sluice::net::Response r = env->call(op, body);
  FUZZ_CHECK(r.status == 200 || (r.status >= 400 && r.status < 600));
  FUZZ_CHECK(r.content_type == kCborContentType);
  FUZZ_CHECK(r.body.empty() ? r.status == 200 : one_cbor_item(r.body));
  if (r.status != 200) {
    bool typed = false;
    for (const auto& [name, value] : r.headers)
      typed |= name == "x-amzn-ErrorType" && !value.empty();
    FUZZ_CHECK(typed);
  }
  env->clock.advance_ms(1);  // state transitions and iterator ages move on
  return 0;
}
