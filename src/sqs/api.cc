#include "sqs/api.h"

#include "base/base64.h"
#include "base/json_writer.h"
#include "base/log.h"
#include "base/uuid.h"
#include "net/aws_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <set>
#include <simdjson.h>
#include <string>
#include <vector>

namespace sluice::sqs {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::string_view kTargetPrefix = "AmazonSQS.";
constexpr std::string_view kContentType = "application/x-amz-json-1.0";
constexpr int64_t kMaxVisibilityS = 43200;
constexpr int64_t kMaxDelayS = 900;
constexpr int64_t kMaxWaitS = 20;
constexpr size_t kMaxBatchEntries = 10;
constexpr size_t kMaxBatchBytes = 1048576;
constexpr size_t kMaxMessageAttributes = 10;

std::shared_ptr<spdlog::logger> logger() {
  static const auto l = logging::get("sqs");
  return l;
}

// ---- Errors (docs/wire/sqs.md): one table from the modeled name to the legacy query code ----

struct ErrorKind {
  std::string_view type;    // __type after "com.amazonaws.sqs#"; what boto3 exceptions match
  std::string_view legacy;  // first half of x-amzn-query-error
  int status;
  bool sender;
};

constexpr ErrorKind kQueueDoesNotExist{"QueueDoesNotExist",
                                       "AWS.SimpleQueueService.NonExistentQueue", 400, true};
constexpr ErrorKind kQueueNameExists{"QueueNameExists", "QueueAlreadyExists", 400, true};
constexpr ErrorKind kInvalidAttributeName{"InvalidAttributeName", "InvalidAttributeName", 400,
                                          true};
constexpr ErrorKind kInvalidAttributeValue{"InvalidAttributeValue", "InvalidAttributeValue", 400,
                                           true};
constexpr ErrorKind kReceiptHandleIsInvalid{"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400,
                                            true};
constexpr ErrorKind kMessageNotInflight{"MessageNotInflight",
                                        "AWS.SimpleQueueService.MessageNotInflight", 400, true};
constexpr ErrorKind kEmptyBatchRequest{"EmptyBatchRequest",
                                       "AWS.SimpleQueueService.EmptyBatchRequest", 400, true};
constexpr ErrorKind kTooManyEntries{"TooManyEntriesInBatchRequest",
                                    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
                                    true};
constexpr ErrorKind kIdsNotDistinct{"BatchEntryIdsNotDistinct",
                                    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, true};
constexpr ErrorKind kInvalidBatchEntryId{"InvalidBatchEntryId",
                                         "AWS.SimpleQueueService.InvalidBatchEntryId", 400, true};
constexpr ErrorKind kBatchTooLong{"BatchRequestTooLong",
                                  "AWS.SimpleQueueService.BatchRequestTooLong", 400, true};
constexpr ErrorKind kInvalidMessageContents{"InvalidMessageContents", "InvalidMessageContents", 400,
                                            true};
constexpr ErrorKind kInvalidParameterValue{"InvalidParameterValue", "InvalidParameterValue", 400,
                                           true};
constexpr ErrorKind kMissingParameter{"MissingParameter", "MissingParameter", 400, true};
constexpr ErrorKind kInvalidAddress{"InvalidAddress", "InvalidAddress", 400, true};
constexpr ErrorKind kInternalError{"InternalError", "InternalError", 500, false};

struct ApiError {
  ErrorKind kind;
  std::string message;
};

net::Response error_response(const ErrorKind& kind, std::string_view message) {
  net::Response r = net::Response::json_error(
      kind.status, fmt::format("com.amazonaws.sqs#{}", kind.type), message);
  r.content_type = std::string(kContentType);
  r.headers.emplace_back("x-amzn-query-error",
                         fmt::format("{};{}", kind.legacy, kind.sender ? "Sender" : "Receiver"));
  r.headers.emplace_back("x-amzn-RequestId", new_uuid());
  return r;
}

// Maps a service Status; the only place that does (STYLE.md 5).
ApiError from_status(const Status& s) {
  switch (s.code()) {
    case Code::kNotFound:
      return {kQueueDoesNotExist, std::string(s.message())};
    case Code::kAlreadyExists:
      return {kQueueNameExists, std::string(s.message())};
    case Code::kInvalidArgument:
      return {kInvalidParameterValue, std::string(s.message())};
    case Code::kOk:
    case Code::kInUse:
    case Code::kLimitExceeded:
    case Code::kThrottled:
    case Code::kExpired:
    case Code::kCorruption:
    case Code::kIOError:
    case Code::kUnavailable:
    case Code::kInternal:
    case Code::kEndOfData:
      break;
  }
  logger()->error("sqs request failed: {}", s.to_string());
  return {kInternalError, "We encountered an internal error. Please try again."};
}

// ---- Reading request members ----

// Typed access to the members of one JSON object. The first problem is kept; later calls
// return nullopt once there is one.
class Members {
 public:
  explicit Members(std::optional<simdjson::dom::object> obj) : obj_(obj) {}

