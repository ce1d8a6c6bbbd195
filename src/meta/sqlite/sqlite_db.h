#pragma once
// The SQLite plumbing of meta/sqlite: one connection with its statement cache,
// SQLite result codes mapped to the catalogue in one place, a statement
// borrowed for one call (Stmt), and the prepare-bind-step sequences every query
// of the store is one of (SqliteDb::run, change, insert, exists, first, one,
// all). Not thread-safe: SqliteMetaStore serializes every use under its mutex.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "core/result.h"
#include "meta/sql/columns.h"

namespace up::meta {

// SQLite result codes to the catalogue.
Errc code_of(int rc);
inline bool is_constraint(int rc) { return (rc & 0xff) == SQLITE_CONSTRAINT; }

// A cached prepared statement borrowed for one call. Parameters are bound in
// order of appearance; text is bound SQLITE_STATIC, so the bound values must
// outlive the statement's use (they are the caller's arguments). Reset on scope
// exit so the statement releases its read snapshot before the next use.
class Stmt : public ColumnReader<Stmt> {
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

  // Binds each argument to the next parameter, by its type: text (whatever a
  // string_view takes), bool as 1 or 0, integers (uint64 stored bit for bit in
  // SQLite's int64), std::optional of those (NULL when empty).
  template <class... A>
  Stmt& bind(const A&... args) {
    (bind_one(args), ...);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error (a failed bind is reported here).
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_); }

 private:
  template <class A>
  void bind_one(const A& v) {
    if constexpr (std::is_convertible_v<const A&, std::string_view>) {
      std::string_view text = v;
      // An empty string_view may have a null data(), which SQLite would bind as NULL.
      note(sqlite3_bind_text(s_, ++next_, text.data() ? text.data() : "",
                             static_cast<int>(text.size()), SQLITE_STATIC));
    } else if constexpr (std::is_same_v<A, bool>) {
      note(sqlite3_bind_int64(s_, ++next_, v ? 1 : 0));
    } else if constexpr (std::is_integral_v<A>) {
      note(sqlite3_bind_int64(s_, ++next_, static_cast<int64_t>(v)));
    } else {
      static_assert(kIsOptional<A>, "no SQLite binding for this type");
      if (v) {
        bind_one(*v);
      } else {
        note(sqlite3_bind_null(s_, ++next_));
      }
    }
  }

  // ColumnReader: the inverse of bind.
  friend class ColumnReader<Stmt>;
  bool is_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  template <class T>
  void read_value(int i, T& out) const {
    if constexpr (std::is_same_v<T, std::string>) {
      auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
      out = p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, i))) : std::string();
    } else if constexpr (std::is_same_v<T, bool>) {
      out = sqlite3_column_int64(s_, i) != 0;
    } else {
      static_assert(std::is_integral_v<T>, "no SQLite column reader for this type");
      out = static_cast<T>(sqlite3_column_int64(s_, i));
    }
  }

  Stmt& note(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
    return *this;
  }

  sqlite3_stmt* s_;
  int next_ = 0;
  int rc_ = SQLITE_OK;
};

template <class Read>
using StmtRowType = RowType<Read, Stmt>;

// One open connection and its statement cache. Owns the connection. Every
// statement below (and SqlCalls' change and one) is prepared from the cache and bound with `args`
// in order (Stmt::bind); `what` names it in error messages.
class SqliteDb : public SqlCalls<SqliteDb, Stmt> {
 public:
  using Row = Stmt;

  explicit SqliteDb(sqlite3* db) : db_(db) {}
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // The cached statement for `sql`, prepared on first use, with `args` bound.
  template <class... A>
  Result<Stmt> prepare(const std::string& sql, const A&... args) {
    auto st = cached(sql);
    if (st) st->bind(args...);
    return st;
  }
  Error error(int rc, std::string_view what) const;
  // Steps a statement that returns no rows.
  Status done(Stmt& st, std::string_view what);
  // Steps to the next row: true on a row, false at the end.
  Result<bool> row(Stmt& st, std::string_view what);
  Status exec(const std::string& sql);
  // Rows changed by the last statement.
  uint64_t changes() const { return static_cast<uint64_t>(sqlite3_changes64(db_)); }
  const char* message() const { return sqlite3_errmsg(db_); }
  // Rolls back the open transaction, if SQLite has not already (some errors,
  // SQLITE_FULL, SQLITE_IOERR, roll it back themselves).
  void rollback();

