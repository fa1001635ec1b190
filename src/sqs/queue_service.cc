#include "sqs/queue_service.h"

#include "base/base64.h"
#include "base/log.h"
#include "base/uuid.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <openssl/evp.h>
#include <random>

namespace sluice::sqs {

// ---- Free helpers ----

std::string queue_arn(const QueueKey& key) {
  return fmt::format("arn:aws:sqs:{}:{}:{}", key.region, key.account, key.name);
}

std::optional<QueueKey> parse_queue_arn(std::string_view arn) {
  constexpr std::string_view kPrefix = "arn:aws:sqs:";
  if (!arn.starts_with(kPrefix)) return std::nullopt;
  arn.remove_prefix(kPrefix.size());
  const size_t c1 = arn.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  const size_t c2 = arn.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  QueueKey key{std::string(arn.substr(c1 + 1, c2 - c1 - 1)), std::string(arn.substr(0, c1)),
               std::string(arn.substr(c2 + 1))};
  if (key.region.empty() || key.account.empty() || key.name.empty() ||
      key.name.find(':') != std::string::npos) {
    return std::nullopt;
  }
  return key;
}

namespace {

// Attributes kept as given, reported back, and otherwise ignored (docs/wire/sqs.md).
constexpr std::array<std::string_view, 6> kOpaqueAttributes = {"Policy",
                                                               "RedrivePolicy",
                                                               "RedriveAllowPolicy",
                                                               "KmsMasterKeyId",
                                                               "KmsDataKeyReusePeriodSeconds",
                                                               "SqsManagedSseEnabled"};

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 0xf]);
  }
  return out;
}

std::string md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return hex(digest, len);
}

void append_be32(std::string& out, size_t n) {
  const auto v = static_cast<uint32_t>(n);
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void append_sized(std::string& out, std::string_view s) {
  append_be32(out, s.size());
  out.append(s);
}

// ---- The stored encodings (docs/formats/sqs-store.md): netstrings "<len>:<bytes>," ----

void put_netstring(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out.push_back(':');
  out.append(s);
  out.push_back(',');
}

bool get_netstring(std::string_view& in, std::string_view* out) {
  const size_t colon = in.find(':');
  if (colon == std::string_view::npos) return false;
  auto n = parse_int(in.substr(0, colon));
  if (!n || *n < 0 || static_cast<size_t>(*n) > in.size() - colon - 1) return false;
  const auto len = static_cast<size_t>(*n);
  if (colon + 1 + len >= in.size() || in[colon + 1 + len] != ',') return false;
  *out = in.substr(colon + 1, len);
  in.remove_prefix(colon + 2 + len);
  return true;
}

std::string encode_attributes(const std::vector<MessageAttribute>& attributes) {
  std::string out;
  for (const auto& a : attributes) {
    put_netstring(out, a.name);
    put_netstring(out, a.data_type);
    put_netstring(out, a.binary ? "B" : "S");
    put_netstring(out, a.value);
  }
  return out;
}

Result<std::vector<MessageAttribute>> decode_attributes(std::string_view in, int64_t row) {
  std::vector<MessageAttribute> out;
  while (!in.empty()) {
    std::string_view name, type, kind, value;
    if (!get_netstring(in, &name) || !get_netstring(in, &type) || !get_netstring(in, &kind) ||
        !get_netstring(in, &value) || (kind != "S" && kind != "B")) {
      return Status::corruption(fmt::format("sqs store: bad attributes of message row {}", row));
    }
    out.push_back(
        MessageAttribute{std::string(name), std::string(type), kind == "B", std::string(value)});
  }
  return out;
}

std::string encode_map(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    put_netstring(out, k);
    put_netstring(out, v);
  }
  return out;
}

Result<std::map<std::string, std::string>> decode_map(std::string_view in, int64_t queue_id) {
  std::map<std::string, std::string> out;
  while (!in.empty()) {
    std::string_view k, v;
    if (!get_netstring(in, &k) || !get_netstring(in, &v)) {
      return Status::corruption(fmt::format("sqs store: bad attributes of queue row {}", queue_id));
    }
    out.emplace(std::string(k), std::string(v));
  }
  return out;
}

std::string random_token() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{:016x}", rng());
}

}  // namespace

