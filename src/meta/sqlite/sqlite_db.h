#pragma once
// The SQLite plumbing of meta/sqlite: one connection with its statement cache,
// SQLite result codes mapped to the catalogue in one place, and a statement
// borrowed for one call (Stmt). Not thread-safe: SqliteMetaStore serializes
// every use under its mutex.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <sqlite3.h>

#include "core/result.h"

namespace up::meta {

// SQLite result codes to the catalogue.
Errc code_of(int rc);
inline bool is_constraint(int rc) { return (rc & 0xff) == SQLITE_CONSTRAINT; }

// A cached prepared statement borrowed for one call. Parameters are bound in
// order of appearance; text is bound SQLITE_STATIC, so the bound values must
// outlive the statement's use (they are the caller's arguments). Reset on scope
// exit so the statement releases its read snapshot before the next use.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)), next_(o.next_), rc_(o.rc_) {}
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }

  Stmt& text(std::string_view v) {
    // An empty string_view may have a null data(), which SQLite would bind as NULL.
    return note(sqlite3_bind_text(s_, ++next_, v.data() ? v.data() : "", static_cast<int>(v.size()),
                                  SQLITE_STATIC));
  }
  Stmt& i64(int64_t v) { return note(sqlite3_bind_int64(s_, ++next_, v)); }
  // uint64 values are stored bit for bit in SQLite's int64.
  Stmt& u64(uint64_t v) { return i64(static_cast<int64_t>(v)); }
  Stmt& opt_u64(const std::optional<uint64_t>& v) {
    return v ? u64(*v) : note(sqlite3_bind_null(s_, ++next_));
  }
  Stmt& opt_i64(const std::optional<int64_t>& v) {
    return v ? i64(*v) : note(sqlite3_bind_null(s_, ++next_));
  }

  // SQLITE_ROW, SQLITE_DONE or an error (a failed bind is reported here).
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_); }

  std::string col_text(int i) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, i))) : std::string();
  }
  int64_t col_i64(int i) const { return sqlite3_column_int64(s_, i); }
  uint64_t col_u64(int i) const { return static_cast<uint64_t>(col_i64(i)); }
  bool col_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  std::optional<uint64_t> col_opt_u64(int i) const {
    return col_null(i) ? std::nullopt : std::optional<uint64_t>(col_u64(i));
  }
  std::optional<int64_t> col_opt_i64(int i) const {
    return col_null(i) ? std::nullopt : std::optional<int64_t>(col_i64(i));
  }

 private:
  Stmt& note(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
    return *this;
  }

  sqlite3_stmt* s_;
  int next_ = 0;
  int rc_ = SQLITE_OK;
};

// One open connection and its statement cache. Owns the connection.
class SqliteDb {
 public:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // The cached statement for `sql`, prepared on first use.
  Result<Stmt> prepare(const std::string& sql);
  Error error(int rc, std::string_view what) const;
  // Steps a statement that returns no rows.
  Status done(Stmt& st, std::string_view what);
  // Steps to the next row: true on a row, false at the end.
  Result<bool> row(Stmt& st, std::string_view what);
  // Whether `sql` with its one text parameter `arg` returns a row.
  Result<bool> exists(const std::string& sql, std::string_view arg);
  Status exec(const std::string& sql);
  // Rows changed by the last statement.
  uint64_t changes() const { return static_cast<uint64_t>(sqlite3_changes64(db_)); }
  const char* message() const { return sqlite3_errmsg(db_); }
  // Rolls back the open transaction, if SQLite has not already (some errors,
  // SQLITE_FULL, SQLITE_IOERR, roll it back themselves).
  void rollback();

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it fails or
  // the commit fails (e.g. SQLITE_FULL while writing the WAL).
  template <class F>
  auto in_transaction(F&& body) -> decltype(body()) {
    UP_TRY(exec("BEGIN IMMEDIATE"));
    auto r = body();
    if (!r) {
      rollback();
      return r;
    }
    if (auto c = exec("COMMIT"); !c) {
      rollback();
      return fail(std::move(c.error()));
    }
    return r;
  }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;  // SQL text -> prepared statement
};

}  // namespace up::meta
