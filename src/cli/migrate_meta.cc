#include "cli/migrate_meta.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <libpq-fe.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "meta/postgres/postgres_meta_store.h"
#include "meta/sqlite/sqlite_meta_store.h"

namespace up::cli {
namespace {

namespace json = boost::json;

// A table to copy: its columns (the source's order) and the tables its
// foreign keys point to (copied first).
struct Table {
  std::string name;
  std::vector<std::string> columns;
  std::set<std::string> depends_on;
};

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// One value as COPY's text format writes it: \N for NULL, and exactly the
// escapes PostgreSQL's COPY TO uses, so that the source's rows and the rows
// read back from the target compare as text.
void append_copy_value(std::string& line, const char* v, size_t n) {
  if (v == nullptr) {
    line += "\\N";
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    switch (v[i]) {
      case '\\': line += "\\\\"; break;
      case '\b': line += "\\b"; break;
      case '\f': line += "\\f"; break;
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      case '\t': line += "\\t"; break;
      case '\v': line += "\\v"; break;
      default: line += v[i];
    }
  }
}

// Order-independent: the sum of each row's SHA-256 (as two 64-bit halves).
struct Checksum {
  uint64_t rows = 0, hi = 0, lo = 0;
  void add(const std::string& line) {
    const std::string d = crypto::sha256(line);
    uint64_t a = 0, b = 0;
    std::memcpy(&a, d.data(), 8);
    std::memcpy(&b, d.data() + 8, 8);
    hi += a;
    lo += b;
    ++rows;
  }
  std::string hex() const {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                  static_cast<unsigned long long>(lo));
    return buf;
  }
  bool operator==(const Checksum&) const = default;
};

// The source: one read snapshot of the SQLite database.
class Source {
 public:
  ~Source() {
    if (db_) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      sqlite3_close(db_);
    }
  }
  Status open(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      return fail(Errc::kMetaIo, "cannot open " + path + ": " + sqlite3_errmsg(db_));
    sqlite3_busy_timeout(db_, 10'000);
    // The first read fixes the snapshot every later read of this run sees.
    return exec("BEGIN");
  }
  Status exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      return fail(Errc::kMetaIo, std::string(sql) + ": " + sqlite3_errmsg(db_));
    return ok();
  }
  // Calls fn(values, lengths) for each row of `sql` (NULL: a null pointer).
  template <class Fn>
  Status rows(const std::string& sql, const Fn& fn) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      return fail(Errc::kMetaIo, sql + ": " + sqlite3_errmsg(db_));
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(st, sqlite3_finalize);
    const int n = sqlite3_column_count(st);
    std::vector<const char*> values(static_cast<size_t>(n));
    std::vector<size_t> lengths(static_cast<size_t>(n));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      for (int i = 0; i < n; ++i) {
        values[static_cast<size_t>(i)] = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        lengths[static_cast<size_t>(i)] = static_cast<size_t>(sqlite3_column_bytes(st, i));
      }
      fn(values, lengths);
    }
    if (rc != SQLITE_DONE) return fail(Errc::kMetaIo, sql + ": " + sqlite3_errmsg(db_));
    return ok();
  }
  Result<std::vector<Table>> tables() {
    std::vector<Table> out;
    UP_TRY(
        rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
             "AND name <> 'schema_migrations' ORDER BY name",
             [&](auto& v, auto&) {
               out.push_back(Table{v[0], {}, {}});
             }));
    for (Table& t : out) {
      UP_TRY(rows("SELECT name FROM pragma_table_info('" + t.name + "') ORDER BY cid",
                  [&](auto& v, auto&) { t.columns.emplace_back(v[0]); }));
      UP_TRY(rows("SELECT \"table\" FROM pragma_foreign_key_list('" + t.name + "')",
                  [&](auto& v, auto&) {
                    if (t.name != v[0]) t.depends_on.insert(v[0]);
                  }));
    }
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

