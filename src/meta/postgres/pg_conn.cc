#include "meta/postgres/pg_conn.h"

#include <poll.h>

namespace up::meta {

Errc pg_code_of(std::string_view sqlstate, bool connection_bad) {
  if (connection_bad) return Errc::kUnavailable;
  // serialization_failure, deadlock_detected: nothing was written; run again.
  if (sqlstate == "40001" || sqlstate == "40P01") return Errc::kTransactionConflict;
  if (sqlstate == "53100") return Errc::kDiskFull;
  // Class 08 (connection exception), 57P01-03 (shutdown, crash recovery,
  // cannot connect now), 53300 (too many connections): the database is not
  // there for now; the caller may retry later (503).
  if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03" || sqlstate == "53300")
    return Errc::kUnavailable;
  return Errc::kMetaIo;
}

std::string number_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 8);
  int n = 0;
  char quote = 0;  // inside '...' (a literal) or "..." (an identifier)
  for (char ch : sql) {
    if (quote) {
      if (ch == quote) quote = 0;  // '' inside a literal reopens it at once
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
    } else if (ch == '?') {
      out += '$';
      out += std::to_string(++n);
      continue;
    }
    out += ch;
  }
  return out;
}

std::vector<const char*> PgParams::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

bool PgConn::healthy() {
  if (PQstatus(c_) != CONNECTION_OK) return false;
  // An idle session is sent nothing (the store never LISTENs) unless the
  // server is saying goodbye: a shutdown, or a terminated backend, sends an
  // error and closes. Reading it would not reliably flip the status, so a
  // readable idle socket counts as gone.
  pollfd p{PQsocket(c_), POLLIN, 0};
  return p.fd >= 0 && poll(&p, 1, 0) == 0;
}

Status PgConn::reset() {
  prepared_.clear();  // a new session has none of them
  PQreset(c_);
  if (PQstatus(c_) != CONNECTION_OK)
    return fail(Errc::kUnavailable, std::string("metadata database: ") + PQerrorMessage(c_));
  return ok();
}

void PgConn::rollback_if_open() {
  PGTransactionStatusType t = PQtransactionStatus(c_);
  if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR) PgResult(PQexec(c_, "ROLLBACK"));
}

Error PgConn::error_of(const PGresult* r, std::string_view what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state ? state : "";
  const bool lost = PQstatus(c_) != CONNECTION_OK;
  std::string msg = std::string(what) + ": " + (r ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  return Error(pg_code_of(sqlstate_, lost), std::move(msg));
}

Result<PgResult> PgConn::exec(std::string_view what, const std::string& sql,
                              const PgParams& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    PgResult prep(PQprepare(c_, name.c_str(), number_placeholders(sql).c_str(), 0, nullptr));
    if (!prep || PQresultStatus(prep.get()) != PGRES_COMMAND_OK)
      return fail(error_of(prep.get(), what));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values = params.pointers();
  PgResult r(
      PQexecPrepared(c_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(error_of(r.get(), what));
  sqlstate_.clear();
  return r;
}

Status PgConn::simple(std::string_view what, const std::string& sql) {
  PgResult r(PQexec(c_, sql.c_str()));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(error_of(r.get(), what));
  sqlstate_.clear();
  return ok();
}

Result<std::unique_ptr<PgConn>> pg_connect(const std::string& url) {
  // The URL's own settings win: its string is expanded after these defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "upgate", url.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (!c) return fail(Errc::kUnavailable, "metadata database: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    // libpq's reason spans lines ("...failed: Connection refused\n\tIs the
    // server running...?"); a start-up error is one line.
    std::string msg = std::string("cannot connect to the metadata database: ") + PQerrorMessage(c);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    for (char& ch : msg) ch = ch == '\n' || ch == '\t' ? ' ' : ch;
    PQfinish(c);
    return fail(Errc::kUnavailable, std::move(msg));
  }
  // Notices (e.g. "relation already exists, skipping") are not errors; libpq
  // would print them on stderr.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return std::make_unique<PgConn>(c);
}

}  // namespace up::meta