std::map<std::string, std::string> QueueConfig::to_attributes() const {
  std::map<std::string, std::string> out = opaque;
  out["VisibilityTimeout"] = std::to_string(visibility_timeout_s);
  out["MessageRetentionPeriod"] = std::to_string(retention_s);
  out["DelaySeconds"] = std::to_string(delay_s);
  out["ReceiveMessageWaitTimeSeconds"] = std::to_string(receive_wait_s);
  out["MaximumMessageSize"] = std::to_string(max_message_bytes);
  return out;
}

AttributeError set_attribute(QueueConfig& config, std::string_view name, std::string_view value,
                             std::string* message) {
  struct Range {
    std::string_view name;
    int64_t QueueConfig::*member;
    int64_t min;
    int64_t max;
  };
  static constexpr std::array<Range, 5> kRanges = {{
      {"VisibilityTimeout", &QueueConfig::visibility_timeout_s, 0, 43200},
      {"MessageRetentionPeriod", &QueueConfig::retention_s, 60, 1209600},
      {"DelaySeconds", &QueueConfig::delay_s, 0, 900},
      {"ReceiveMessageWaitTimeSeconds", &QueueConfig::receive_wait_s, 0, 20},
      {"MaximumMessageSize", &QueueConfig::max_message_bytes, 1024, 1048576},
  }};
  for (const Range& r : kRanges) {
    if (name != r.name) continue;
    const auto v = parse_int(value);
    if (!v || *v < r.min || *v > r.max) {
      *message =
          fmt::format("Invalid value for the parameter {}. It must be an integer from {} to {}.",
                      name, r.min, r.max);
      return AttributeError::kBadValue;
    }
    config.*r.member = *v;
    return AttributeError::kNone;
  }
  if (name == "FifoQueue" || name == "ContentBasedDeduplication" || name == "DeduplicationScope" ||
      name == "FifoThroughputLimit") {
    if (name == "FifoQueue" && value == "false") return AttributeError::kNone;
    *message =
        fmt::format("Sluice supports standard queues only; attribute {} is not supported.", name);
    return AttributeError::kUnsupported;
  }
  if (std::find(kOpaqueAttributes.begin(), kOpaqueAttributes.end(), name) !=
      kOpaqueAttributes.end()) {
    config.opaque[std::string(name)] = std::string(value);
    return AttributeError::kNone;
  }
  *message = fmt::format("Unknown Attribute {}.", name);
  return AttributeError::kUnknownName;
}

std::string md5_of_body(std::string_view body) { return md5_hex(body); }