// The target: one libpq connection, one transaction.
class Target {
 public:
  ~Target() { PQfinish(c_); }
  Status open(const std::string& url) {
    c_ = PQconnectdb(url.c_str());
    if (PQstatus(c_) != CONNECTION_OK)
      return fail(Errc::kUnavailable, std::string("cannot connect: ") + PQerrorMessage(c_));
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
    return ok();
  }
  // The first column of each row of `sql`.
  Result<std::vector<std::string>> column(const std::string& sql) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c_, sql.c_str()), PQclear);
    const ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return fail(Errc::kMetaIo, sql + ": " + PQresultErrorMessage(r.get()));
    std::vector<std::string> out;
    const int n = PQntuples(r.get());
    out.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
    return out;
  }
  Status exec(const std::string& sql) {
    auto r = column(sql);
    if (!r) return fail(std::move(r.error()));
    return ok();
  }
  // COPY <table> FROM STDIN with the lines `produce` hands to `put`.
  template <class Produce>
  Status copy_in(const std::string& sql, const Produce& produce) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c_, sql.c_str()), PQclear);
    if (PQresultStatus(r.get()) != PGRES_COPY_IN)
      return fail(Errc::kMetaIo, sql + ": " + PQresultErrorMessage(r.get()));
    std::string buf;
    bool sent = true;
    auto flush = [&] {
      sent = sent && PQputCopyData(c_, buf.data(), static_cast<int>(buf.size())) == 1;
      buf.clear();
    };
    Status produced = produce([&](const std::string& line) {
      buf += line;
      if (buf.size() >= (1u << 20)) flush();
    });
    flush();
    // A failed producer aborts the COPY, and with it the transaction.
    PQputCopyEnd(c_, produced && sent ? nullptr : "migrate-meta: source read failed");
    std::unique_ptr<PGresult, void (*)(PGresult*)> end(PQgetResult(c_), PQclear);
    while (PGresult* more = PQgetResult(c_)) PQclear(more);
    if (!produced) return produced;
    if (PQresultStatus(end.get()) != PGRES_COMMAND_OK)
      return fail(Errc::kMetaIo, sql + ": " + PQresultErrorMessage(end.get()));
    return ok();
  }
  // COPY (<select>) TO STDOUT: each line to `fn`.
  template <class Fn>
  Status copy_out(const std::string& select, const Fn& fn) {
    const std::string sql = "COPY (" + select + ") TO STDOUT";
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c_, sql.c_str()), PQclear);
    if (PQresultStatus(r.get()) != PGRES_COPY_OUT)
      return fail(Errc::kMetaIo, sql + ": " + PQresultErrorMessage(r.get()));
    char* line = nullptr;
    int n;
    while ((n = PQgetCopyData(c_, &line, 0)) > 0) {
      fn(std::string(line, static_cast<size_t>(n)));
      PQfreemem(line);
    }
    std::unique_ptr<PGresult, void (*)(PGresult*)> end(PQgetResult(c_), PQclear);
    while (PGresult* more = PQgetResult(c_)) PQclear(more);
    if (n == -2 || PQresultStatus(end.get()) != PGRES_COMMAND_OK)
      return fail(Errc::kMetaIo, sql + ": " + PQresultErrorMessage(end.get()));
    return ok();
  }

 private:
  PGconn* c_ = nullptr;
};

// Tables in an order where each comes after those its foreign keys name.
std::vector<Table> in_dependency_order(std::vector<Table> tables) {
  std::vector<Table> out;
  std::set<std::string> done;
  while (!tables.empty()) {
    auto ready = std::find_if(tables.begin(), tables.end(), [&](const Table& t) {
      return std::all_of(t.depends_on.begin(), t.depends_on.end(),
                         [&](const std::string& d) { return done.count(d) > 0; });
    });
    if (ready == tables.end()) ready = tables.begin();  // a cycle: COPY reports what fails
    done.insert(ready->name);
    out.push_back(std::move(*ready));
    tables.erase(ready);
  }
  return out;
}

// Both schemas at this binary's version, through the stores' own migrations.
Status migrate_schemas(const std::string& sqlite_path, const std::string& url) {
  auto source = meta::open_sqlite_meta_store(sqlite_path);
  if (!source) return fail(Error(source.error().code, "--from: " + source.error().message));
  auto target = meta::open_postgres_meta_store(url, 1);
  if (!target) return fail(Error(target.error().code, "--to: " + target.error().message));
  return ok();
}

