// Fuzz target: one SQS JSON request through sqs::Api, as the router hands it over. Byte 0
// picks the X-Amz-Target operation: one of SQS's real operation names, or (the last choice)
// a raw name taken from the input up to the first '\n'. The rest of the input is the JSON
// body. The QueueService behind is real (SQLite in a temporary directory, the system clock)
// and holds a queue "q" with one message, so well-formed inputs reach the store too.
//
// Invariants for any input: no crash; the status is 200 or 4xx/5xx; the body is JSON that
// simdjson accepts; a refusal's body is an object with a string "__type".
//
// Receives never wait: the service is shut down before the first input, which makes a
// long poll answer at once with what it has (a wait would stall the run for real seconds).

#include "base/clock.h"
#include "base/log.h"
#include "net/http_message.h"
#include "sqs/api.h"
#include "sqs/queue_service.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <simdjson.h>
#include <stdlib.h>
#include <string>
#include <string_view>
#include <system_error>

namespace sluice::sqs {
namespace {

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

constexpr std::array<std::string_view, 23> kOperations = {
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "CreateQueue",
    "DeleteMessage",
    "DeleteMessageBatch",
    "DeleteQueue",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "SendMessage",
    "SendMessageBatch",
    "SetQueueAttributes",
    "AddPermission",
    "CancelMessageMoveTask",
    "ListDeadLetterSourceQueues",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "RemovePermission",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
};

constexpr std::string_view kAuth =
    "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc";
constexpr std::string_view kAccount = "000000000000";
constexpr std::string_view kRegion = "us-east-1";

// Inputs between two resets of the store (see Env::reset()).
constexpr int kResetEvery = 512;

class Env {
 public:
  Env() {
    // Lifecycle lines at info level would flood the run; internal errors still show.
    FUZZ_CHECK(logging::init("error").ok());
    std::string pattern = (std::filesystem::temp_directory_path() / "sqs-fuzz-XXXXXX").string();
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    auto opened = QueueService::open(dir_ + "/sqs.db", SystemClock::instance(), {});
    FUZZ_CHECK(opened.ok());
    service_ = std::move(*opened);
    service_->shutdown();  // receives answer at once (see the top of this file)
    api_ = std::make_unique<Api>(service_.get());
    reset();
  }

  ~Env() {
    api_.reset();
    service_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  net::Response call(std::string_view target, std::string_view body) const {
    net::Request r;
    r.method = "POST";
    r.target = "/";
    r.path = "/";
    r.headers = {{"X-Amz-Target", target},
                 {"Content-Type", "application/x-amz-json-1.0"},
                 {"Host", "localhost:4566"},
                 {"X-Amz-Date", "20240101T000000Z"},
                 {"Authorization", kAuth}};
    r.body = body;
    return api_->handle(r);
  }

  // Every kResetEvery inputs: drops every queue and recreates "q" with one message, so that
  // the database stays small and "q" has its default attributes again.
  void after_input() {
    if (++inputs_ % kResetEvery == 0) reset();
  }

 private:
  void reset() {
    auto names = service_->list_queues(kAccount, kRegion, "", "", 100000);
    FUZZ_CHECK(names.ok());
    for (const std::string& name : *names) {
      FUZZ_CHECK(
          service_->delete_queue(QueueKey{std::string(kAccount), std::string(kRegion), name}).ok());
    }
    FUZZ_CHECK(call("AmazonSQS.CreateQueue", R"({"QueueName":"q"})").status == 200);
    FUZZ_CHECK(call("AmazonSQS.SendMessage",
                    R"({"QueueUrl":"http://localhost:4566/000000000000/q","MessageBody":"hi"})")
                   .status == 200);
  }

  std::string dir_;
  std::unique_ptr<QueueService> service_;
  std::unique_ptr<Api> api_;
  int inputs_ = 0;
};

void check_response(const net::Response& r) {
  FUZZ_CHECK(r.status == 200 || (r.status >= 400 && r.status < 600));
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  FUZZ_CHECK(parser.parse(r.body).get(doc) == simdjson::SUCCESS);
  if (r.status != 200) {
    std::string_view type;
    FUZZ_CHECK(doc["__type"].get(type) == simdjson::SUCCESS);
    FUZZ_CHECK(!type.empty());
  }
}

}  // namespace
}  // namespace sluice::sqs

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::sqs;
  // One service for the whole run, removed with its directory when the process exits.
  static Env env;
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string target;
  const size_t choice = data[0] % (kOperations.size() + 1);
  if (choice < kOperations.size()) {
    target = "AmazonSQS." + std::string(kOperations[choice]);
  } else {
    // A raw target: prefixes, unknown names and stray bytes in the header value.
    const size_t nl = rest.find('\n');
    target = std::string(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  check_response(env.call(target, rest));
  env.after_input();
  return 0;
}
