#pragma once
// The libpq plumbing of meta/postgres: one connection with its prepared
// statements, SQLSTATEs mapped to the catalogue in one place, a row of a result
// (PgRow), and the exec-and-read sequences every query of the store is one of
// (PgConn::run, insert, exists, first, returning, all, and SqlCalls' change
// and one), shaped like SqliteDb's. Parameters travel as text, never spliced
// into the SQL: $1, $2, ... in it, or SQLite's ? (numbered in order when
// prepared, so that one statement text serves both stores). Results come back
// as text. Not thread-safe: one PgConn is used by one caller at a time (PgPool
// lends it out).

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <libpq-fe.h>

#include "core/result.h"
#include "meta/sql/columns.h"

namespace up::meta {

// The SQLSTATE of a failed result to the catalogue: 40001/40P01 are the
// retryable kTransactionConflict, a lost or refused connection kUnavailable.
Errc pg_code_of(std::string_view sqlstate, bool connection_bad);

struct PgResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

// `sql` with each ? outside quotes replaced by $1, $2, ... in order (a
// statement that uses a parameter twice writes $n itself).
std::string number_placeholders(std::string_view sql);

// One row of a result, read column by column from the first (ColumnReader):
// std::string, bool ('t'/'f'), integers (uint64 stored bit for bit in
// bigint), std::optional of those (NULL when empty).
class PgRow : public ColumnReader<PgRow> {
 public:
  PgRow(const PGresult* r, int row) : r_(r), row_(row) {}

 private:
  friend class ColumnReader<PgRow>;
  bool is_null(int i) const { return PQgetisnull(r_, row_, i) != 0; }
  template <class T>
  void read_value(int i, T& out) const {
    const char* p = PQgetvalue(r_, row_, i);
    if constexpr (std::is_same_v<T, std::string>) {
      out.assign(p, static_cast<size_t>(PQgetlength(r_, row_, i)));
    } else if constexpr (std::is_same_v<T, bool>) {
      out = p[0] == 't';
    } else {
      static_assert(std::is_integral_v<T>, "no PostgreSQL column reader for this type");
      out = static_cast<T>(std::strtoll(p, nullptr, 10));
    }
  }

  const PGresult* r_;
  int row_;
};

template <class Read>
using PgRowType = RowType<Read, PgRow>;

// Query parameters as libpq's text values (nullopt is NULL).
class PgParams {
 public:
  template <class... A>
  explicit PgParams(const A&... args) {
    values_.reserve(sizeof...(A));
    (add(args), ...);
  }
  // Appends one more parameter (for queries built from optional terms).
  template <class A>
  void add(const A& v) {
    if constexpr (std::is_convertible_v<const A&, std::string_view>) {
      values_.emplace_back(std::string(std::string_view(v)));
    } else if constexpr (std::is_same_v<A, bool>) {
      values_.emplace_back(v ? "true" : "false");
    } else if constexpr (std::is_integral_v<A>) {
      values_.emplace_back(std::to_string(static_cast<int64_t>(v)));
    } else {
      static_assert(kIsOptional<A>, "no PostgreSQL binding for this type");
      if (v) {
        add(*v);
      } else {
        values_.emplace_back(std::nullopt);
      }
    }
  }
  // Pointers for PQexecPrepared; valid while this object is.
  std::vector<const char*> pointers() const;
  int size() const { return static_cast<int>(values_.size()); }

 private:
  std::vector<std::optional<std::string>> values_;
};

// One open connection. Owns it. Calls as SqliteDb's (with SqlCalls' change
// and one).
class PgConn : public SqlCalls<PgConn, PgRow> {
 public:
  using Row = PgRow;

  explicit PgConn(PGconn* c) : c_(c) {}
  ~PgConn() { PQfinish(c_); }
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // False if the connection is known to be gone (the server closed it while
  // it sat idle, or a call lost it). Cheap: no round trip.
  bool healthy();
  // Reconnects with the same parameters; kUnavailable if that fails.
  Status reset();
  // Rolls back a transaction left open (a caller that returned early), so
  // the next borrower starts outside one.
  void rollback_if_open();
  // Inside a transaction that an error has aborted (its COMMIT would only
  // roll back).
  bool in_failed_transaction() const { return PQtransactionStatus(c_) == PQTRANS_INERROR; }