// Refuses unless both schemas are at one version and the target's tables
// (all of them, locked against writers until the end) hold no row.
Status check_target(Source& src, Target& dst, const std::vector<Table>& tables) {
  std::string src_version;
  UP_TRY(src.rows("SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                  [&](auto& v, auto&) { src_version = v[0]; }));
  auto dst_version = dst.column("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!dst_version) return fail(std::move(dst_version.error()));
  if (dst_version->empty() || dst_version->front() != src_version)
    return fail(Errc::kFailedPrecondition,
                "source schema version " + src_version + " differs from the target's");
  auto names = dst.column(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
      "AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1");
  if (!names) return fail(std::move(names.error()));
  std::set<std::string> target_tables(names->begin(), names->end());
  for (const Table& t : tables)
    if (!target_tables.count(t.name))
      return fail(Errc::kFailedPrecondition, "the target has no table " + t.name);
  for (const std::string& name : target_tables) {
    UP_TRY(dst.exec("LOCK TABLE " + quote_ident(name) + " IN SHARE ROW EXCLUSIVE MODE"));
    auto any = dst.column("SELECT 1 FROM " + quote_ident(name) + " LIMIT 1");
    if (!any) return fail(std::move(any.error()));
    if (!any->empty())
      return fail(Errc::kFailedPrecondition,
                  "the target is not empty (table " + name +
                      " has rows): migrate-meta copies into an empty database only; stop every "
                      "upgate using it and give a new database (or drop its tables)");
  }
  return ok();
}

// Copies one table and compares what the target now holds with the source.
Result<Checksum> copy_table(Source& src, Target& dst, const Table& t) {
  std::string cols;
  for (const auto& c : t.columns) cols += (cols.empty() ? "" : ", ") + quote_ident(c);
  Checksum sent;
  UP_TRY(dst.copy_in(
      "COPY " + quote_ident(t.name) + " (" + cols + ") FROM STDIN", [&](const auto& put) -> Status {
        return src.rows("SELECT " + cols + " FROM " + quote_ident(t.name), [&](auto& v, auto& len) {
          std::string line;
          for (size_t i = 0; i < v.size(); ++i) {
            if (i) line += '\t';
            append_copy_value(line, v[i], len[i]);
          }
          line += '\n';
          sent.add(line);
          put(line);
        });
      }));
  // Read back as the source wrote them: booleans as 0/1 (SQLite's form).
  auto types = dst.column(
      "SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema "
      "= current_schema() AND table_name = '" +
      t.name + "'");
  if (!types) return fail(std::move(types.error()));
  std::string select;
  for (const auto& c : t.columns) {
    const bool boolean = std::find(types->begin(), types->end(), c + " boolean") != types->end();
    select += (select.empty() ? "" : ", ") + quote_ident(c) + (boolean ? "::int" : "");
  }
  Checksum stored;
  UP_TRY(dst.copy_out("SELECT " + select + " FROM " + quote_ident(t.name),
                      [&](const std::string& line) { stored.add(line); }));
  if (!(stored == sent))
    return fail(Errc::kChecksumMismatch,
                "table " + t.name + ": " + std::to_string(sent.rows) + " rows sent (checksum " +
                    sent.hex() + "), the target holds " + std::to_string(stored.rows) +
                    " (checksum " + stored.hex() + "); nothing was committed");
  return sent;
}

}  // namespace

Status migrate_meta(const std::string& from, const std::string& to) {
  if (!from.starts_with("sqlite:"))
    return fail(Errc::kInvalidArgument, "--from: expected sqlite:<path to upgate.db>");
  if (!to.starts_with("postgresql://") && !to.starts_with("postgres://"))
    return fail(Errc::kInvalidArgument, "--to: expected postgresql://user:pass@host:port/db");
  const std::string path = from.substr(7);
  if (!std::filesystem::exists(path)) return fail(Errc::kNotFound, "--from: no file " + path);
  UP_TRY(migrate_schemas(path, to));

  Source src;
  UP_TRY(src.open(path));
  Target dst;
  UP_TRY(dst.open(to));
  auto tables = src.tables();
  if (!tables) return fail(std::move(tables.error()));
  // One transaction: a failure anywhere leaves the target as it was (empty).
  UP_TRY(dst.exec("BEGIN"));
  UP_TRY(check_target(src, dst, *tables));
  uint64_t total = 0;
  for (const Table& t : in_dependency_order(std::move(*tables))) {
    auto sum = copy_table(src, dst, t);
    if (!sum) return fail(std::move(sum.error()));  // ~Target closes: the server rolls back
    total += sum->rows;
    std::printf("%s\n",
                json::serialize(
                    json::object{{"table", t.name}, {"rows", sum->rows}, {"checksum", sum->hex()}})
                    .c_str());
  }
  UP_TRY(dst.exec("COMMIT"));
  std::printf("%s\n", json::serialize(
                          json::object{{"migrated", true}, {"rows", total}, {"to", "postgresql"}})
                          .c_str());
  return ok();
}

}  // namespace up::cli
