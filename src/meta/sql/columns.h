#pragma once
// What the SQLite and PostgreSQL connections (SqliteDb, PgConn) and their row
// types (Stmt, PgRow) share: reading a row's columns in order by C++ type, the
// type a row reader gives, and the calls made of run() and first(). Each row
// type supplies only how one non-NULL value is read and whether a column is
// NULL; each connection how a statement is run.

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/result.h"

namespace up::meta {

template <class T>
inline constexpr bool kIsOptional = false;
template <class T>
inline constexpr bool kIsOptional<std::optional<T>> = true;

// What a row reader returns (T or Result<T>), as the row type T.
template <class R>
struct RowOf {
  using type = R;
};
template <class T>
struct RowOf<Result<T>> {
  using type = T;
};
template <class Read, class Row>
using RowType = typename RowOf<std::invoke_result_t<const Read&, const Row&>>::type;

// CRTP base of a row: read() and col() over Derived's read_value(i, out) (a
// non-NULL column i into `out`) and is_null(i). std::optional<T> is nullopt
// for NULL, else the column read as a T.
template <class Derived>
class ColumnReader {
 public:
  // Reads the row's columns, from the first, into `out` in order, by type.
  template <class... T>
  void read(T&... out) const {
    int i = 0;
    (read_one(i++, out), ...);
  }
  // Column i as a T (as read() would read it).
  template <class T>
  T col(int i) const {
    T v{};
    read_one(i, v);
    return v;
  }

 private:
  template <class T>
  void read_one(int i, T& out) const {
    const auto& row = static_cast<const Derived&>(*this);
    if constexpr (kIsOptional<T>) {
      if (row.is_null(i)) {
        out.reset();
      } else {
        out = col<typename T::value_type>(i);
      }
    } else {
      row.read_value(i, out);
    }
  }
};

// CRTP base of a connection: the calls both connections build the same way
// from Derived's run(what, sql, args...) (rows changed) and first(what, read,
// sql, args...) (the first row, or nullopt).
template <class Derived, class Row>
class SqlCalls {
 public:
  // Runs an UPDATE or DELETE of one row: `missing` when it changed none.
  template <class... A>
  Status change(std::string_view what, Errc missing, const std::string& sql, const A&... args) {
    auto changed = self().run(what, sql, args...);
    if (!changed) return fail(std::move(changed.error()));
    if (*changed == 0) return fail(missing);
    return ok();
  }

  // The first row, as first(); `missing` when there is none.
  template <class Read, class... A>
  Result<RowType<Read, Row>> one(std::string_view what, Errc missing, const Read& read,
                                 const std::string& sql, const A&... args) {
    auto found = self().first(what, read, sql, args...);
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(missing);
    return std::move(**found);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace up::meta
