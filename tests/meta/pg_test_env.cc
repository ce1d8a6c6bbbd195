#include "meta/pg_test_env.h"

#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>

#include <libpq-fe.h>

#include "support/service_env.h"

namespace up::meta::store_test {
namespace {

Result<std::string> start_server() {
  auto out = up::testing::services::run("pg-up.sh");
  if (!out) return fail(out.error());
  std::string url = up::testing::services::exported(*out, "PG_URL");
  if (url.empty()) return fail(Errc::kUnavailable, "pg-up.sh printed no PG_URL: " + *out);
  return url;
}

}  // namespace

Result<std::string> pg_url() {
  static std::once_flag once;
  static Result<std::string> url = fail(Errc::kUnavailable);
  std::call_once(once, [] { url = start_server(); });
  return url;
}

std::string pg_url_with_schema(const std::string& url, const std::string& schema) {
  // %3D is '=' inside the URI's query value.
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema;
}

Result<std::vector<std::string>> pg_query(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> c(PQconnectdb(url.c_str()), PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) return fail(Errc::kUnavailable, PQerrorMessage(c.get()));
  PQsetNoticeProcessor(
      c.get(), [](void*, const char*) {}, nullptr);
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c.get(), sql.c_str()), PQclear);
  ExecStatusType st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    return fail(Errc::kMetaIo, sql + ": " + PQresultErrorMessage(r.get()));
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(PQntuples(r.get())));
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
  return out;
}

Result<std::string> pg_create_schema() {
  static std::atomic<int> serial{0};
  auto url = pg_url();
  if (!url) return fail(url.error());
  std::string schema = "test_" + std::to_string(getpid()) + "_" + std::to_string(++serial);
  auto r = pg_query(*url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema);
  if (!r) return fail(std::move(r.error()));
  return schema;
}

Status pg_drop_schema(const std::string& schema) {
  auto url = pg_url();
  if (!url) return fail(url.error());
  auto r = pg_query(*url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  if (!r) return fail(std::move(r.error()));
  return ok();
}

}  // namespace up::meta::store_test
