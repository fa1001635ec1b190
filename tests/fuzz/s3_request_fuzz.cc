// Fuzz target: one S3 REST request (path style) through s3::Api, as the router hands it over.
// The ObjectStore behind is real (files in a temporary directory, the system clock) and holds
// bucket "bkt" with object "k", so well-formed inputs reach the store too.
//
// Input layout (seeds in corpus/s3_request/ follow it):
//   byte 0      the method: GET PUT HEAD DELETE POST, or PATCH (by value mod 6)
//   byte 1      which optional headers follow, one bit each, in this order:
//                 0 content-encoding          1 x-amz-content-sha256
//                 2 x-amz-decoded-content-length  3 range
//                 4 x-amz-checksum-crc32      5 content-md5
//                 6 one more header written "name:value" (x-amz-copy-source, if-match, ...)
//   then        path '\n' query '\n', one '\n'-terminated line per header present,
//   the rest    the body.
// A missing line is empty; the rest of the input is then an empty body.
//
// Invariants for any input: no crash; the status is in [200, 600); a non-2xx answer to a
// non-HEAD request (other than 304, which has no body by definition) is an S3 XML error: it
// starts with "<?xml" and holds "<Error><Code>"; a failed HEAD has no body.

#include "base/clock.h"
#include "base/log.h"
#include "net/http_message.h"
#include "s3/api.h"
#include "s3/object_store.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdlib.h>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sluice::s3 {
namespace {

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

constexpr std::array<std::string_view, 6> kMethods = {"GET",    "PUT",  "HEAD",
                                                      "DELETE", "POST", "PATCH"};
constexpr std::array<std::string_view, 6> kHeaderNames = {
    "content-encoding",     "x-amz-content-sha256", "x-amz-decoded-content-length", "range",
    "x-amz-checksum-crc32", "content-md5"};
constexpr uint8_t kExtraHeaderBit = 1u << 6;

constexpr std::string_view kAuth =
    "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc";

// Inputs between two resets of the store (see Env::reset()).
constexpr int kResetEvery = 512;

class Env {
 public:
  Env() {
    // Lifecycle lines at info level would flood the run; internal errors still show.
    FUZZ_CHECK(logging::init("error").ok());
    std::string pattern = (std::filesystem::temp_directory_path() / "s3-fuzz-XXXXXX").string();
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    auto opened = ObjectStore::open(dir_ + "/store", SystemClock::instance());
    FUZZ_CHECK(opened.ok());
    store_ = std::move(*opened);
    api_ = std::make_unique<Api>(store_.get());
    reset();
  }

  ~Env() {
    api_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const Api& api() const { return *api_; }

  // Every kResetEvery inputs: empties and drops every bucket, then recreates "bkt" holding
  // "k", so the store stays small and the next inputs start from the same state.
  void after_input() {
    if (++inputs_ % kResetEvery == 0) reset();
  }

 private:
  void reset() {
    for (const BucketInfo& b : store_->list_buckets()) {
      while (true) {
        ListQuery q;
        auto page = store_->list_objects(b.name, q);
        FUZZ_CHECK(page.ok());
        for (const ObjectSummary& o : page->contents) {
          FUZZ_CHECK(store_->delete_object(b.name, o.key).ok());
        }
        if (!page->truncated) break;
      }
      FUZZ_CHECK(store_->delete_bucket(b.name).ok());
    }
    FUZZ_CHECK(store_->create_bucket("bkt", "us-east-1").ok());
    FUZZ_CHECK(store_->put_object("bkt", "k", "hello, sluice").ok());
  }

  std::string dir_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<Api> api_;
  int inputs_ = 0;
};

// The next '\n'-terminated line of `in` (all of it when there is no '\n'), removed from `in`.
std::string_view take_line(std::string_view& in) {
  const size_t nl = in.find('\n');
  const std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return line;
}

void check_response(std::string_view method, const net::Response& r) {
  FUZZ_CHECK(r.status >= 200 && r.status < 600);
  const bool success = r.status < 300;
  if (success || r.status == 304) return;
  if (method == "HEAD") {
    FUZZ_CHECK(r.body.empty());
    return;
  }
  FUZZ_CHECK(std::string_view(r.body).starts_with("<?xml"));
  FUZZ_CHECK(r.body.find("<Error><Code>") != std::string::npos);
}

}  // namespace
}  // namespace sluice::s3

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::s3;
  // One store for the whole run, removed with its directory when the process exits.
  static Env env;
  if (size < 2) return 0;
  const std::string_view method = kMethods[data[0] % kMethods.size()];
  const uint8_t present = data[1];
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  sluice::net::Request r;
  r.method = method;
  const std::string_view path = take_line(in);
  const std::string_view query = take_line(in);
  // As the connection splits a request-target: path and query are still percent-encoded.
  const std::string target =
      query.empty() ? std::string(path) : std::string(path) + "?" + std::string(query);
  r.target = target;
  r.path = path;
  r.query = query;
  r.headers = {
      {"Host", "localhost:4566"}, {"X-Amz-Date", "20240101T000000Z"}, {"Authorization", kAuth}};
  for (size_t i = 0; i < kHeaderNames.size(); ++i) {
    if ((present & (1u << i)) != 0) r.headers.push_back({kHeaderNames[i], take_line(in)});
  }
  if ((present & kExtraHeaderBit) != 0) {
    const std::string_view line = take_line(in);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      r.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
    }
  }
  r.body = in;

  check_response(method, env.api().handle(r));
  env.after_input();
  return 0;
}