std::string md5_of_attributes(std::vector<MessageAttribute> attributes) {
  if (attributes.empty()) return "";
  std::sort(attributes.begin(), attributes.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::string buf;
  for (const auto& a : attributes) {
    append_sized(buf, a.name);
    append_sized(buf, a.data_type);
    buf.push_back(a.binary ? '\2' : '\1');
    append_sized(buf, a.value);
  }
  return md5_hex(buf);
}

std::string format_receipt_handle(const ReceiptHandle& handle) {
  return base64_encode(
      as_bytes(fmt::format("sluice1 {} {} {}", handle.queue_id, handle.message_row, handle.token)));
}

std::optional<ReceiptHandle> parse_receipt_handle(std::string_view text) {
  std::string raw;
  if (text.size() > 1024 || base64_decode(text, raw)) return std::nullopt;
  std::string_view in(raw);
  constexpr std::string_view kPrefix = "sluice1 ";
  if (!in.starts_with(kPrefix)) return std::nullopt;
  in.remove_prefix(kPrefix.size());
  const size_t s1 = in.find(' ');
  if (s1 == std::string_view::npos) return std::nullopt;
  const size_t s2 = in.find(' ', s1 + 1);
  if (s2 == std::string_view::npos) return std::nullopt;
  auto queue_id = parse_int(in.substr(0, s1));
  auto row = parse_int(in.substr(s1 + 1, s2 - s1 - 1));
  std::string_view token = in.substr(s2 + 1);
  if (!queue_id || !row || token.size() != 16) return std::nullopt;
  return ReceiptHandle{*queue_id, *row, std::string(token)};
}

// ---- The store ----

namespace {

constexpr int kSchemaVersion = 1;

Status sqlite_error(sqlite3* db, std::string_view what) {
  const int code = sqlite3_errcode(db);
  const std::string msg = fmt::format("sqs store {}: {}", what, sqlite3_errmsg(db));
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return Status::corruption(msg);
  return Status::io_error(msg);
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Status prepared(std::string_view what) const {
    return rc_ == SQLITE_OK ? Status() : sqlite_error(db_, what);
  }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
  }
  void integer(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int step() { return sqlite3_step(stmt_); }
  int64_t col_int(int i) { return sqlite3_column_int64(stmt_, i); }
  bool col_null(int i) { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  // Makes the statement ready for another step with new bindings.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string col_str(int i) {
    const void* p = sqlite3_column_blob(stmt_, i);
    const int n = sqlite3_column_bytes(stmt_, i);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

Status exec(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = fmt::format("sqs store {}: {}", what, err ? err : "unknown error");
    sqlite3_free(err);
    return Status::io_error(msg);
  }
  return Status();
}

// BEGIN IMMEDIATE ... COMMIT; rolls back when not committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { begun_ = exec(db, "BEGIN IMMEDIATE", "begin"); }
  ~Transaction() {
    if (begun_.ok() && !done_) (void)exec(db_, "ROLLBACK", "rollback");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& begun() const { return begun_; }
  Status commit() {
    done_ = true;
    Status s = exec(db_, "COMMIT", "commit");
    if (!s.ok()) (void)exec(db_, "ROLLBACK", "rollback");
    return s;
  }

 private:
  sqlite3* db_;
  Status begun_;
  bool done_ = false;
};

struct QueueRow {
  int64_t id = 0;
  QueueInfo info;
};

}  // namespace

struct QueueService::Impl {
  sqlite3* db = nullptr;
  const Clock* clock = nullptr;
  QueueServiceOptions options;
  mutable std::mutex mu;
  std::condition_variable cv;  // notified after every commit that may make a message visible
  bool shutting_down = false;  // guarded by mu
  int receivers = 0;           // calls inside receive(); guarded by mu

  ~Impl() { sqlite3_close(db); }

  // REQUIRES: mu held.
  Result<std::optional<QueueRow>> find(const QueueKey& key) const {
    Stmt st(db,
            "SELECT id, created_ms, modified_ms, visibility_timeout_s, retention_s, delay_s,"
            " receive_wait_s, max_message_bytes, opaque FROM queues"
            " WHERE account = ?1 AND region = ?2 AND name = ?3");
    SLUICE_RETURN_IF_ERROR(st.prepared("find queue"));
    st.text(1, key.account);
    st.text(2, key.region);
    st.text(3, key.name);
    const int rc = st.step();
    if (rc == SQLITE_DONE) return std::optional<QueueRow>();
    if (rc != SQLITE_ROW) return sqlite_error(db, "find queue");
    QueueRow row;
    row.id = st.col_int(0);
    row.info.key = key;
    row.info.created_ms = st.col_int(1);
    row.info.modified_ms = st.col_int(2);
    QueueConfig& c = row.info.config;
    c.visibility_timeout_s = st.col_int(3);
    c.retention_s = st.col_int(4);
    c.delay_s = st.col_int(5);
    c.receive_wait_s = st.col_int(6);
    c.max_message_bytes = st.col_int(7);
    SLUICE_ASSIGN_OR_RETURN(c.opaque, decode_map(st.col_str(8), row.id));
    return std::optional<QueueRow>(std::move(row));
  }

  // REQUIRES: mu held.
  Result<QueueRow> find_existing(const QueueKey& key) const {
    SLUICE_ASSIGN_OR_RETURN(auto row, find(key));
    if (!row) {
      return Status::not_found(fmt::format("The specified queue {} does not exist.", key.name));
    }
    return std::move(*row);
  }

  // Drops the queue's messages older than its retention period. REQUIRES: mu held.
  Status expire(const QueueRow& q, int64_t now_ms) {
    Stmt st(db, "DELETE FROM messages WHERE queue_id = ?1 AND sent_ms <= ?2");
    SLUICE_RETURN_IF_ERROR(st.prepared("expire"));
    st.integer(1, q.id);
    st.integer(2, now_ms - q.info.config.retention_s * 1000);
    if (st.step() != SQLITE_DONE) return sqlite_error(db, "expire");
    return Status();
  }

  // REQUIRES: mu held.
  Status count(QueueRow& q, int64_t now_ms) {
    SLUICE_RETURN_IF_ERROR(expire(q, now_ms));
    Stmt st(db,
            "SELECT COALESCE(SUM(visible_at_ms <= ?2), 0),"
            " COALESCE(SUM(visible_at_ms > ?2 AND receive_count > 0), 0),"
            " COALESCE(SUM(visible_at_ms > ?2 AND receive_count = 0), 0)"
            " FROM messages WHERE queue_id = ?1");
    SLUICE_RETURN_IF_ERROR(st.prepared("count"));
    st.integer(1, q.id);
    st.integer(2, now_ms);
    if (st.step() != SQLITE_ROW) return sqlite_error(db, "count");
    q.info.visible = st.col_int(0);
    q.info.in_flight = st.col_int(1);
    q.info.delayed = st.col_int(2);
    return Status();
  }

  // One insert; the caller owns the transaction. REQUIRES: mu held.
  Result<SentMessage> insert(const QueueRow& q, const SendRequest& r, int64_t now_ms) {
    SentMessage sent{new_uuid(), md5_of_body(r.body), md5_of_attributes(r.attributes)};
    Stmt st(db,
            "INSERT INTO messages(queue_id, message_id, body, attributes, sender_id, sent_ms,"
            " visible_at_ms, receive_count, first_receive_ms, receipt_token)"
            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, '')");
    SLUICE_RETURN_IF_ERROR(st.prepared("send"));
    st.integer(1, q.id);
    st.text(2, sent.message_id);
    st.blob(3, r.body);
    st.blob(4, encode_attributes(r.attributes));
    st.text(5, r.sender_id);
    st.integer(6, now_ms);
    st.integer(7, now_ms + r.delay_s.value_or(q.info.config.delay_s) * 1000);
    if (st.step() != SQLITE_DONE) return sqlite_error(db, "send");
    return sent;
  }

  // Takes up to `max` visible messages and hides them. REQUIRES: mu held.
  Result<std::vector<ReceivedMessage>> take(const QueueRow& q, int max, int64_t visibility_s,
                                            int64_t now_ms) {
    Transaction tx(db);
    SLUICE_RETURN_IF_ERROR(tx.begun());
    SLUICE_RETURN_IF_ERROR(expire(q, now_ms));
    std::vector<ReceivedMessage> out;
    std::vector<int64_t> rows;
    {
      Stmt st(db,
              "SELECT id, message_id, body, attributes, sender_id, sent_ms, receive_count,"
              " first_receive_ms FROM messages WHERE queue_id = ?1 AND visible_at_ms <= ?2"
              " ORDER BY visible_at_ms, id LIMIT ?3");
      SLUICE_RETURN_IF_ERROR(st.prepared("receive"));
      st.integer(1, q.id);
      st.integer(2, now_ms);
      st.integer(3, max);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) {
        ReceivedMessage m;
        const int64_t row = st.col_int(0);
        m.message_id = st.col_str(1);
        m.body = st.col_str(2);
        SLUICE_ASSIGN_OR_RETURN(m.attributes, decode_attributes(st.col_str(3), row));
        m.sender_id = st.col_str(4);
        m.sent_ms = st.col_int(5);
        m.receive_count = st.col_int(6) + 1;
        m.first_receive_ms = st.col_int(7) == 0 ? now_ms : st.col_int(7);
        m.md5_of_body = md5_of_body(m.body);
        rows.push_back(row);
        out.push_back(std::move(m));
      }
      if (rc != SQLITE_DONE) return sqlite_error(db, "receive");
    }
    if (out.empty()) return out;
    Stmt up(db,
            "UPDATE messages SET visible_at_ms = ?2, receive_count = receive_count + 1,"
            " first_receive_ms = ?3, receipt_token = ?4 WHERE id = ?1");
    SLUICE_RETURN_IF_ERROR(up.prepared("receive update"));
    for (size_t i = 0; i < out.size(); ++i) {
      const std::string token = random_token();
      up.integer(1, rows[i]);
      up.integer(2, now_ms + visibility_s * 1000);
      up.integer(3, out[i].first_receive_ms);
      up.text(4, token);
      if (up.step() != SQLITE_DONE) return sqlite_error(db, "receive update");
      up.reset();
      out[i].receipt_handle = format_receipt_handle(ReceiptHandle{q.id, rows[i], token});
      std::sort(out[i].attributes.begin(), out[i].attributes.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
    }
    SLUICE_RETURN_IF_ERROR(tx.commit());
    return out;
  }

  // The earliest time a message of `q` becomes visible; nullopt when it has none.
  // REQUIRES: mu held.
  Result<std::optional<int64_t>> next_visible_ms(const QueueRow& q) {
    Stmt st(db, "SELECT MIN(visible_at_ms) FROM messages WHERE queue_id = ?1");
    SLUICE_RETURN_IF_ERROR(st.prepared("next visible"));
    st.integer(1, q.id);
    if (st.step() != SQLITE_ROW) return sqlite_error(db, "next visible");
    if (st.col_null(0)) return std::optional<int64_t>();
    return std::optional<int64_t>(st.col_int(0));
  }

  // Checks `h` against its message. REQUIRES: mu held.
  Result<HandleOutcome> check_handle(const QueueRow& q, const ReceiptHandle& h, int64_t now_ms) {
    if (h.queue_id != q.id) {
      return Status::invalid_argument("The receipt handle belongs to another queue.");
    }
    Stmt st(db,
            "SELECT receipt_token, visible_at_ms FROM messages WHERE id = ?1 AND queue_id = ?2");
    SLUICE_RETURN_IF_ERROR(st.prepared("find message"));
    st.integer(1, h.message_row);
    st.integer(2, q.id);
    const int rc = st.step();
    if (rc == SQLITE_DONE) return HandleOutcome::kStale;
    if (rc != SQLITE_ROW) return sqlite_error(db, "find message");
    if (st.col_str(0) != h.token) return HandleOutcome::kStale;
    if (st.col_int(1) <= now_ms) return HandleOutcome::kNotInFlight;
    return HandleOutcome::kOk;
  }
};

QueueService::QueueService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QueueService::~QueueService() {
  // A receive() may still be waiting on a handler thread when the composition root ends us:
  // wake it and let it leave before the database closes.
  shutdown();
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->receivers == 0; });
}

