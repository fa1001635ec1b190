#pragma once

#include "base/clock.h"
#include "base/result.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::sqs {

struct QueueServiceOptions {
  std::string default_account = "000000000000";
  std::string default_region = "us-east-1";
};

// Which queue: a queue name is unique per account and region.
struct QueueKey {
  std::string account;
  std::string region;
  std::string name;
};

// arn:aws:sqs:<region>:<account>:<name>
std::string queue_arn(const QueueKey& key);
// The key an ARN names; nullopt when `arn` is not an SQS queue ARN.
std::optional<QueueKey> parse_queue_arn(std::string_view arn);

// The settable attributes of a queue, with SQS's defaults. Seconds unless named otherwise.
struct QueueConfig {
  int64_t visibility_timeout_s = 30;
  int64_t retention_s = 345600;  // 4 days
  int64_t delay_s = 0;
  int64_t receive_wait_s = 0;
  int64_t max_message_bytes = 262144;
  // Attributes Sluice keeps and reports but does not act on (Policy, RedrivePolicy, ...).
  std::map<std::string, std::string> opaque;

  // Every attribute as GetQueueAttributes reports it, by name.
  std::map<std::string, std::string> to_attributes() const;
  bool operator==(const QueueConfig&) const = default;
};

// Why set_attribute() refused.
enum class AttributeError { kNone, kUnknownName, kBadValue, kUnsupported };

// Sets attribute `name` of `config` from its wire text. On an error `config` is unchanged and
// `*message` says why (in words a client may see).
AttributeError set_attribute(QueueConfig& config, std::string_view name, std::string_view value,
                             std::string* message);

// A message attribute (SendMessage MessageAttributes). `value` is the StringValue, or the raw
// bytes of the BinaryValue when `binary`.
struct MessageAttribute {
  std::string name;
  std::string data_type;  // "String", "Number", "Binary", optionally with ".<custom>"
  bool binary = false;
  std::string value;
  bool operator==(const MessageAttribute&) const = default;
};

// Hex MD5 of the message body, as MD5OfMessageBody.
std::string md5_of_body(std::string_view body);
// Hex MD5 of the attributes as MD5OfMessageAttributes (sorted by name; each one as
// length-prefixed name, length-prefixed data type, a transport byte 1 (string) or 2
// (binary), length-prefixed value; lengths 4-byte big-endian). "" for no attributes.
std::string md5_of_attributes(std::vector<MessageAttribute> attributes);

struct QueueInfo {
  QueueKey key;
  QueueConfig config;
  int64_t created_ms = 0;
  int64_t modified_ms = 0;
  int64_t visible = 0;    // ApproximateNumberOfMessages
  int64_t in_flight = 0;  // ApproximateNumberOfMessagesNotVisible
  int64_t delayed = 0;    // ApproximateNumberOfMessagesDelayed
};

struct SendRequest {
  std::string body;
  std::optional<int64_t> delay_s;  // the queue's DelaySeconds when absent
  std::vector<MessageAttribute> attributes;
  std::string sender_id;
};

struct SentMessage {
  std::string message_id;
  std::string md5_of_body;
  std::string md5_of_attributes;  // "" when the message has no attributes
};

struct ReceiveRequest {
  int max_messages = 1;                         // 1..10
  std::optional<int64_t> wait_s;                // the queue's wait time when absent
  std::optional<int64_t> visibility_timeout_s;  // the queue's when absent
};

struct ReceivedMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::string md5_of_body;
  std::vector<MessageAttribute> attributes;  // sorted by name
  int64_t sent_ms = 0;
  int64_t first_receive_ms = 0;
  int64_t receive_count = 0;
  std::string sender_id;
};

// What a receipt handle names. Handles are opaque to clients (docs/formats/sqs-store.md).
struct ReceiptHandle {
  int64_t queue_id = 0;
  int64_t message_row = 0;
  std::string token;  // changes on every receive
};
std::string format_receipt_handle(const ReceiptHandle& handle);
// nullopt when `text` is not a handle Sluice made.
std::optional<ReceiptHandle> parse_receipt_handle(std::string_view text);

// What became of an operation on a received message.
enum class HandleOutcome {
  kOk,
  kStale,        // the message was received again or deleted since this handle was issued
  kNotInFlight,  // the handle is current but the message is visible again
};