  const std::optional<ApiError>& error() const { return error_; }
  bool failed() const { return error_.has_value(); }
  void fail(const ErrorKind& kind, std::string message) {
    if (!error_) error_ = ApiError{kind, std::move(message)};
  }

  std::optional<element> get(std::string_view name) const {
    if (!obj_) return std::nullopt;
    element e;
    if (obj_->at_key(name).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
    return e;
  }

  std::optional<std::string_view> string(std::string_view name) {
    auto e = get(name);
    if (!e || failed()) return std::nullopt;
    std::string_view v;
    if (e->get(v) != simdjson::SUCCESS) {
      fail(kInvalidParameterValue, fmt::format("Parameter {} must be a string.", name));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string_view> required_string(std::string_view name) {
    auto v = string(name);
    if (!v && !failed()) {
      fail(kMissingParameter, fmt::format("The request must contain the parameter {}.", name));
    }
    return v;
  }

  // An integer member in [min, max].
  std::optional<int64_t> integer(std::string_view name, int64_t min, int64_t max,
                                 std::string_view reason = "") {
    auto e = get(name);
    if (!e || failed()) return std::nullopt;
    int64_t v = 0;
    if (e->get(v) != simdjson::SUCCESS) {
      fail(kInvalidParameterValue, fmt::format("Parameter {} must be an integer.", name));
      return std::nullopt;
    }
    if (v < min || v > max) {
      fail(kInvalidParameterValue,
           reason.empty()
               ? fmt::format("Value {} for parameter {} is invalid. Reason: Must be between {} "
                             "and {}, if provided.",
                             v, name, min, max)
               : fmt::format("Value {} for parameter {} is invalid. Reason: {}", v, name, reason));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::vector<std::string_view>> string_list(std::string_view name) {
    auto e = get(name);
    if (!e || failed()) return std::nullopt;
    simdjson::dom::array arr;
    if (e->get(arr) != simdjson::SUCCESS) {
      fail(kInvalidParameterValue, fmt::format("Parameter {} must be a list.", name));
      return std::nullopt;
    }
    std::vector<std::string_view> out;
    for (element item : arr) {
      std::string_view s;
      if (item.get(s) != simdjson::SUCCESS) {
        fail(kInvalidParameterValue, fmt::format("Parameter {} must be a list of strings.", name));
        return std::nullopt;
      }
      out.push_back(s);
    }
    return out;
  }

  std::optional<simdjson::dom::object> object(std::string_view name) {
    auto e = get(name);
    if (!e || failed()) return std::nullopt;
    simdjson::dom::object o;
    if (e->get(o) != simdjson::SUCCESS) {
      fail(kInvalidParameterValue, fmt::format("Parameter {} must be a map.", name));
      return std::nullopt;
    }
    return o;
  }

  std::optional<simdjson::dom::array> array(std::string_view name) {
    auto e = get(name);
    if (!e || failed()) return std::nullopt;
    simdjson::dom::array a;
    if (e->get(a) != simdjson::SUCCESS) {
      fail(kInvalidParameterValue, fmt::format("Parameter {} must be a list.", name));
      return std::nullopt;
    }
    return a;
  }

  // A map of string to string (Attributes).
  std::optional<std::map<std::string, std::string>> string_map(std::string_view name) {
    auto o = object(name);
    if (!o) return std::nullopt;
    std::map<std::string, std::string> out;
    for (auto [k, v] : *o) {
      std::string_view s;
      if (v.get(s) != simdjson::SUCCESS) {
        fail(kInvalidAttributeValue, fmt::format("Attribute {} must be a string.", k));
        return std::nullopt;
      }
      out.emplace(std::string(k), std::string(s));
    }
    return out;
  }

 private:
  std::optional<simdjson::dom::object> obj_;
  std::optional<ApiError> error_;
};

// ---- Names and validation ----

bool valid_queue_name(std::string_view name) {
  if (name.empty() || name.size() > 80) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

bool valid_batch_id(std::string_view id) { return valid_queue_name(id); }

// The characters SQS allows in a message: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
// #x10000-#x10FFFF, in well-formed UTF-8.
bool valid_message_text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    size_t n = 0;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f;
      n = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f;
      n = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07;
      n = 4;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    const bool overlong =
        (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong) return false;
    const bool ok = cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
                    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    if (!ok) return false;
    i += n;
  }
  return true;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && net::iequals(s.substr(0, prefix.size()), prefix);
}

bool valid_attribute_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos) {
    return false;
  }
  if (starts_with_nocase(name, "AWS.") || starts_with_nocase(name, "Amazon.")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool type_is(std::string_view data_type, std::string_view base) {
  return data_type == base || (data_type.size() > base.size() + 1 && data_type.starts_with(base) &&
                               data_type[base.size()] == '.');
}

bool valid_number(std::string_view s) {
  // Digits with an optional sign, decimal point and exponent; SQS allows up to 38 digits.
  size_t i = 0, digits = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  bool dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      ++digits;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (digits == 0 || digits > 38) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// Reads MessageAttributes; on failure sets *error and returns nullopt. Adds their size (name,
// type and value bytes) to *bytes.
std::optional<std::vector<MessageAttribute>> read_message_attributes(Members& m, ApiError* error,
                                                                     size_t* bytes) {
  std::vector<MessageAttribute> out;
  auto obj = m.object("MessageAttributes");
  if (m.failed()) {
    *error = *m.error();
    return std::nullopt;
  }
  if (!obj) return out;
  auto bad = [&](std::string message) {
    *error = ApiError{kInvalidParameterValue, std::move(message)};
    return std::nullopt;
  };
  for (auto [name, value] : *obj) {
    if (!valid_attribute_name(name)) {
      return bad(fmt::format("Message attribute name '{}' is invalid.", name));
    }
    simdjson::dom::object v;
    if (value.get(v) != simdjson::SUCCESS) {
      return bad(fmt::format("Message attribute '{}' must be a structure.", name));
    }
    Members a(v);
    auto type = a.string("DataType");
    auto str = a.string("StringValue");
    auto bin = a.string("BinaryValue");
    if (a.failed()) {
      *error = *a.error();
      return std::nullopt;
    }
    if (!type || type->empty()) {
      return bad(
          fmt::format("The message attribute '{}' must contain a non-empty message "
                      "attribute type.",
                      name));
    }
    if (type->size() > 256) {
      return bad(fmt::format("The message attribute '{}' has a data type that is too long.", name));
    }
    MessageAttribute attr{std::string(name), std::string(*type), false, ""};
    if (type_is(*type, "String") || type_is(*type, "Number")) {
      if (!str || str->empty()) {
        return bad(fmt::format("The message attribute '{}' with type '{}' must use field 'String'.",
                               name, *type));
      }
      if (!valid_message_text(*str)) {
        *error = ApiError{kInvalidMessageContents,
                          fmt::format("Message attribute '{}' contains invalid characters.", name)};
        return std::nullopt;
      }
      if (type_is(*type, "Number") && !valid_number(*str)) {
        return bad(
            fmt::format("Can't cast the value of message attribute '{}' to a number.", name));
      }
      attr.value = std::string(*str);
    } else if (type_is(*type, "Binary")) {
      if (!bin || bin->empty() || base64_decode(*bin, attr.value) || attr.value.empty()) {
        return bad(fmt::format(
            "The message attribute '{}' with type 'Binary' must use field 'Binary'.", name));
      }
      attr.binary = true;
    } else {
      return bad(
          fmt::format("The type of message (user) attribute '{}' is invalid. You must use only the "
                      "following supported type prefixes: Binary, Number, String.",
                      name));
    }
    *bytes += attr.name.size() + attr.data_type.size() + attr.value.size();
    out.push_back(std::move(attr));
  }
  if (out.size() > kMaxMessageAttributes) {
    return bad(fmt::format("Number of message attributes [{}] exceeds the allowed maximum [{}].",
                           out.size(), kMaxMessageAttributes));
  }
  return out;
}

// Reads one message (SendMessage, or a SendMessageBatch entry) against the queue's limits.
std::optional<SendRequest> read_send(Members& m, const QueueConfig& config, std::string_view sender,
                                     ApiError* error) {
  SendRequest r;
  auto body = m.required_string("MessageBody");
  auto delay = m.integer("DelaySeconds", 0, kMaxDelayS);
  if (m.failed()) {
    *error = *m.error();
    return std::nullopt;
  }
  if (body->empty()) {
    *error = ApiError{kMissingParameter, "The request must contain the parameter MessageBody."};
    return std::nullopt;
  }
  if (!valid_message_text(*body)) {
    *error = ApiError{kInvalidMessageContents,
                      "Invalid binary character in the message body. Only Unicode characters "
                      "#x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF "
                      "are allowed."};
    return std::nullopt;
  }
  size_t bytes = body->size();
  auto attrs = read_message_attributes(m, error, &bytes);
  if (!attrs) return std::nullopt;
  if (bytes > static_cast<size_t>(config.max_message_bytes)) {
    *error = ApiError{kInvalidParameterValue,
                      fmt::format("One or more parameters are invalid. Reason: Message must be "
                                  "shorter than {} bytes.",
                                  config.max_message_bytes)};
    return std::nullopt;
  }
  r.body = std::string(*body);
  r.delay_s = delay;
  r.attributes = std::move(*attrs);
  r.sender_id = std::string(sender);
  return r;
}

// ---- Writing responses ----

net::Response ok_response(std::string body) {
  net::Response r;
  r.status = 200;
  r.content_type = std::string(kContentType);
  r.body = std::move(body);
  r.headers.emplace_back("x-amzn-RequestId", new_uuid());
  return r;
}

net::Response empty_ok() { return ok_response("{}"); }

void write_batch_failure(JsonWriter& w, std::string_view id, const ApiError& e) {
  w.begin_object();
  w.member("Id", id);
  w.member_bool("SenderFault", e.kind.sender);
  w.member("Code", e.kind.legacy);
  w.member("Message", e.message);
  w.end_object();
}

// Which message attributes a receive asked for: "All", ".*", exact names, "prefix.*".
bool wants_attribute(const std::vector<std::string_view>& names, std::string_view name) {
  for (std::string_view n : names) {
    if (n == "All" || n == ".*" || n == name) return true;
    if (n.size() > 2 && n.ends_with(".*") && name.starts_with(n.substr(0, n.size() - 1))) {
      return true;
    }
  }
  return false;
}

// ---- The request context ----

struct Call {
  QueueService* service;
  const net::Request& request;
  net::Caller caller;
  Members& in;

  // QueueUrl resolved to a key: its last two path segments are account and name; a bare
  // name is the caller's own queue.
  std::optional<QueueKey> queue_key() {
    auto url = in.required_string("QueueUrl");
    if (!url) return std::nullopt;
    std::string_view path = *url;
    if (const size_t scheme = path.find("://"); scheme != std::string_view::npos) {
      path.remove_prefix(scheme + 3);
      const size_t slash = path.find('/');
      path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    const size_t last = path.rfind('/');
    std::string_view name = last == std::string_view::npos ? path : path.substr(last + 1);
    std::string_view account = caller.account;
    if (last != std::string_view::npos) {
      std::string_view rest = path.substr(0, last);
      const size_t prev = rest.rfind('/');
      std::string_view seg = prev == std::string_view::npos ? rest : rest.substr(prev + 1);
      if (!seg.empty()) account = seg;
    }
    if (name.empty()) {
      in.fail(kInvalidAddress, fmt::format("The address {} is not valid for this endpoint.", *url));
      return std::nullopt;
    }
    return QueueKey{std::string(account), caller.region, std::string(name)};
  }

  std::string queue_url(const QueueKey& key) const {
    std::string_view host = request.header("Host");
    if (host.empty()) host = "localhost";
    return fmt::format("http://{}/{}/{}", host, key.account, key.name);
  }
};

net::Response fail(const ApiError& e) { return error_response(e.kind, e.message); }
net::Response fail(const Members& m) { return fail(*m.error()); }
net::Response fail(const Status& s) { return fail(from_status(s)); }

// Builds a QueueConfig from `base` and the Attributes map; errors as SQS reports them.
std::optional<ApiError> apply_attributes(QueueConfig& config,
                                         const std::map<std::string, std::string>& given) {
  for (const auto& [name, value] : given) {
    std::string message;
    switch (set_attribute(config, name, value, &message)) {
      case AttributeError::kNone:
        break;
      case AttributeError::kUnknownName:
        return ApiError{kInvalidAttributeName, message};
      case AttributeError::kBadValue:
        return ApiError{kInvalidAttributeValue, message};
      case AttributeError::kUnsupported:
        return ApiError{kInvalidAttributeName, message};
    }
  }
  return std::nullopt;
}

// ---- Operations ----

net::Response create_queue(Call& c) {
  auto name = c.in.required_string("QueueName");
  auto given = c.in.string_map("Attributes");
  c.in.string_map("tags");
  if (c.in.failed()) return fail(c.in);
  if (name->ends_with(".fifo") ||
      (given && given->contains("FifoQueue") && given->at("FifoQueue") == "true")) {
    return fail(ApiError{kInvalidParameterValue,
                         "Sluice supports standard queues only; FIFO queues are not supported."});
  }
  if (!valid_queue_name(*name)) {
    return fail(ApiError{kInvalidParameterValue,
                         "Can only include alphanumeric characters, hyphens, or underscores. 1 "
                         "to 80 in length"});
  }
  QueueConfig config;
  std::map<std::string, std::string> attrs = given.value_or(std::map<std::string, std::string>());
  attrs.erase("FifoQueue");  // "false" only, checked above: a standard queue
  if (auto e = apply_attributes(config, attrs)) return fail(*e);
  // Compare canonical text ("030" and "30" are the same timeout).
  std::map<std::string, std::string> canonical;
  const auto all = config.to_attributes();
  for (const auto& [k, v] : attrs) canonical[k] = all.at(k);
  const QueueKey key{c.caller.account, c.caller.region, std::string(*name)};
  auto info = c.service->create_queue(key, config, canonical);
  if (!info.ok()) return fail(info.status());
  JsonWriter w;
  w.begin_object();
  w.member("QueueUrl", c.queue_url(key));
  w.end_object();
  return ok_response(w.take());
}

net::Response get_queue_url(Call& c) {
  auto name = c.in.required_string("QueueName");
  auto owner = c.in.string("QueueOwnerAWSAccountId");
  if (c.in.failed()) return fail(c.in);
  const QueueKey key{owner ? std::string(*owner) : c.caller.account, c.caller.region,
                     std::string(*name)};
  auto info = c.service->get_queue(key);
  if (!info.ok()) return fail(info.status());
  JsonWriter w;
  w.begin_object();
  w.member("QueueUrl", c.queue_url(key));
  w.end_object();
  return ok_response(w.take());
}

net::Response list_queues(Call& c) {
  auto prefix = c.in.string("QueueNamePrefix");
  auto max = c.in.integer("MaxResults", 1, 1000);
  auto token = c.in.string("NextToken");
  if (c.in.failed()) return fail(c.in);
  std::string after;
  if (token && base64_decode(*token, after)) {
    return fail(ApiError{kInvalidParameterValue, "Invalid NextToken value."});
  }
  const size_t limit = max ? static_cast<size_t>(*max) : 1000;
  auto names = c.service->list_queues(c.caller.account, c.caller.region, prefix.value_or(""), after,
                                      limit + 1);
  if (!names.ok()) return fail(names.status());
  const bool more = names->size() > limit;
  if (more) names->resize(limit);
  JsonWriter w;
  w.begin_object();
  if (!names->empty()) {
    w.key("QueueUrls");
    w.begin_array();
    for (const auto& n : *names) {
      w.string(c.queue_url(QueueKey{c.caller.account, c.caller.region, n}));
    }
    w.end_array();
  }
  // Like SQS, a NextToken only when the caller paginates with MaxResults.
  if (more && max) w.member("NextToken", base64_encode(as_bytes(names->back())));
  w.end_object();
  return ok_response(w.take());
}

net::Response delete_queue(Call& c) {
  auto key = c.queue_key();
  if (c.in.failed()) return fail(c.in);
  Status s = c.service->delete_queue(*key);
  return s.ok() ? empty_ok() : fail(s);
}

net::Response purge_queue(Call& c) {
  auto key = c.queue_key();
  if (c.in.failed()) return fail(c.in);
  Status s = c.service->purge_queue(*key);
  return s.ok() ? empty_ok() : fail(s);
}

net::Response get_queue_attributes(Call& c) {
  auto key = c.queue_key();
  auto names = c.in.string_list("AttributeNames");
  if (c.in.failed()) return fail(c.in);
  auto info = c.service->get_queue(*key);
  if (!info.ok()) return fail(info.status());
  std::map<std::string, std::string> all = info->config.to_attributes();
  all["QueueArn"] = queue_arn(*key);
  all["ApproximateNumberOfMessages"] = std::to_string(info->visible);
  all["ApproximateNumberOfMessagesNotVisible"] = std::to_string(info->in_flight);
  all["ApproximateNumberOfMessagesDelayed"] = std::to_string(info->delayed);
  all["CreatedTimestamp"] = std::to_string(info->created_ms / 1000);
  all["LastModifiedTimestamp"] = std::to_string(info->modified_ms / 1000);
  if (!info->config.opaque.contains("SqsManagedSseEnabled")) all["SqsManagedSseEnabled"] = "false";
  // Names a client may ask for that this queue has no value for.
  static const std::set<std::string_view> kKnownWithoutValue = {"Policy",
                                                                "RedrivePolicy",
                                                                "RedriveAllowPolicy",
                                                                "KmsMasterKeyId",
                                                                "KmsDataKeyReusePeriodSeconds",
                                                                "FifoQueue",
                                                                "ContentBasedDeduplication",
                                                                "DeduplicationScope",
                                                                "FifoThroughputLimit"};
  std::map<std::string, std::string> out;
  for (std::string_view n : names.value_or(std::vector<std::string_view>())) {
    if (n == "All") {
      out = all;
      continue;
    }
    if (auto it = all.find(std::string(n)); it != all.end()) {
      out.insert(*it);
    } else if (!kKnownWithoutValue.contains(n)) {
      return fail(ApiError{kInvalidAttributeName, fmt::format("Unknown Attribute {}.", n)});
    }
  }
  JsonWriter w;
  w.begin_object();
  if (!out.empty()) {
    w.key("Attributes");
    w.begin_object();
    for (const auto& [k, v] : out) w.member(k, v);
    w.end_object();
  }
  w.end_object();
  return ok_response(w.take());
}

net::Response set_queue_attributes(Call& c) {
  auto key = c.queue_key();
  auto given = c.in.string_map("Attributes");
  if (c.in.failed()) return fail(c.in);
  if (!given) {
    return fail(ApiError{kMissingParameter, "The request must contain the parameter Attributes."});
  }
  auto info = c.service->get_queue(*key);
  if (!info.ok()) return fail(info.status());
  QueueConfig config = info->config;
  if (auto e = apply_attributes(config, *given)) return fail(*e);
  Status s = c.service->set_queue_config(*key, config);
  return s.ok() ? empty_ok() : fail(s);
}

net::Response send_message(Call& c) {
  auto key = c.queue_key();
  if (c.in.failed()) return fail(c.in);
  auto info = c.service->get_queue(*key);
  if (!info.ok()) return fail(info.status());
  ApiError error;
  auto request = read_send(c.in, info->config, c.caller.account, &error);
  if (!request) return fail(error);
  auto sent = c.service->send(*key, *request);
  if (!sent.ok()) return fail(sent.status());
  JsonWriter w;
  w.begin_object();
  w.member("MessageId", sent->message_id);
  w.member("MD5OfMessageBody", sent->md5_of_body);
  if (!sent->md5_of_attributes.empty()) {
    w.member("MD5OfMessageAttributes", sent->md5_of_attributes);
  }
  w.end_object();
  return ok_response(w.take());
}

// Entries of a batch call after the checks every batch operation shares; nullopt after
// recording the error in `c.in`.
std::optional<std::vector<simdjson::dom::object>> batch_entries(Call& c,
                                                                std::vector<std::string>* ids) {
  auto arr = c.in.array("Entries");
  if (c.in.failed()) return std::nullopt;
  if (!arr || arr->size() == 0) {
    c.in.fail(kEmptyBatchRequest, "There should be at least one entry in the request.");
    return std::nullopt;
  }
  if (arr->size() > kMaxBatchEntries) {
    c.in.fail(kTooManyEntries, fmt::format("Maximum number of entries per request are {}. You "
                                           "have sent {}.",
                                           kMaxBatchEntries, arr->size()));
    return std::nullopt;
  }
  std::vector<simdjson::dom::object> out;
  std::set<std::string> seen;
  for (element e : *arr) {
    simdjson::dom::object o;
    if (e.get(o) != simdjson::SUCCESS) {
      c.in.fail(kInvalidParameterValue, "Each entry must be a structure.");
      return std::nullopt;
    }
    Members m(o);
    auto id = m.required_string("Id");
    if (m.failed()) {
      c.in.fail(m.error()->kind, m.error()->message);
      return std::nullopt;
    }
    if (!valid_batch_id(*id)) {
      c.in.fail(kInvalidBatchEntryId,
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long.");
      return std::nullopt;
    }
    if (!seen.emplace(*id).second) {
      c.in.fail(kIdsNotDistinct, fmt::format("Id {} repeated.", *id));
      return std::nullopt;
    }
    ids->emplace_back(*id);
    out.push_back(o);
  }
  return out;
}

net::Response send_message_batch(Call& c) {
  auto key = c.queue_key();
  std::vector<std::string> ids;
  auto entries = c.in.failed() ? std::nullopt : batch_entries(c, &ids);
  if (c.in.failed()) return fail(c.in);
  auto info = c.service->get_queue(*key);
  if (!info.ok()) return fail(info.status());
  std::vector<SendRequest> requests;
  std::vector<size_t> request_entry;  // index into ids
  std::vector<std::pair<size_t, ApiError>> failures;
  size_t total = 0;
  for (size_t i = 0; i < entries->size(); ++i) {
    Members m((*entries)[i]);
    ApiError error;
    auto r = read_send(m, info->config, c.caller.account, &error);
    if (!r) {
      failures.emplace_back(i, std::move(error));
      continue;
    }
    total += r->body.size();
    for (const auto& a : r->attributes)
      total += a.name.size() + a.data_type.size() + a.value.size();
    requests.push_back(std::move(*r));
    request_entry.push_back(i);
  }
  if (total > kMaxBatchBytes) {
    return fail(ApiError{kBatchTooLong,
                         fmt::format("Batch requests cannot be longer than {} bytes. You have "
                                     "sent {} bytes.",
                                     kMaxBatchBytes, total)});
  }
  std::vector<SentMessage> sent;
  if (!requests.empty()) {
    auto result = c.service->send_batch(*key, requests);
    if (!result.ok()) return fail(result.status());
    sent = std::move(*result);
  }
  JsonWriter w;
  w.begin_object();
  w.key("Successful");
  w.begin_array();
  for (size_t k = 0; k < sent.size(); ++k) {
    w.begin_object();
    w.member("Id", ids[request_entry[k]]);
    w.member("MessageId", sent[k].message_id);
    w.member("MD5OfMessageBody", sent[k].md5_of_body);
    if (!sent[k].md5_of_attributes.empty()) {
      w.member("MD5OfMessageAttributes", sent[k].md5_of_attributes);
    }
    w.end_object();
  }
  w.end_array();
  w.key("Failed");
  w.begin_array();
  for (const auto& [i, e] : failures) write_batch_failure(w, ids[i], e);
  w.end_array();
  w.end_object();
  return ok_response(w.take());
}

net::Response receive_message(Call& c) {
  auto key = c.queue_key();
  auto max = c.in.integer("MaxNumberOfMessages", 1, 10);
  auto wait = c.in.integer("WaitTimeSeconds", 0, kMaxWaitS);
  auto visibility = c.in.integer("VisibilityTimeout", 0, kMaxVisibilityS);
  auto attribute_names = c.in.string_list("AttributeNames");
  auto system_names = c.in.string_list("MessageSystemAttributeNames");
  auto message_attribute_names = c.in.string_list("MessageAttributeNames");
  c.in.string("ReceiveRequestAttemptId");
  if (c.in.failed()) return fail(c.in);
  std::set<std::string_view> system;
  for (const auto* list : {&attribute_names, &system_names}) {
    if (*list) system.insert((*list)->begin(), (*list)->end());
  }
  const bool all_system = system.contains("All");
  auto want = [&](std::string_view n) { return all_system || system.contains(n); };
  ReceiveRequest r;
  r.max_messages = static_cast<int>(max.value_or(1));
  r.wait_s = wait;
  r.visibility_timeout_s = visibility;
  auto got = c.service->receive(*key, r);
  if (!got.ok()) return fail(got.status());
  const auto attr_names = message_attribute_names.value_or(std::vector<std::string_view>());
  JsonWriter w;
  w.begin_object();
  if (!got->empty()) {
    w.key("Messages");
    w.begin_array();
    for (const ReceivedMessage& m : *got) {
      w.begin_object();
      w.member("MessageId", m.message_id);
      w.member("ReceiptHandle", m.receipt_handle);
      w.member("MD5OfBody", m.md5_of_body);
      w.member("Body", m.body);
      if (!system.empty()) {
        w.key("Attributes");
        w.begin_object();
        if (want("SenderId")) w.member("SenderId", m.sender_id);
        if (want("SentTimestamp")) w.member("SentTimestamp", std::to_string(m.sent_ms));
        if (want("ApproximateReceiveCount")) {
          w.member("ApproximateReceiveCount", std::to_string(m.receive_count));
        }
        if (want("ApproximateFirstReceiveTimestamp")) {
          w.member("ApproximateFirstReceiveTimestamp", std::to_string(m.first_receive_ms));
        }
        w.end_object();
      }
      std::vector<MessageAttribute> chosen;
      for (const auto& a : m.attributes) {
        if (wants_attribute(attr_names, a.name)) chosen.push_back(a);
      }
      if (!chosen.empty()) {
        w.member("MD5OfMessageAttributes", md5_of_attributes(chosen));
        w.key("MessageAttributes");
        w.begin_object();
        for (const auto& a : chosen) {
          w.key(a.name);
          w.begin_object();
          w.member("DataType", a.data_type);
          if (a.binary) {
            w.key("BinaryValue");
            w.base64(as_bytes(a.value));
          } else {
            w.member("StringValue", a.value);
          }
          w.end_object();
        }
        w.end_object();
      }
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
  return ok_response(w.take());
}

ApiError invalid_handle(std::string_view handle) {
  return {kReceiptHandleIsInvalid,
          fmt::format("The input receipt handle \"{}\" is not a valid receipt handle.", handle)};
}

ApiError expired_handle(std::string_view handle) {
  return {kInvalidParameterValue,
          fmt::format("Value {} for parameter ReceiptHandle is invalid. Reason: The receipt "
                      "handle has expired.",
                      handle)};
}

// One DeleteMessage; nullopt on success.
std::optional<ApiError> delete_one(Call& c, const QueueKey& key, std::string_view text,
                                   Status* fatal) {
  auto handle = parse_receipt_handle(text);
  if (!handle) return invalid_handle(text);
  auto outcome = c.service->delete_message(key, *handle);
  if (!outcome.ok()) {
    if (outcome.status().code() == Code::kInvalidArgument) return invalid_handle(text);
    *fatal = outcome.status();
    return std::nullopt;
  }
  return std::nullopt;  // a stale handle deletes nothing and succeeds, as in SQS
}

// One ChangeMessageVisibility; nullopt on success.
std::optional<ApiError> change_one(Call& c, const QueueKey& key, std::string_view text,
                                   int64_t timeout_s, Status* fatal) {
  auto handle = parse_receipt_handle(text);
  if (!handle) return invalid_handle(text);
  auto outcome = c.service->change_visibility(key, *handle, timeout_s);
  if (!outcome.ok()) {
    if (outcome.status().code() == Code::kInvalidArgument) return invalid_handle(text);
    *fatal = outcome.status();
    return std::nullopt;
  }
  switch (*outcome) {
    case HandleOutcome::kOk:
      return std::nullopt;
    case HandleOutcome::kStale:
      return expired_handle(text);
    case HandleOutcome::kNotInFlight:
      return ApiError{kMessageNotInflight, "The message referred to isn't in flight."};
  }
  return std::nullopt;
}

net::Response delete_message(Call& c) {
  auto key = c.queue_key();
  auto handle = c.in.required_string("ReceiptHandle");
  if (c.in.failed()) return fail(c.in);
  Status fatal;
  if (auto e = delete_one(c, *key, *handle, &fatal)) return fail(*e);
  return fatal.ok() ? empty_ok() : fail(fatal);
}

net::Response change_message_visibility(Call& c) {
  auto key = c.queue_key();
  auto handle = c.in.required_string("ReceiptHandle");
  if (!c.in.failed() && !c.in.get("VisibilityTimeout")) {
    c.in.fail(kMissingParameter, "The request must contain the parameter VisibilityTimeout.");
  }
  auto timeout = c.in.integer("VisibilityTimeout", 0, kMaxVisibilityS);
  if (c.in.failed()) return fail(c.in);
  Status fatal;
  if (auto e = change_one(c, *key, *handle, *timeout, &fatal)) return fail(*e);
  return fatal.ok() ? empty_ok() : fail(fatal);
}

// DeleteMessageBatch and ChangeMessageVisibilityBatch: `one` handles an entry.
net::Response handle_batch(
    Call& c,
    const std::function<std::optional<ApiError>(const QueueKey&, Members&, Status*)>& one) {
  auto key = c.queue_key();
  std::vector<std::string> ids;
  auto entries = c.in.failed() ? std::nullopt : batch_entries(c, &ids);
  if (c.in.failed()) return fail(c.in);
  // The queue must exist even when every entry fails.
  auto info = c.service->get_queue(*key);
  if (!info.ok()) return fail(info.status());
  std::vector<std::string> ok;
  std::vector<std::pair<std::string, ApiError>> failed;
  for (size_t i = 0; i < entries->size(); ++i) {
    Members m((*entries)[i]);
    Status fatal;
    auto e = one(*key, m, &fatal);
    if (!fatal.ok()) return fail(fatal);
    if (e) {
      failed.emplace_back(ids[i], std::move(*e));
    } else {
      ok.push_back(ids[i]);
    }
  }
  JsonWriter w;
  w.begin_object();
  w.key("Successful");
  w.begin_array();
  for (const auto& id : ok) {
    w.begin_object();
    w.member("Id", id);
    w.end_object();
  }
  w.end_array();
  w.key("Failed");
  w.begin_array();
  for (const auto& [id, e] : failed) write_batch_failure(w, id, e);
  w.end_array();
  w.end_object();
  return ok_response(w.take());
}

net::Response delete_message_batch(Call& c) {
  return handle_batch(c, [&c](const QueueKey& key, Members& m, Status* fatal) {
    auto handle = m.required_string("ReceiptHandle");
    if (m.failed()) return std::optional<ApiError>(*m.error());
    return delete_one(c, key, *handle, fatal);
  });
}

net::Response change_message_visibility_batch(Call& c) {
  return handle_batch(c, [&c](const QueueKey& key, Members& m, Status* fatal) {
    auto handle = m.required_string("ReceiptHandle");
    if (!m.failed() && !m.get("VisibilityTimeout")) {
      m.fail(kMissingParameter, "The request must contain the parameter VisibilityTimeout.");
    }
    auto timeout = m.integer("VisibilityTimeout", 0, kMaxVisibilityS);
    if (m.failed()) return std::optional<ApiError>(*m.error());
    return change_one(c, key, *handle, *timeout, fatal);
  });
}

using Operation = net::Response (*)(Call&);

struct OperationEntry {
  std::string_view name;
  Operation run;
};

constexpr std::array<OperationEntry, 23> kOperations = {{
    {"ChangeMessageVisibility", change_message_visibility},
    {"ChangeMessageVisibilityBatch", change_message_visibility_batch},
    {"CreateQueue", create_queue},
    {"DeleteMessage", delete_message},
    {"DeleteMessageBatch", delete_message_batch},
    {"DeleteQueue", delete_queue},
    {"GetQueueAttributes", get_queue_attributes},
    {"GetQueueUrl", get_queue_url},
    {"ListQueues", list_queues},
    {"PurgeQueue", purge_queue},
    {"ReceiveMessage", receive_message},
    {"SendMessage", send_message},
    {"SendMessageBatch", send_message_batch},
    {"SetQueueAttributes", set_queue_attributes},
    // Real SQS operations Sluice does not implement: UnsupportedOperation, not unknown.
    {"AddPermission", nullptr},
    {"CancelMessageMoveTask", nullptr},
    {"ListDeadLetterSourceQueues", nullptr},
    {"ListMessageMoveTasks", nullptr},
    {"ListQueueTags", nullptr},
    {"RemovePermission", nullptr},
    {"StartMessageMoveTask", nullptr},
    {"TagQueue", nullptr},
    {"UntagQueue", nullptr},
}};

}  // namespace

Api::Api(QueueService* service) : service_(service) {}

net::Response Api::handle(const net::Request& request) const {
  std::string_view target = request.header("X-Amz-Target");
  std::string_view op =
      target.starts_with(kTargetPrefix) ? target.substr(kTargetPrefix.size()) : std::string_view();
  const OperationEntry* entry = nullptr;
  for (const auto& e : kOperations) {
    if (e.name == op) entry = &e;
  }
  if (entry == nullptr) {
    net::Response r = net::Response::json_error(
        400, "com.amazon.coral.service#UnknownOperationException",
        fmt::format("Operation {} is not known to Sluice's SQS service.", op));
    r.content_type = std::string(kContentType);
    return r;
  }
  if (entry->run == nullptr) {
    return error_response(
        ErrorKind{"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400, true},
        fmt::format("Sluice does not support {}.", op));
  }
  thread_local simdjson::dom::parser parser;
  std::optional<simdjson::dom::object> obj;
  const std::string_view body = request.body.empty() ? std::string_view("{}") : request.body;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    net::Response r = net::Response::json_error(400, "com.amazonaws.sqs#SerializationException",
                                                "The request body is not valid JSON.");
    r.content_type = std::string(kContentType);
    return r;
  }
  simdjson::dom::object o;
  if (doc.get(o) != simdjson::SUCCESS) {
    net::Response r = net::Response::json_error(400, "com.amazonaws.sqs#SerializationException",
                                                "The request body must be an object.");
    r.content_type = std::string(kContentType);
    return r;
  }
  obj = o;
  Members in(obj);
  const QueueServiceOptions& opts = service_->options();
  Call call{service_, request, net::caller_of(request, opts.default_account, opts.default_region),
            in};
  return entry->run(call);
}

}  // namespace sluice::sqs