Result<std::unique_ptr<QueueService>> QueueService::open(const std::string& db_path,
                                                         const Clock* clock,
                                                         QueueServiceOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->clock = clock;
  impl->options = std::move(options);
  const int rc =
      sqlite3_open_v2(db_path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return Status::io_error(fmt::format("sqs store {}: {}", db_path,
                                        impl->db ? sqlite3_errmsg(impl->db) : "cannot open"));
  }
  // Layout and versioning: docs/formats/sqs-store.md.
  SLUICE_RETURN_IF_ERROR(
      exec(impl->db,
           "PRAGMA journal_mode=WAL;"
           "PRAGMA synchronous=FULL;"
           "PRAGMA busy_timeout=5000;"
           "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
           "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');"
           "CREATE TABLE IF NOT EXISTS queues(id INTEGER PRIMARY KEY AUTOINCREMENT,"
           " account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,"
           " created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL,"
           " visibility_timeout_s INTEGER NOT NULL, retention_s INTEGER NOT NULL,"
           " delay_s INTEGER NOT NULL, receive_wait_s INTEGER NOT NULL,"
           " max_message_bytes INTEGER NOT NULL, opaque BLOB NOT NULL,"
           " UNIQUE(account, region, name));"
           "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY AUTOINCREMENT,"
           " queue_id INTEGER NOT NULL, message_id TEXT NOT NULL, body BLOB NOT NULL,"
           " attributes BLOB NOT NULL, sender_id TEXT NOT NULL, sent_ms INTEGER NOT NULL,"
           " visible_at_ms INTEGER NOT NULL, receive_count INTEGER NOT NULL,"
           " first_receive_ms INTEGER NOT NULL, receipt_token TEXT NOT NULL);"
           "CREATE INDEX IF NOT EXISTS messages_by_visibility"
           " ON messages(queue_id, visible_at_ms, id);",
           db_path));
  {
    Stmt st(impl->db, "SELECT value FROM meta WHERE key = 'schema_version'");
    SLUICE_RETURN_IF_ERROR(st.prepared("schema version"));
    if (st.step() != SQLITE_ROW) return Status::corruption("sqs store has no schema version");
    const auto v = parse_int(st.col_str(0));
    if (!v || *v != kSchemaVersion) {
      return Status::invalid_argument(
          fmt::format("sqs store {} has schema version {}, this sluice reads {}", db_path,
                      st.col_str(0), kSchemaVersion));
    }
  }
  return std::unique_ptr<QueueService>(new QueueService(std::move(impl)));
}