  // Runs a statement that returns no rows: the number of rows it changed.
  template <class... A>
  Result<uint64_t> run(std::string_view what, const std::string& sql, const A&... args) {
    auto st = prepare(sql, args...);
    if (!st) return fail(std::move(st.error()));
    UP_TRY(done(*st, what));
    return changes();
  }

  // Runs an INSERT. A constraint it breaks fails with `taken`: an Error (or
  // Errc), or a function of the SQLite result code that gives one.
  template <class Taken, class... A>
  Status insert(std::string_view what, const Taken& taken, const std::string& sql,
                const A&... args) {
    auto st = prepare(sql, args...);
    if (!st) return fail(std::move(st.error()));
    if (int rc = st->step(); rc != SQLITE_DONE) {
      if (!is_constraint(rc)) return fail(error(rc, what));
      if constexpr (std::is_invocable_v<const Taken&, int>) {
        return fail(taken(rc));
      } else {
        return fail(Error(taken));
      }
    }
    return ok();
  }

  // Whether `sql` returns a row.
  template <class... A>
  Result<bool> exists(std::string_view what, const std::string& sql, const A&... args) {
    auto st = prepare(sql, args...);
    if (!st) return fail(std::move(st.error()));
    return row(*st, what);
  }

  // The first row `sql` returns, read by `read` (a function of the Stmt giving
  // the row as T or Result<T>); nullopt when it returns none.
  template <class Read, class... A>
  Result<std::optional<StmtRowType<Read>>> first(std::string_view what, const Read& read,
                                                 const std::string& sql, const A&... args) {
    return first_row(what, false, read, sql, args...);
  }
  // first() for an INSERT, UPDATE or DELETE ... RETURNING: stepped to the end
  // after the first row so that the statement completes.
  template <class Read, class... A>
  Result<std::optional<StmtRowType<Read>>> returning(std::string_view what, const Read& read,
                                                     const std::string& sql, const A&... args) {
    return first_row(what, true, read, sql, args...);
  }
  // Every row `sql` returns, each read by `read` (as first()).
  template <class Read, class... A>
  Result<std::vector<StmtRowType<Read>>> all(std::string_view what, const Read& read,
                                             const std::string& sql, const A&... args) {
    auto st = prepare(sql, args...);
    if (!st) return fail(std::move(st.error()));
    std::vector<StmtRowType<Read>> out;
    while (true) {
      auto found = row(*st, what);
      if (!found) return fail(std::move(found.error()));
      if (!*found) return out;
      Result<StmtRowType<Read>> r = read(std::as_const(*st));
      if (!r) return fail(std::move(r.error()));
      out.push_back(std::move(*r));
    }
  }

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
  Result<Stmt> cached(const std::string& sql);

  template <class Read, class... A>
  Result<std::optional<StmtRowType<Read>>> first_row(std::string_view what, bool to_end,
                                                     const Read& read, const std::string& sql,
                                                     const A&... args) {
    auto st = prepare(sql, args...);
    if (!st) return fail(std::move(st.error()));
    auto found = row(*st, what);
    if (!found) return fail(std::move(found.error()));
    if (!*found) return std::optional<StmtRowType<Read>>();
    Result<StmtRowType<Read>> r = read(std::as_const(*st));
    if (!r) return fail(std::move(r.error()));
    if (to_end) {
      auto end = row(*st, what);
      if (!end) return fail(std::move(end.error()));
    }
    return std::optional<StmtRowType<Read>>(std::move(*r));
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;  // SQL text -> prepared statement
};

}  // namespace up::meta
