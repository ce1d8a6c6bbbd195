#pragma once
// The libpq plumbing of meta/postgres: one connection with its prepared
// statements, SQLSTATEs mapped to the catalogue in one place, a row of a result
// (PgRow), and the exec-and-read sequences every query of the store is one of
// (PgConn::run, change, exists, first, one, all), shaped like SqliteDb's.
// Parameters travel as text ($1, $2, ... in the SQL), never spliced into it;
// results come back as text. Not thread-safe: one PgConn is used by one caller
// at a time (PgPool lends it out).

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

namespace up::meta {

template <class T>
inline constexpr bool kPgIsOptional = false;
template <class T>
inline constexpr bool kPgIsOptional<std::optional<T>> = true;

// The SQLSTATE of a failed result to the catalogue: 40001/40P01 are the
// retryable kTransactionConflict, a lost or refused connection kUnavailable.
Errc pg_code_of(std::string_view sqlstate, bool connection_bad);

struct PgResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

// One row of a result, read column by column from the first.
class PgRow {
 public:
  PgRow(const PGresult* r, int row) : r_(r), row_(row) {}

  // Reads the row's columns in order into `out`, by type: std::string, bool
  // ('t'/'f'), integers (uint64 stored bit for bit in bigint), std::optional
  // of those (NULL when empty).
  template <class... T>
  void read(T&... out) const {
    int i = 0;
    (read_one(i++, out), ...);
  }
  template <class T>
  T col(int i) const {
    T v{};
    read_one(i, v);
    return v;
  }

 private:
  template <class T>
  void read_one(int i, T& out) const {
    const char* p = PQgetvalue(r_, row_, i);
    if constexpr (std::is_same_v<T, std::string>) {
      out.assign(p, static_cast<size_t>(PQgetlength(r_, row_, i)));
    } else if constexpr (std::is_same_v<T, bool>) {
      out = p[0] == 't';
    } else if constexpr (std::is_integral_v<T>) {
      out = static_cast<T>(std::strtoll(p, nullptr, 10));
    } else {
      static_assert(kPgIsOptional<T>, "no PostgreSQL column reader for this type");
      if (PQgetisnull(r_, row_, i)) {
        out.reset();
      } else {
        out = col<typename T::value_type>(i);
      }
    }
  }

  const PGresult* r_;
  int row_;
};

// What a row reader returns (T or Result<T>), as the row type T.
template <class R>
struct PgRowOf {
  using type = R;
};
template <class T>
struct PgRowOf<Result<T>> {
  using type = T;
};
template <class Read>
using PgRowType = typename PgRowOf<std::invoke_result_t<const Read&, const PgRow&>>::type;

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
      static_assert(kPgIsOptional<A>, "no PostgreSQL binding for this type");
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

// One open connection. Owns it.
class PgConn {
 public:
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
  // An UPDATE or DELETE of one row: `missing` when it changed none.
  template <class... A>
  Status change(std::string_view what, Errc missing, const std::string& sql, const A&... args) {
    auto n = run(what, sql, args...);
    if (!n) return fail(std::move(n.error()));
    if (*n == 0) return fail(missing);
    return ok();
  }
  template <class... A>
  Result<bool> exists(std::string_view what, const std::string& sql, const A&... args) {
    auto r = exec(what, sql, PgParams(args...));
    if (!r) return fail(std::move(r.error()));
    return PQntuples(r->get()) > 0;
  }
  // The first row, read by `read` (a function of PgRow giving T or
  // Result<T>); nullopt when there is none. Also for ... RETURNING.
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
  template <class Read, class... A>
  Result<PgRowType<Read>> one(std::string_view what, Errc missing, const Read& read,
                              const std::string& sql, const A&... args) {
    auto row = first(what, read, sql, args...);
    if (!row) return fail(std::move(row.error()));
    if (!*row) return fail(missing);
    return std::move(**row);
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