// Sluice's SQS-compatible queues (docs/wire/sqs.md): queues and their messages, durable in
// one SQLite database (docs/formats/sqs-store.md). Created by the composition root; the
// `clock` is borrowed and must outlive the service. Thread-safe: one mutex serializes the
// database; a long-polling receive() waits on a condition variable with the mutex released,
// and is woken by sends, visibility changes and shutdown().
//
// Every call that changes state commits its SQLite transaction (synchronous=FULL) before it
// returns OK, so an acknowledged send, delete or receive survives a crash.
class QueueService {
 public:
  // Opens or creates the database at `db_path`.
  static Result<std::unique_ptr<QueueService>> open(const std::string& db_path, const Clock* clock,
                                                    QueueServiceOptions options);
  ~QueueService();
  QueueService(const QueueService&) = delete;
  QueueService& operator=(const QueueService&) = delete;

  // For on-failure destinations (docs/esm.md). OK when `arn`
  // (arn:aws:sqs:<region>:<account>:<name>) names an existing standard queue; kNotFound
  // when it does not exist; kInvalidArgument when `arn` is not a queue ARN or names a FIFO
  // queue.
  Status check_queue_arn(std::string_view arn) const;

  // Sends one message with `body` to the queue named by `arn`, as SendMessage would. When
  // it returns OK the message is durable (it survives a crash); the result is the
  // MessageId. kNotFound when the queue does not exist.
  Result<std::string> send_to_arn(std::string_view arn, std::string_view body);

  // Wakes every waiting receive() (they answer with what they have) and makes later
  // receives return at once instead of waiting. Call before the HTTP server drains, so
  // that long polls do not hold up shutdown. Idempotent.
  void shutdown();

  const QueueServiceOptions& options() const;

  // ---- Queues ----
  // Creates the queue, or returns the existing one when every attribute in `given` has the
  // same value there (kAlreadyExists otherwise). `config` is the defaults plus `given`.
  Result<QueueInfo> create_queue(const QueueKey& key, const QueueConfig& config,
                                 const std::map<std::string, std::string>& given);
  // kNotFound when there is no such queue. Counts are as of now.
  Result<QueueInfo> get_queue(const QueueKey& key);
  // Replaces the configuration. kNotFound when there is no such queue.
  Status set_queue_config(const QueueKey& key, const QueueConfig& config);
  // Deletes the queue and its messages; kNotFound when there is no such queue.
  Status delete_queue(const QueueKey& key);
  // Deletes every message; kNotFound when there is no such queue.
  Status purge_queue(const QueueKey& key);
  // Names of the queues of (account, region) that start with `prefix` and sort after
  // `after`, in name order, at most `limit`.
  Result<std::vector<std::string>> list_queues(std::string_view account, std::string_view region,
                                               std::string_view prefix, std::string_view after,
                                               size_t limit);

  // ---- Messages ----
  // kNotFound when there is no such queue. The request is not validated here beyond what the
  // store needs (the Api checks sizes and ranges). Durable when OK.
  Result<SentMessage> send(const QueueKey& key, const SendRequest& request);
  // All or none: one transaction, so one fsync for the whole batch.
  Result<std::vector<SentMessage>> send_batch(const QueueKey& key,
                                              const std::vector<SendRequest>& requests);
  // Receives up to max_messages visible messages, hiding each for the visibility timeout
  // and issuing it a new receipt handle. Waits up to the wait time (real time) while none
  // is visible; a send wakes it at once. kNotFound when the queue does not exist (also when
  // it is deleted while we wait).
  Result<std::vector<ReceivedMessage>> receive(const QueueKey& key, const ReceiveRequest& request);
  // Deletes the message when `handle` is its current handle; a stale handle deletes nothing
  // and reports kStale (SQS answers such deletes with success). kNotFound: no such queue.
  Result<HandleOutcome> delete_message(const QueueKey& key, const ReceiptHandle& handle);
  // Makes the message visible `timeout_s` from now (0: at once).
  Result<HandleOutcome> change_visibility(const QueueKey& key, const ReceiptHandle& handle,
                                          int64_t timeout_s);

  // Drops messages older than their queue's retention period, in every queue. Receives and
  // counts drop them as well, so calling this is optional. Returns how many were dropped.
  Result<int64_t> expire_messages();

  struct Impl;

 private:
  explicit QueueService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;

  friend class Api;
};

}  // namespace sluice::sqs
