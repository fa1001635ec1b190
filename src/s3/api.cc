#include "s3/api.h"

#include "base/base64.h"
#include "base/bytes.h"
#include "base/log.h"
#include "net/aws_request.h"
#include "s3/internal/aws_chunked.h"
#include "s3/internal/checksums.h"
#include "s3/internal/xml.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <optional>
#include <random>

// What is supported and how it differs from AWS: docs/wire/s3.md.
namespace sluice::s3 {

namespace {

using internal::ChecksumAlgorithm;
using internal::XmlWriter;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kXmlns = R"(xmlns="http://s3.amazonaws.com/doc/2006-03-01/")";
constexpr size_t kMaxListKeys = 1000;
constexpr size_t kMaxDeleteKeys = 1000;
constexpr size_t kMaxUserMetadataBytes = 2048;

// Query parameters that select an S3 subresource Sluice does not provide.
constexpr std::array<std::string_view, 30> kUnsupportedSubresources = {
    "accelerate",     "acl",          "analytics",         "attributes",
    "cors",           "encryption",   "inventory",         "intelligent-tiering",
    "legal-hold",     "lifecycle",    "logging",           "metrics",
    "notification",   "object-lock",  "ownershipControls", "partNumber",
    "policy",         "policyStatus", "publicAccessBlock", "replication",
    "requestPayment", "restore",      "retention",         "select",
    "tagging",        "torrent",      "uploadId",          "uploads",
    "versions",       "website"};

// Request headers PutObject keeps and GET/HEAD echo, besides x-amz-meta-* and checksums.
constexpr std::array<std::string_view, 5> kStoredHeaders = {
    "cache-control", "content-disposition", "content-encoding", "content-language", "expires"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{:016X}", rng());
}

std::string new_host_id() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::array<std::byte, 48> bytes{};
  for (auto& b : bytes) b = std::byte(rng() & 0xff);
  return base64_encode(bytes);
}

std::tm utc(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

// "Wed, 12 Oct 2009 17:50:00 GMT" (Last-Modified).
std::string http_date(int64_t ms) {
  static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                            "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::tm tm = utc(ms);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// "2009-10-12T17:50:30.000Z" (XML timestamps).
std::string iso_date(int64_t ms) {
  const std::tm tm = utc(ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

// encoding-type=url: everything but RFC 3986 unreserved characters and '/' as %XX, so that
// clients (botocore uses unquote_plus) get the exact bytes back.
std::string url_encode(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

// One "bytes=a-b", "bytes=a-" or "bytes=-n" range against an object of `size` bytes.
// nullopt for a header S3 ignores (malformed, or several ranges): the whole object is sent.
// `unsatisfiable` is set when the range is well formed but starts past the end.
std::optional<ByteRange> parse_range(std::string_view h, uint64_t size, bool& unsatisfiable) {
  unsatisfiable = false;
  if (!h.starts_with("bytes=")) return std::nullopt;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return std::nullopt;
  const size_t dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  if (a.empty()) {
    const auto n = parse_uint(b);
    if (!n) return std::nullopt;
    if (*n == 0 || size == 0) {
      unsatisfiable = true;
      return std::nullopt;
    }
    return ByteRange{size - std::min(*n, size), size - 1};
  }
  const auto first = parse_uint(a);
  if (!first) return std::nullopt;
  std::optional<uint64_t> last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    last = parse_uint(b);
    if (!last || *last < *first) return std::nullopt;
  }
  if (*first >= size) {
    unsatisfiable = true;
    return std::nullopt;
  }
  return ByteRange{*first, std::min(*last, size - 1)};
}

// One request on its way through the handlers.
struct Call {
  Call(const net::Request& r, std::string id, net::Caller who)
      : req(r), request_id(std::move(id)), caller(std::move(who)) {}

  const net::Request& req;
  std::string request_id;
  net::Caller caller;
  std::string bucket;  // decoded; "" for the service (ListBuckets)
  std::string key;     // decoded; "" for bucket operations
  std::vector<std::pair<std::string, std::string>> query;
  std::string operation = "Unknown";

  bool has_param(std::string_view name) const {
    return std::any_of(query.begin(), query.end(), [&](const auto& p) { return p.first == name; });
  }
  std::optional<std::string> param(std::string_view name) const {
    for (const auto& [n, v] : query) {
      if (n == name) return v;
    }
    return std::nullopt;
  }
};

net::Response xml_response(int status, std::string body) {
  net::Response r;
  r.status = status;
  r.content_type = "application/xml";
  r.body = std::move(body);
  return r;
}

net::Response empty_response(int status) {
  net::Response r;
  r.status = status;
  r.content_type.clear();
  return r;
}

net::Response error(const Call& c, int status, std::string_view code, std::string_view message,
                    const Headers& extra = {}) {
  XmlWriter w("Error");
  w.element("Code", code);
  w.element("Message", message);
  for (const auto& [name, value] : extra) w.element(name, value);
  w.element("RequestId", c.request_id);
  w.element("HostId", new_host_id());
  return xml_response(status, std::move(w).finish());
}

net::Response no_such_bucket(const Call& c) {
  return error(c, 404, "NoSuchBucket", "The specified bucket does not exist",
               {{"BucketName", c.bucket}});
}

net::Response no_such_key(const Call& c) {
  return error(c, 404, "NoSuchKey", "The specified key does not exist.", {{"Key", c.key}});
}

net::Response internal_error(const Call& c, const Status& s) {
  logging::get("s3")->error("op={} bucket={} request={} failed: {}", c.operation, c.bucket,
                            c.request_id, s.to_string());
  return error(c, 500, "InternalError", "We encountered an internal error. Please try again.");
}

net::Response not_implemented(const Call& c, std::string_view what) {
  return error(c, 501, "NotImplemented",
               fmt::format("Sluice does not implement {} (see docs/wire/s3.md)", what));
}

net::Response method_not_allowed(const Call& c, std::string_view resource) {
  return error(c, 405, "MethodNotAllowed",
               "The specified method is not allowed against this resource.",
               {{"Method", std::string(c.req.method)}, {"ResourceType", std::string(resource)}});
}

// A missing object or bucket, told apart.
net::Response not_found(const Call& c, const ObjectStore& store) {
  return store.check_bucket(c.bucket).ok() ? no_such_key(c) : no_such_bucket(c);
}

void add_owner(XmlWriter& w, const Call& c) {
  w.open("Owner");
  w.element("ID", internal::hex(c.caller.account) + std::string(40, '0'));
  w.element("DisplayName", "sluice");
  w.close("Owner");
}

// ---- Request bodies ----

// The body a handler should store or parse: aws-chunked bodies decoded, trailers collected.
struct Body {
  std::string decoded;  // used when the request was aws-chunked
  std::string_view bytes;
  Headers trailers;
};

// Decodes the body when it is aws-chunked and checks what the client said about it
// (x-amz-decoded-content-length, x-amz-content-sha256 of a plain body). An error response,
// or nullopt with `out` filled.
std::optional<net::Response> read_body(const Call& c, Body& out) {
  const std::string_view sha = c.req.header("x-amz-content-sha256");
  const std::string encoding = lower(c.req.header("content-encoding"));
  const bool chunked =
      sha.starts_with("STREAMING-") || encoding.find("aws-chunked") != std::string::npos;
  if (!chunked) {
    out.bytes = c.req.body;
    if (sha.size() == 64 && internal::sha256_hex(out.bytes) != lower(sha)) {
      return error(c, 400, "XAmzContentSHA256Mismatch",
                   "The provided 'x-amz-content-sha256' header does not match what was computed.",
                   {{"ClientComputedContentSHA256", std::string(sha)},
                    {"S3ComputedContentSHA256", internal::sha256_hex(out.bytes)}});
    }
    return std::nullopt;
  }
  auto decoded = internal::decode_aws_chunked(c.req.body);
  if (!decoded.ok()) {
    return error(c, 400, "IncompleteBody", std::string(decoded.status().message()));
  }
  out.decoded = std::move(decoded->body);
  out.trailers = std::move(decoded->trailers);
  out.bytes = out.decoded;
  if (c.req.has_header("x-amz-decoded-content-length")) {
    const auto n = parse_uint(c.req.header("x-amz-decoded-content-length"));
    if (!n || *n != out.bytes.size()) {
      return error(c, 400, "IncompleteBody",
                   "You did not provide the number of bytes specified by the "
                   "x-amz-decoded-content-length header.");
    }
  }
  return std::nullopt;
}

// Every x-amz-checksum-<algorithm> the client sent (headers first, then trailers), checked
// against `body`. Fills `verified` with (header name, value) pairs to store and echo.
std::optional<net::Response> check_checksums(const Call& c, const Body& body, Headers& verified) {
  Headers claimed;
  for (const auto& h : c.req.headers) {
    const std::string name = lower(h.name);
    if (name.starts_with("x-amz-checksum-") && name != "x-amz-checksum-type" &&
        name != "x-amz-checksum-mode" && name != "x-amz-checksum-algorithm") {
      claimed.emplace_back(name, std::string(h.value));
    }
  }
  for (const auto& [name, value] : body.trailers) {
    if (name.starts_with("x-amz-checksum-")) claimed.emplace_back(name, value);
  }
  for (const auto& [name, value] : claimed) {
    const auto alg = internal::checksum_algorithm(std::string_view(name).substr(15));
    if (!alg) {
      return error(c, 400, "InvalidRequest",
                   fmt::format("Checksum algorithm of header {} is not supported", name));
    }
    if (internal::checksum_value(*alg, body.bytes) != value) {
      return error(c, 400, "BadDigest",
                   fmt::format("The {} you specified did not match the calculated checksum.",
                               internal::checksum_name(*alg)));
    }
    const std::string& header_name = name;
    if (std::none_of(verified.begin(), verified.end(),
                     [&](const auto& p) { return p.first == header_name; })) {
      verified.emplace_back(name, value);
    }
  }
  // Asked for an algorithm without sending its value: S3 computes it.
  const std::string asked = lower(c.req.header("x-amz-sdk-checksum-algorithm"));
  if (!asked.empty() && verified.empty()) {
    if (const auto alg = internal::checksum_algorithm(asked)) {
      verified.emplace_back(std::string(internal::checksum_header(*alg)),
                            internal::checksum_value(*alg, body.bytes));
    }
  }
  if (c.req.has_header("content-md5")) {
    std::string md5;
    if (base64_decode(c.req.header("content-md5"), md5).has_value() || md5.size() != 16) {
      return error(c, 400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
    }
    const internal::Md5Digest d = internal::md5(body.bytes);
    if (md5 != std::string_view(reinterpret_cast<const char*>(d.data()), d.size())) {
      return error(c, 400, "BadDigest",
                   "The Content-MD5 you specified did not match what we received.");
    }
  }
  return std::nullopt;
}

// Content type and stored headers for a PutObject (or a CopyObject with REPLACE).
std::optional<net::Response> put_options_from(const Call& c, PutOptions& o) {
  o.content_type = std::string(c.req.header("content-type"));
  size_t meta_bytes = 0;
  for (const auto& h : c.req.headers) {
    const std::string name = lower(h.name);
    if (name.starts_with("x-amz-meta-")) {
      meta_bytes += name.size() - 11 + h.value.size();
      o.headers.emplace_back(name, std::string(h.value));
    } else if (std::find(kStoredHeaders.begin(), kStoredHeaders.end(), name) !=
               kStoredHeaders.end()) {
      std::string value(h.value);
      if (name == "content-encoding") {
        // aws-chunked describes this request's framing, not the object.
        std::string kept;
        size_t pos = 0;
        while (pos <= value.size()) {
          size_t comma = value.find(',', pos);
          if (comma == std::string::npos) comma = value.size();
          std::string token = value.substr(pos, comma - pos);
          token.erase(0, token.find_first_not_of(' '));
          token.erase(token.find_last_not_of(' ') + 1);
          if (!token.empty() && lower(token) != "aws-chunked") {
            if (!kept.empty()) kept += ",";
            kept += token;
          }
          pos = comma + 1;
        }
        if (kept.empty()) continue;
        value = std::move(kept);
      }
      o.headers.emplace_back(name, std::move(value));
    }
  }
  if (meta_bytes > kMaxUserMetadataBytes) {
    return error(c, 400, "MetadataTooLarge",
                 "Your metadata headers exceed the maximum allowed metadata size.",
                 {{"Size", std::to_string(meta_bytes)},
                  {"MaxSizeAllowed", std::to_string(kMaxUserMetadataBytes)}});
  }
  return std::nullopt;
}

net::Response key_error(const Call& c, std::string_view problem) {
  if (c.key.size() > kMaxKeyBytes) {
    return error(
        c, 400, "KeyTooLongError", "Your key is too long",
        {{"Size", std::to_string(c.key.size())}, {"MaxSizeAllowed", std::to_string(kMaxKeyBytes)}});
  }
  return error(c, 400, "InvalidArgument", problem);
}

// ---- Service and bucket operations ----

net::Response list_buckets(const Call& c, const ObjectStore& store) {
  const std::string prefix = c.param("prefix").value_or("");
  XmlWriter w("ListAllMyBucketsResult", kXmlns);
  add_owner(w, c);
  w.open("Buckets");
  for (const BucketInfo& b : store.list_buckets()) {
    if (!b.name.starts_with(prefix)) continue;
    w.open("Bucket");
    w.element("Name", b.name);
    w.element("CreationDate", iso_date(b.created_ms));
    w.element("BucketRegion", b.region);
    w.close("Bucket");
  }
  w.close("Buckets");
  if (!prefix.empty()) w.element("Prefix", prefix);
  return xml_response(200, std::move(w).finish());
}

net::Response create_bucket(const Call& c, ObjectStore& store, const Body& body) {
  if (auto problem = bucket_name_problem(c.bucket)) {
    return error(c, 400, "InvalidBucketName", "The specified bucket is not valid.",
                 {{"BucketName", c.bucket}});
  }
  std::string region = c.caller.region;
  if (!body.bytes.empty()) {
    const auto constraint = internal::xml_texts(body.bytes, "LocationConstraint");
    if (!constraint || body.bytes.find("CreateBucketConfiguration") == std::string_view::npos) {
      return error(c, 400, "MalformedXML",
                   "The XML you provided was not well-formed or did not validate against our "
                   "published schema");
    }
    if (!constraint->empty() && !constraint->front().empty()) region = constraint->front();
  }
  const Status s = store.create_bucket(c.bucket, region);
  if (s.code() == Code::kAlreadyExists) {
    return error(c, 409, "BucketAlreadyOwnedByYou",
                 "Your previous request to create the named bucket succeeded and you already "
                 "own it.",
                 {{"BucketName", c.bucket}});
  }
  if (s.code() == Code::kInvalidArgument) {
    return error(c, 400, "InvalidBucketName", "The specified bucket is not valid.",
                 {{"BucketName", c.bucket}});
  }
  if (!s.ok()) return internal_error(c, s);
  net::Response r = empty_response(200);
  r.headers.emplace_back("Location", "/" + c.bucket);
  return r;
}

net::Response delete_bucket(const Call& c, ObjectStore& store) {
  const Status s = store.delete_bucket(c.bucket);
  if (s.is_not_found()) return no_such_bucket(c);
  if (s.code() == Code::kInUse) {
    return error(c, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty",
                 {{"BucketName", c.bucket}});
  }
  if (!s.ok()) return internal_error(c, s);
  return empty_response(204);
}

net::Response head_bucket(const Call& c, const ObjectStore& store) {
  auto b = store.bucket(c.bucket);
  if (!b.ok()) return no_such_bucket(c);
  net::Response r = empty_response(200);
  r.headers.emplace_back("x-amz-bucket-region", b->region);
  r.headers.emplace_back("x-amz-access-point-alias", "false");
  return r;
}

net::Response bucket_location(const Call& c, const ObjectStore& store) {
  auto b = store.bucket(c.bucket);
  if (!b.ok()) return no_such_bucket(c);
  // S3 reports us-east-1 as the empty constraint.
  const std::string region = b->region == "us-east-1" ? "" : b->region;
  return xml_response(200, fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                       "<LocationConstraint {}>{}</LocationConstraint>",
                                       kXmlns, internal::xml_escape(region)));
}

net::Response bucket_versioning(const Call& c, const ObjectStore& store) {
  if (!store.check_bucket(c.bucket).ok()) return no_such_bucket(c);
  return xml_response(200, std::move(XmlWriter("VersioningConfiguration", kXmlns)).finish());
}

// ListObjects (v1) and ListObjectsV2: the same page, two vocabularies.
net::Response list_objects(const Call& c, const ObjectStore& store, bool v2) {
  ListQuery q;
  q.prefix = c.param("prefix").value_or("");
  q.delimiter = c.param("delimiter").value_or("");
  q.max_keys = kMaxListKeys;
  if (auto mk = c.param("max-keys")) {
    const auto n = parse_uint(*mk);
    if (!n) {
      return error(c, 400, "InvalidArgument",
                   "Provided max-keys not an integer or within "
                   "integer range",
                   {{"ArgumentName", "max-keys"}, {"ArgumentValue", *mk}});
    }
    q.max_keys = static_cast<size_t>(std::min<uint64_t>(*n, kMaxListKeys));
  }
  const std::optional<std::string> encoding = c.param("encoding-type");
  if (encoding && *encoding != "url") {
    return error(c, 400, "InvalidArgument", "Invalid Encoding Method specified in Request",
                 {{"ArgumentName", "encoding-type"}, {"ArgumentValue", *encoding}});
  }
  const bool url = encoding.has_value();
  auto enc = [url](std::string_view s) { return url ? url_encode(s) : std::string(s); };

  const std::optional<std::string> token = v2 ? c.param("continuation-token") : std::nullopt;
  const std::string start_after = v2 ? c.param("start-after").value_or("") : "";
  if (token) {
    // The token is the base64 of the marker to resume after (docs/wire/s3.md).
    if (token->empty() || base64_decode(*token, q.marker).has_value()) {
      return error(c, 400, "InvalidArgument", "The continuation token provided is incorrect",
                   {{"ArgumentName", "continuation-token"}, {"ArgumentValue", *token}});
    }
  } else if (v2) {
    q.marker = start_after;
  } else {
    q.marker = c.param("marker").value_or("");
  }

  auto page = store.list_objects(c.bucket, q);
  if (!page.ok()) {
    if (page.status().is_not_found()) return no_such_bucket(c);
    return internal_error(c, page.status());
  }
  const bool fetch_owner = !v2 || c.param("fetch-owner") == "true";

  XmlWriter w("ListBucketResult", kXmlns);
  w.element("Name", c.bucket);
  w.element("Prefix", enc(q.prefix));
  if (v2) {
    if (token) w.element("ContinuationToken", *token);
    if (page->truncated) {
      w.element("NextContinuationToken", base64_encode(as_bytes(page->next_marker)));
    }
    if (!start_after.empty()) w.element("StartAfter", enc(start_after));
    w.element("KeyCount", std::to_string(page->contents.size() + page->common_prefixes.size()));
  } else {
    w.element("Marker", enc(q.marker));
    if (page->truncated) w.element("NextMarker", enc(page->next_marker));
  }
  w.element("MaxKeys", std::to_string(q.max_keys));
  if (!q.delimiter.empty()) w.element("Delimiter", enc(q.delimiter));
  if (url) w.element("EncodingType", "url");
  w.element("IsTruncated", page->truncated ? "true" : "false");
  for (const ObjectSummary& o : page->contents) {
    w.open("Contents");
    w.element("Key", enc(o.key));
    w.element("LastModified", iso_date(o.last_modified_ms));
    w.element("ETag", o.etag);
    w.element("Size", std::to_string(o.size));
    if (fetch_owner) add_owner(w, c);
    w.element("StorageClass", "STANDARD");
    w.close("Contents");
  }
  for (const std::string& p : page->common_prefixes) {
    w.open("CommonPrefixes");
    w.element("Prefix", enc(p));
    w.close("CommonPrefixes");
  }
  return xml_response(200, std::move(w).finish());
}

net::Response delete_objects(const Call& c, ObjectStore& store, const Body& body) {
  const auto keys = internal::xml_texts(body.bytes, "Key");
  const auto quiet = internal::xml_texts(body.bytes, "Quiet");
  if (!keys || !quiet || keys->empty() || keys->size() > kMaxDeleteKeys ||
      body.bytes.find("<Delete") == std::string_view::npos) {
    return error(c, 400, "MalformedXML",
                 "The XML you provided was not well-formed or did not validate against our "
                 "published schema");
  }
  if (!store.check_bucket(c.bucket).ok()) return no_such_bucket(c);
  const bool is_quiet = !quiet->empty() && quiet->front() == "true";
  XmlWriter w("DeleteResult", kXmlns);
  for (const std::string& key : *keys) {
    Status s = key_problem(key) ? Status::invalid_argument(*key_problem(key))
                                : store.delete_object(c.bucket, key);
    if (s.ok()) {
      if (is_quiet) continue;
      w.open("Deleted");
      w.element("Key", key);
      w.close("Deleted");
      continue;
    }
    w.open("Error");
    w.element("Key", key);
    if (s.is_not_found()) {
      w.element("Code", "NoSuchBucket");
      w.element("Message", "The specified bucket does not exist");
    } else if (s.code() == Code::kInvalidArgument) {
      w.element("Code", "InvalidArgument");
      w.element("Message", s.message());
    } else {
      logging::get("s3")->error("bucket={} request={} DeleteObjects entry failed: {}", c.bucket,
                                c.request_id, s.to_string());
      w.element("Code", "InternalError");
      w.element("Message", "We encountered an internal error. Please try again.");
    }
    w.close("Error");
  }
  return xml_response(200, std::move(w).finish());
}

// ---- Object operations ----

void add_object_headers(net::Response& r, const StoredObject& o, bool with_checksum) {
  r.content_type = o.content_type();
  r.headers.emplace_back("ETag", o.summary().etag);
  r.headers.emplace_back("Last-Modified", http_date(o.summary().last_modified_ms));
  r.headers.emplace_back("Accept-Ranges", "bytes");
  for (const auto& [name, value] : o.headers()) {
    if (name.starts_with("x-amz-checksum-")) {
      if (!with_checksum) continue;
      r.headers.emplace_back(name, value);
      r.headers.emplace_back("x-amz-checksum-type", "FULL_OBJECT");
      continue;
    }
    r.headers.emplace_back(name, value);
  }
}

net::Response put_object(const Call& c, ObjectStore& store, const Body& body) {
  if (auto problem = key_problem(c.key)) return key_error(c, *problem);
  PutOptions o;
  Headers checksums;
  if (auto r = check_checksums(c, body, checksums)) return std::move(*r);
  if (auto r = put_options_from(c, o)) return std::move(*r);
  o.headers.insert(o.headers.end(), checksums.begin(), checksums.end());
  auto put = store.put_object(c.bucket, c.key, body.bytes, o);
  if (!put.ok()) {
    if (put.status().is_not_found()) return no_such_bucket(c);
    if (put.status().code() == Code::kInvalidArgument) {
      return key_error(c, put.status().message());
    }
    return internal_error(c, put.status());
  }
  net::Response r = empty_response(200);
  r.headers.emplace_back("ETag", put->etag);
  for (const auto& [name, value] : checksums) {
    r.headers.emplace_back(name, value);
    r.headers.emplace_back("x-amz-checksum-type", "FULL_OBJECT");
  }
  return r;
}

net::Response copy_object(const Call& c, ObjectStore& store) {
  if (auto problem = key_problem(c.key)) return key_error(c, *problem);
  std::string source = net::percent_decode(c.req.header("x-amz-copy-source"));
  if (const size_t q = source.find('?'); q != std::string::npos) source.resize(q);
  if (source.starts_with('/')) source.erase(0, 1);
  const size_t slash = source.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == source.size()) {
    return error(c, 400, "InvalidArgument",
                 "Copy Source must mention the source bucket and key: "
                 "sourcebucket/sourcekey",
                 {{"ArgumentName", "x-amz-copy-source"}});
  }
  const std::string src_bucket = source.substr(0, slash), src_key = source.substr(slash + 1);
  const bool replace = c.req.header("x-amz-metadata-directive") == "REPLACE";
  if (src_bucket == c.bucket && src_key == c.key && !replace) {
    return error(c, 400, "InvalidRequest",
                 "This copy request is illegal because it is trying to copy an object to itself "
                 "without changing the object's metadata, storage class, website redirect "
                 "location or encryption attributes.");
  }
  auto src = store.get_object(src_bucket, src_key);
  if (!src.ok()) {
    if (!src.status().is_not_found()) return internal_error(c, src.status());
    if (!store.check_bucket(src_bucket).ok()) {
      return error(c, 404, "NoSuchBucket", "The specified bucket does not exist",
                   {{"BucketName", src_bucket}});
    }
    return error(c, 404, "NoSuchKey", "The specified key does not exist.", {{"Key", src_key}});
  }
  auto bytes = src->read(0, src->summary().size);
  if (!bytes.ok()) return internal_error(c, bytes.status());
  PutOptions o;
  if (replace) {
    if (auto r = put_options_from(c, o)) return std::move(*r);
  } else {
    o.content_type = src->content_type();
    o.headers = src->headers();
  }
  auto put = store.put_object(c.bucket, c.key, *bytes, o);
  if (!put.ok()) {
    if (put.status().is_not_found()) return no_such_bucket(c);
    return internal_error(c, put.status());
  }
  XmlWriter w("CopyObjectResult", kXmlns);
  w.element("LastModified", iso_date(put->last_modified_ms));
  w.element("ETag", put->etag);
  return xml_response(200, std::move(w).finish());
}

net::Response get_object(const Call& c, const ObjectStore& store, bool head) {
  if (c.key.size() > kMaxKeyBytes) return key_error(c, "Your key is too long");
  auto got = store.get_object(c.bucket, c.key);
  if (!got.ok()) {
    if (got.status().is_not_found()) return not_found(c, store);
    return internal_error(c, got.status());
  }
  const StoredObject& o = *got;
  const uint64_t size = o.summary().size;
  const std::string& etag = o.summary().etag;
  // Conditional requests: the entity tags (dates are not compared, docs/wire/s3.md).
  if (const std::string_view m = c.req.header("if-match"); !m.empty()) {
    if (m != "*" && m != etag && "\"" + std::string(m) + "\"" != etag) {
      return error(c, 412, "PreconditionFailed",
                   "At least one of the pre-conditions you specified did not hold",
                   {{"Condition", "If-Match"}});
    }
  }
  if (const std::string_view m = c.req.header("if-none-match"); !m.empty()) {
    if (m == "*" || m == etag || "\"" + std::string(m) + "\"" == etag) {
      net::Response r = empty_response(304);
      r.headers.emplace_back("ETag", etag);
      r.headers.emplace_back("Last-Modified", http_date(o.summary().last_modified_ms));
      return r;
    }
  }
  bool unsatisfiable = false;
  const std::string_view range_header = c.req.header("range");
  const std::optional<ByteRange> range =
      range_header.empty() ? std::nullopt : parse_range(range_header, size, unsatisfiable);
  if (unsatisfiable) {
    return error(c, 416, "InvalidRange", "The requested range is not satisfiable",
                 {{"RangeRequested", std::string(range_header)},
                  {"ActualObjectSize", std::to_string(size)}});
  }
  const uint64_t first = range ? range->first : 0;
  const uint64_t n = range ? range->last - range->first + 1 : size;
  net::Response r;
  r.status = range ? 206 : 200;
  const bool checksum_mode = lower(c.req.header("x-amz-checksum-mode")) == "enabled";
  add_object_headers(r, o, checksum_mode && !range);
  if (range) {
    r.headers.emplace_back("Content-Range",
                           fmt::format("bytes {}-{}/{}", range->first, range->last, size));
  }
  // response-* query parameters override stored headers (presigned downloads use them).
  for (const auto& [param, header] : std::array<std::pair<std::string_view, std::string_view>, 5>{
           {{"response-cache-control", "Cache-Control"},
            {"response-content-disposition", "Content-Disposition"},
            {"response-content-encoding", "Content-Encoding"},
            {"response-content-language", "Content-Language"},
            {"response-expires", "Expires"}}}) {
    if (auto v = c.param(param)) r.headers.emplace_back(header, *v);
  }
  if (auto v = c.param("response-content-type")) r.content_type = *v;
  if (head) {
    r.head_content_length = n;  // the file is not read
    return r;
  }
  auto bytes = o.read(first, n);
  if (!bytes.ok()) return internal_error(c, bytes.status());
  r.body = std::move(bytes).value();
  return r;
}

net::Response delete_object(const Call& c, ObjectStore& store) {
  if (auto problem = key_problem(c.key)) return key_error(c, *problem);
  const Status s = store.delete_object(c.bucket, c.key);
  if (s.is_not_found()) return no_such_bucket(c);
  if (!s.ok()) return internal_error(c, s);
  return empty_response(204);
}

// ---- Dispatch ----

std::optional<std::string_view> unsupported_subresource(const Call& c) {
  for (const auto& [name, value] : c.query) {
    const auto* it =
        std::find(kUnsupportedSubresources.begin(), kUnsupportedSubresources.end(), name);
    if (it != kUnsupportedSubresources.end()) return *it;
  }
  return std::nullopt;
}

net::Response dispatch(Call& c, ObjectStore& store) {
  const std::string_view method = c.req.method;
  if (c.bucket.empty()) {
    c.operation = "ListBuckets";
    if (method == "GET") return list_buckets(c, store);
    return method_not_allowed(c, "SERVICE");
  }
  const bool multipart = c.has_param("uploads") || c.has_param("uploadId");
  if (multipart) {
    c.operation = "Multipart";
    return not_implemented(c,
                           "multipart uploads; send objects of up to 16 MiB with PutObject "
                           "(aws s3 cp switches to multipart above 8 MB: raise "
                           "multipart_threshold)");
  }
  if (c.key.empty()) {
    if (method == "GET" && c.has_param("location")) {
      c.operation = "GetBucketLocation";
      return bucket_location(c, store);
    }
    if (method == "GET" && c.has_param("versioning")) {
      c.operation = "GetBucketVersioning";
      return bucket_versioning(c, store);
    }
    if (auto sub = unsupported_subresource(c)) {
      c.operation = std::string(*sub);
      return not_implemented(c, fmt::format("the bucket subresource '{}'", *sub));
    }
    Body body;
    if (auto r = read_body(c, body)) return std::move(*r);
    if (method == "PUT") {
      c.operation = "CreateBucket";
      return create_bucket(c, store, body);
    }
    if (method == "HEAD") {
      c.operation = "HeadBucket";
      return head_bucket(c, store);
    }
    if (method == "DELETE") {
      c.operation = "DeleteBucket";
      return delete_bucket(c, store);
    }
    if (method == "GET") {
      const bool v2 = c.param("list-type") == "2";
      c.operation = v2 ? "ListObjectsV2" : "ListObjects";
      return list_objects(c, store, v2);
    }
    if (method == "POST" && c.has_param("delete")) {
      c.operation = "DeleteObjects";
      Headers ignored;
      if (auto r = check_checksums(c, body, ignored)) return std::move(*r);
      return delete_objects(c, store, body);
    }
    return method_not_allowed(c, "BUCKET");
  }
  if (auto sub = unsupported_subresource(c)) {
    c.operation = std::string(*sub);
    return not_implemented(c, fmt::format("the object subresource '{}'", *sub));
  }
  if (method == "PUT") {
    if (c.req.has_header("x-amz-copy-source")) {
      c.operation = "CopyObject";
      return copy_object(c, store);
    }
    c.operation = "PutObject";
    Body body;
    if (auto r = read_body(c, body)) return std::move(*r);
    return put_object(c, store, body);
  }
  if (method == "GET" || method == "HEAD") {
    c.operation = method == "GET" ? "GetObject" : "HeadObject";
    return get_object(c, store, method == "HEAD");
  }
  if (method == "DELETE") {
    c.operation = "DeleteObject";
    return delete_object(c, store);
  }
  return method_not_allowed(c, "OBJECT");
}

}  // namespace

Api::Api(ObjectStore* store, ApiOptions options) : store_(store), options_(std::move(options)) {}

net::Response Api::handle(const net::Request& request) const {
  Call c(request, new_request_id(),
         net::caller_of(request, options_.default_account, options_.default_region));
  // Path style: "/<bucket>[/<key>]". The key is everything after the bucket's slash, so
  // "a//b" and "../x" are keys like any other (they never become file paths).
  std::string_view path = request.path;
  if (path.starts_with('/')) path.remove_prefix(1);
  const size_t slash = path.find('/');
  c.bucket = net::percent_decode(path.substr(0, slash));
  if (slash != std::string_view::npos) c.key = net::percent_decode(path.substr(slash + 1));
  c.query = net::parse_query(request.query);

  net::Response r;
  try {
    r = dispatch(c, *store_);
  } catch (const std::exception& e) {
    r = internal_error(c, Status::internal(e.what()));
  }
  logging::get("s3")->debug("op={} bucket={} status={} request={}", c.operation, c.bucket, r.status,
                            c.request_id);
  if (request.method == "HEAD" && r.status >= 300) {
    r.body.clear();  // HEAD errors carry only their status
    r.content_type.clear();
  }
  r.headers.emplace_back("x-amz-request-id", c.request_id);
  r.headers.emplace_back("x-amz-id-2", new_host_id());
  return r;
}

}  // namespace sluice::s3