const QueueServiceOptions& QueueService::options() const { return impl_->options; }

void QueueService::shutdown() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->shutting_down = true;
  }
  impl_->cv.notify_all();
}

Status QueueService::check_queue_arn(std::string_view arn) const {
  auto key = parse_queue_arn(arn);
  if (!key) return Status::invalid_argument(fmt::format("{} is not an SQS queue ARN", arn));
  if (key->name.ends_with(".fifo")) {
    return Status::invalid_argument(fmt::format("{} names a FIFO queue", arn));
  }
  std::lock_guard lock(impl_->mu);
  SLUICE_ASSIGN_OR_RETURN(auto row, impl_->find(*key));
  if (!row) return Status::not_found(fmt::format("queue {} does not exist", arn));
  return Status();
}

Result<std::string> QueueService::send_to_arn(std::string_view arn, std::string_view body) {
  auto key = parse_queue_arn(arn);
  if (!key) return Status::invalid_argument(fmt::format("{} is not an SQS queue ARN", arn));
  SendRequest r;
  r.body = std::string(body);
  r.sender_id = key->account;
  SLUICE_ASSIGN_OR_RETURN(SentMessage sent, send(*key, r));
  return sent.message_id;
}

Result<QueueInfo> QueueService::create_queue(const QueueKey& key, const QueueConfig& config,
                                             const std::map<std::string, std::string>& given) {
  std::lock_guard lock(impl_->mu);
  const int64_t now = impl_->clock->now_ms();
  SLUICE_ASSIGN_OR_RETURN(auto existing, impl_->find(key));
  if (existing) {
    const auto have = existing->info.config.to_attributes();
    for (const auto& [name, value] : given) {
      auto it = have.find(name);
      if (it == have.end() || it->second != value) {
        return Status::already_exists(fmt::format(
            "A queue already exists with the same name and a different value for attribute {}",
            name));
      }
    }
    SLUICE_RETURN_IF_ERROR(impl_->count(*existing, now));
    return existing->info;
  }
  Stmt st(impl_->db,
          "INSERT INTO queues(account, region, name, created_ms, modified_ms,"
          " visibility_timeout_s, retention_s, delay_s, receive_wait_s, max_message_bytes, opaque)"
          " VALUES(?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  SLUICE_RETURN_IF_ERROR(st.prepared("create queue"));
  st.text(1, key.account);
  st.text(2, key.region);
  st.text(3, key.name);
  st.integer(4, now);
  st.integer(5, config.visibility_timeout_s);
  st.integer(6, config.retention_s);
  st.integer(7, config.delay_s);
  st.integer(8, config.receive_wait_s);
  st.integer(9, config.max_message_bytes);
  st.blob(10, encode_map(config.opaque));
  if (st.step() != SQLITE_DONE) return sqlite_error(impl_->db, "create queue");
  QueueInfo info{key, config, now, now, 0, 0, 0};
  return info;
}

Result<QueueInfo> QueueService::get_queue(const QueueKey& key) {
  std::lock_guard lock(impl_->mu);
  SLUICE_ASSIGN_OR_RETURN(QueueRow row, impl_->find_existing(key));
  SLUICE_RETURN_IF_ERROR(impl_->count(row, impl_->clock->now_ms()));
  return row.info;
}

Status QueueService::set_queue_config(const QueueKey& key, const QueueConfig& config) {
  {
    std::lock_guard lock(impl_->mu);
    SLUICE_ASSIGN_OR_RETURN(QueueRow row, impl_->find_existing(key));
    Stmt st(impl_->db,
            "UPDATE queues SET modified_ms = ?2, visibility_timeout_s = ?3, retention_s = ?4,"
            " delay_s = ?5, receive_wait_s = ?6, max_message_bytes = ?7, opaque = ?8"
            " WHERE id = ?1");
    SLUICE_RETURN_IF_ERROR(st.prepared("set attributes"));
    st.integer(1, row.id);
    st.integer(2, impl_->clock->now_ms());
    st.integer(3, config.visibility_timeout_s);
    st.integer(4, config.retention_s);
    st.integer(5, config.delay_s);
    st.integer(6, config.receive_wait_s);
    st.integer(7, config.max_message_bytes);
    st.blob(8, encode_map(config.opaque));
    if (st.step() != SQLITE_DONE) return sqlite_error(impl_->db, "set attributes");
  }
  impl_->cv.notify_all();
  return Status();
}

Status QueueService::delete_queue(const QueueKey& key) {
  {
    std::lock_guard lock(impl_->mu);
    SLUICE_ASSIGN_OR_RETURN(QueueRow row, impl_->find_existing(key));
    Transaction tx(impl_->db);
    SLUICE_RETURN_IF_ERROR(tx.begun());
    for (const char* sql :
         {"DELETE FROM messages WHERE queue_id = ?1", "DELETE FROM queues WHERE id = ?1"}) {
      Stmt st(impl_->db, sql);
      SLUICE_RETURN_IF_ERROR(st.prepared("delete queue"));
      st.integer(1, row.id);
      if (st.step() != SQLITE_DONE) return sqlite_error(impl_->db, "delete queue");
    }
    SLUICE_RETURN_IF_ERROR(tx.commit());
  }
  impl_->cv.notify_all();  // waiting receivers of this queue answer kNotFound
  return Status();
}

Status QueueService::purge_queue(const QueueKey& key) {
  std::lock_guard lock(impl_->mu);
  SLUICE_ASSIGN_OR_RETURN(QueueRow row, impl_->find_existing(key));
  Stmt st(impl_->db, "DELETE FROM messages WHERE queue_id = ?1");
  SLUICE_RETURN_IF_ERROR(st.prepared("purge"));
  st.integer(1, row.id);
  if (st.step() != SQLITE_DONE) return sqlite_error(impl_->db, "purge");
  return Status();
}

Result<std::vector<std::string>> QueueService::list_queues(std::string_view account,
                                                           std::string_view region,
                                                           std::string_view prefix,
                                                           std::string_view after, size_t limit) {
  std::lock_guard lock(impl_->mu);
  Stmt st(impl_->db,
          "SELECT name FROM queues WHERE account = ?1 AND region = ?2 AND name > ?3"
          " AND substr(name, 1, ?4) = ?5 ORDER BY name LIMIT ?6");
  SLUICE_RETURN_IF_ERROR(st.prepared("list queues"));
  st.text(1, account);
  st.text(2, region);
  st.text(3, after);
  st.integer(4, static_cast<int64_t>(prefix.size()));
  st.text(5, prefix);
  st.integer(6, static_cast<int64_t>(limit));
  std::vector<std::string> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(st.col_str(0));
  if (rc != SQLITE_DONE) return sqlite_error(impl_->db, "list queues");
  return out;
}

Result<SentMessage> QueueService::send(const QueueKey& key, const SendRequest& request) {
  SLUICE_ASSIGN_OR_RETURN(auto sent, send_batch(key, {request}));
  return std::move(sent.front());
}

Result<std::vector<SentMessage>> QueueService::send_batch(
    const QueueKey& key, const std::vector<SendRequest>& requests) {
  std::vector<SentMessage> out;
  {
    std::lock_guard lock(impl_->mu);
    SLUICE_ASSIGN_OR_RETURN(QueueRow row, impl_->find_existing(key));
    const int64_t now = impl_->clock->now_ms();
    Transaction tx(impl_->db);
    SLUICE_RETURN_IF_ERROR(tx.begun());
    for (const SendRequest& r : requests) {
      SLUICE_ASSIGN_OR_RETURN(SentMessage sent, impl_->insert(row, r, now));
      out.push_back(std::move(sent));
    }
    SLUICE_RETURN_IF_ERROR(tx.commit());
  }
  impl_->cv.notify_all();
  return out;
}

Result<std::vector<ReceivedMessage>> QueueService::receive(const QueueKey& key,
                                                           const ReceiveRequest& request) {
  std::unique_lock lock(impl_->mu);
  // Counted so that the destructor can wait for us; the guard runs with `lock` held.
  ++impl_->receivers;
  struct Leave {
    Impl* impl;
    ~Leave() {
      if (--impl->receivers == 0 && impl->shutting_down) impl->cv.notify_all();
    }
  } leave{impl_.get()};
  SLUICE_ASSIGN_OR_RETURN(QueueRow row, impl_->find_existing(key));
  const int64_t wait_s = request.wait_s.value_or(row.info.config.receive_wait_s);
  // The wait is real time (a client's socket is waiting), not the injected clock's.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
  while (true) {
    const int64_t now = impl_->clock->now_ms();
    const int64_t visibility =
        request.visibility_timeout_s.value_or(row.info.config.visibility_timeout_s);
    SLUICE_ASSIGN_OR_RETURN(auto got, impl_->take(row, request.max_messages, visibility, now));
    if (!got.empty() || impl_->shutting_down) return got;
    auto until = deadline;
    SLUICE_ASSIGN_OR_RETURN(auto next, impl_->next_visible_ms(row));
    if (next) {
      until = std::min(until, std::chrono::steady_clock::now() +
                                  std::chrono::milliseconds(std::max<int64_t>(*next - now, 1)));
    }
    if (std::chrono::steady_clock::now() >= deadline) return got;
    impl_->cv.wait_until(lock, until);
    if (impl_->shutting_down) return std::vector<ReceivedMessage>();
    // The queue may have been deleted or reconfigured while we waited.
    SLUICE_ASSIGN_OR_RETURN(row, impl_->find_existing(key));
  }
}

Result<HandleOutcome> QueueService::delete_message(const QueueKey& key,
                                                   const ReceiptHandle& handle) {
  std::lock_guard lock(impl_->mu);
  SLUICE_ASSIGN_OR_RETURN(QueueRow row, impl_->find_existing(key));
  SLUICE_ASSIGN_OR_RETURN(HandleOutcome outcome,
                          impl_->check_handle(row, handle, impl_->clock->now_ms()));
  if (outcome == HandleOutcome::kStale) return outcome;
  // The current handle deletes the message even when its visibility timeout has passed.
  Stmt st(impl_->db, "DELETE FROM messages WHERE id = ?1");
  SLUICE_RETURN_IF_ERROR(st.prepared("delete message"));
  st.integer(1, handle.message_row);
  if (st.step() != SQLITE_DONE) return sqlite_error(impl_->db, "delete message");
  return HandleOutcome::kOk;
}

Result<HandleOutcome> QueueService::change_visibility(const QueueKey& key,
                                                      const ReceiptHandle& handle,
                                                      int64_t timeout_s) {
  {
    std::lock_guard lock(impl_->mu);
    SLUICE_ASSIGN_OR_RETURN(QueueRow row, impl_->find_existing(key));
    const int64_t now = impl_->clock->now_ms();
    SLUICE_ASSIGN_OR_RETURN(HandleOutcome outcome, impl_->check_handle(row, handle, now));
    if (outcome != HandleOutcome::kOk) return outcome;
    Stmt st(impl_->db, "UPDATE messages SET visible_at_ms = ?2 WHERE id = ?1");
    SLUICE_RETURN_IF_ERROR(st.prepared("change visibility"));
    st.integer(1, handle.message_row);
    st.integer(2, now + timeout_s * 1000);
    if (st.step() != SQLITE_DONE) return sqlite_error(impl_->db, "change visibility");
  }
  impl_->cv.notify_all();
  return HandleOutcome::kOk;
}

Result<int64_t> QueueService::expire_messages() {
  std::lock_guard lock(impl_->mu);
  Stmt st(impl_->db,
          "DELETE FROM messages WHERE sent_ms <= ?1 -"
          " (SELECT retention_s FROM queues WHERE queues.id = messages.queue_id) * 1000");
  SLUICE_RETURN_IF_ERROR(st.prepared("expire"));
  st.integer(1, impl_->clock->now_ms());
  if (st.step() != SQLITE_DONE) return sqlite_error(impl_->db, "expire");
  return static_cast<int64_t>(sqlite3_changes(impl_->db));
}

}  // namespace sluice::sqs