  // Runs `sql` (prepared once per connection) with `params`. On failure the
  // error is mapped by pg_code_of; sqlstate() tells the caller which it was.
  Result<PgResult> exec(std::string_view what, const std::string& sql, const PgParams& params);
  // A statement without parameters or rows (BEGIN, COMMIT, DDL), not prepared.
  Status simple(std::string_view what, const std::string& sql);
  // The SQLSTATE of the last failed call ("" after a success).
  const std::string& sqlstate() const { return sqlstate_; }

  // Rows changed by an INSERT, UPDATE or DELETE.
  template <class... A>
  Result<uint64_t> run(std::string_view what, const std::string& sql, const A&... args) {
    auto r = exec(what, sql, PgParams(args...));
    if (!r) return fail(std::move(r.error()));
    return static_cast<uint64_t>(std::strtoull(PQcmdTuples(r->get()), nullptr, 10));
  }
  // Runs an INSERT with ON CONFLICT DO NOTHING appended (a unique-violation
  // error would abort the whole transaction): `taken` (an Error or Errc)
  // when it inserted nothing, that is when a unique key clashed. As
  // SqliteDb::insert.
  template <class Taken, class... A>
  Status insert(std::string_view what, const Taken& taken, const std::string& sql,
                const A&... args) {
    auto n = run(what, sql + " ON CONFLICT DO NOTHING", args...);
    if (!n) return fail(std::move(n.error()));
    if (*n == 0) return fail(Error(taken));
    return ok();
  }
  template <class... A>
  Result<bool> exists(std::string_view what, const std::string& sql, const A&... args) {
    auto r = exec(what, sql, PgParams(args...));
    if (!r) return fail(std::move(r.error()));
    return PQntuples(r->get()) > 0;
  }
  // The first row, read by `read` (a function of PgRow giving T or
  // Result<T>); nullopt when there is none.
  template <class Read, class... A>
  Result<std::optional<PgRowType<Read>>> first(std::string_view what, const Read& read,
                                               const std::string& sql, const A&... args) {
    auto r = exec(what, sql, PgParams(args...));
    if (!r) return fail(std::move(r.error()));
    if (PQntuples(r->get()) == 0) return std::optional<PgRowType<Read>>();
    Result<PgRowType<Read>> row = read(PgRow(r->get(), 0));
    if (!row) return fail(std::move(row.error()));
    return std::optional<PgRowType<Read>>(std::move(*row));
  }
  // first() for an INSERT, UPDATE or DELETE ... RETURNING (SqliteDb's name:
  // libpq has the whole result at once, so there is nothing more to step).
  template <class Read, class... A>
  Result<std::optional<PgRowType<Read>>> returning(std::string_view what, const Read& read,
                                                   const std::string& sql, const A&... args) {
    return first(what, read, sql, args...);
  }
  template <class Read>
  Result<std::vector<PgRowType<Read>>> all_of(std::string_view what, const Read& read,
                                              const std::string& sql, const PgParams& params) {
    auto r = exec(what, sql, params);
    if (!r) return fail(std::move(r.error()));
    std::vector<PgRowType<Read>> out;
    const int n = PQntuples(r->get());
    out.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      Result<PgRowType<Read>> row = read(PgRow(r->get(), i));
      if (!row) return fail(std::move(row.error()));
      out.push_back(std::move(*row));
    }
    return out;
  }
  template <class Read, class... A>
  Result<std::vector<PgRowType<Read>>> all(std::string_view what, const Read& read,
                                           const std::string& sql, const A&... args) {
    return all_of(what, read, sql, PgParams(args...));
  }

 private:
  // The error of a failed call, with sqlstate_ set.
  Error error_of(const PGresult* r, std::string_view what);

  PGconn* c_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  std::string sqlstate_;
};

// Opens a connection to `url` (a libpq URI or key=value string); kUnavailable
// with libpq's reason (unreachable, wrong password, no such database) if not.
Result<std::unique_ptr<PgConn>> pg_connect(const std::string& url);

}  // namespace up::meta
