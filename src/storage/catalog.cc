#include "storage/catalog.h"

#include <fmt/format.h>
#include <sqlite3.h>

namespace sluice::storage {
namespace {

Status sqlite_error(sqlite3* db, std::string_view what) {
  const int code = sqlite3_errcode(db);
  const std::string msg = fmt::format("catalog {}: {}", what, sqlite3_errmsg(db));
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return Status::corruption(msg);
  return Status::io_error(msg);
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int step() { return sqlite3_step(stmt_); }
  std::string column(int i) {
    const void* p = sqlite3_column_blob(stmt_, i);
    const int n = sqlite3_column_bytes(stmt_, i);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

}  // namespace

Result<std::unique_ptr<Catalog>> Catalog::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Status::io_error(
        fmt::format("catalog {}: {}", path, db ? sqlite3_errmsg(db) : "cannot open"));
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<Catalog> catalog(new Catalog(db));
  SLUICE_RETURN_IF_ERROR(catalog->exec(
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "PRAGMA busy_timeout=5000;"
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS kv(ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
      " PRIMARY KEY(ns, key)) WITHOUT ROWID;"
      "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');"));
  auto version = catalog->get_meta_version();
  if (!version.ok()) return version.status();
  if (*version != kSchemaVersion) {
    return Status::invalid_argument(fmt::format(
        "catalog {} has schema version {}, this sluice reads {}", path, *version, kSchemaVersion));
  }
  return catalog;
}

Result<int> Catalog::get_meta_version() const {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (!st.ok()) return sqlite_error(db_, "reading schema version");
  if (st.step() != SQLITE_ROW) return Status::corruption("catalog has no schema version");
  const std::string v = st.column(0);
  try {
    return std::stoi(v);
  } catch (...) {
    return Status::corruption("catalog schema version is not a number: " + v);
  }
}

Catalog::~Catalog() { sqlite3_close(db_); }

Status Catalog::exec(const char* sql) const {
  std::lock_guard lock(mu_);
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::io_error("catalog: " + msg);
  }
  return Status();
}

Result<std::optional<std::string>> Catalog::get(std::string_view ns, std::string_view key) const {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT value FROM kv WHERE ns = ?1 AND key = ?2");
  if (!st.ok()) return sqlite_error(db_, "get");
  st.bind(1, ns);
  st.bind(2, key);
  const int rc = st.step();
  if (rc == SQLITE_ROW) return std::optional<std::string>(st.column(0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return sqlite_error(db_, "get");
}

Result<std::vector<std::pair<std::string, std::string>>> Catalog::list(std::string_view ns) const {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT key, value FROM kv WHERE ns = ?1 ORDER BY key");
  if (!st.ok()) return sqlite_error(db_, "list");
  st.bind(1, ns);
  std::vector<std::pair<std::string, std::string>> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.emplace_back(st.column(0), st.column(1));
  if (rc != SQLITE_DONE) return sqlite_error(db_, "list");
  return out;
}

Status Catalog::apply(std::span<const Mutation> mutations) {
  std::lock_guard lock(mu_);
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sqlite_error(db_, "begin");
  }
  Stmt put(db_,
           "INSERT INTO kv(ns, key, value) VALUES(?1, ?2, ?3) "
           "ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value");
  Stmt del(db_, "DELETE FROM kv WHERE ns = ?1 AND key = ?2");
  Status s;
  if (!put.ok() || !del.ok()) s = sqlite_error(db_, "prepare");
  for (const Mutation& m : mutations) {
    if (!s.ok()) break;
    Stmt& st = m.value ? put : del;
    st.bind(1, m.ns);
    st.bind(2, m.key);
    if (m.value) st.bind_blob(3, *m.value);
    if (st.step() != SQLITE_DONE) s = sqlite_error(db_, "write");
    st.reset();
  }
  if (s.ok() && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    s = sqlite_error(db_, "commit");
  }
  if (!s.ok()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return s;
}

Status Catalog::put(std::string_view ns, std::string_view key, std::string_view value) {
  const Mutation m{std::string(ns), std::string(key), std::string(value)};
  return apply(std::span(&m, 1));
}

Status Catalog::erase(std::string_view ns, std::string_view key) {
  const Mutation m{std::string(ns), std::string(key), std::nullopt};
  return apply(std::span(&m, 1));
}

}  // namespace sluice::storage
