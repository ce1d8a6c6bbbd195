#include "meta/postgres/postgres_meta_store.h"

#include <chrono>
#include <type_traits>
#include <utility>
#include <vector>

#include "meta/postgres/pg_conn.h"
#include "meta/postgres/pg_migrations.h"
#include "meta/postgres/pg_pool.h"
#include "meta/postgres/pg_state.h"
#include "meta/sql/rows.h"
#include "meta/sql/sql_cursors.h"
#include "meta/sql/sql_store_calls.h"
#include "meta/sql/sql_transaction.h"

namespace up::meta {
namespace {

using PgTransaction = SqlTransaction<PgConn>;

UnixMs wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// BEGIN, or after a lost connection (the pool's cheap check can miss a
// server restart) a reconnect and BEGIN again: nothing was sent yet, so
// running it twice is safe.
Status begin(PgConn& c) {
  Status r = c.simple("begin", "BEGIN");
  if (r || r.error().code != Errc::kUnavailable) return r;
  UP_TRY(c.reset());
  return c.simple("begin", "BEGIN");
}

// Runs `body` (a function of no arguments giving Status) in a READ COMMITTED
// transaction on `c`: committed if it returns ok, rolled back if not.
template <class F>
Status in_transaction(PgConn& c, const F& body) {
  UP_TRY(begin(c));
  Status r = body();
  if (r && c.in_failed_transaction()) {
    // A statement failed and the body went on: COMMIT would silently roll back.
    r = fail(Errc::kMetaIo, "metadata transaction aborted by an earlier error");
  }
  if (r) r = c.simple("commit", "COMMIT");
  if (!r) c.rollback_if_open();
  return r;
}

// The store: calls borrow a pooled connection for their duration. Reads run
// outside transactions (each statement sees committed data); writes of more
// than one statement run in one. The rules are core's (core/object_rules.cc,
// core/records.cc) over PgTransaction.
class PostgresMetaStore final : public MetaStore {
 public:
  PostgresMetaStore(std::string url, uint32_t pool_size, std::unique_ptr<PgConn> first)
      : pool_(std::move(url), pool_size, std::move(first)) {}

  // meta::MetaStore
  Status create_tenant(const Tenant& t) override {
    return with_conn([&](PgConn& c) {
      return inserted(c.run("create tenant",
                            "INSERT INTO tenants(" UP_META_TENANT_COLUMNS
                            ") VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                            t.id, t.name, t.quota.max_bytes, t.quota.max_objects,
                            t.quota.max_object_bytes, join_lines(t.cors_origins), t.settings_json,
                            t.created_at));
    });
  }

  Result<Tenant> get_tenant(std::string_view id) override {
    return with_conn([&](PgConn& c) { return sql::get_tenant(c, id); });
  }

  Result<std::vector<Tenant>> list_tenants() override {
    return with_conn([&](PgConn& c) { return sql::list_tenants(c); });
  }

  Status update_tenant(const Tenant& t) override {
    return with_conn([&](PgConn& c) { return sql::update_tenant(c, t); });
  }

  Status create_app(const App& a) override {
    return with_conn([&](PgConn& c) -> Status {
      auto n = c.run("create app",
                     "INSERT INTO apps(" UP_META_APP_COLUMNS
                     ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                     a.tenant_id, a.id, a.name, a.dialect, a.quota.max_bytes, a.quota.max_objects,
                     a.quota.max_object_bytes, a.settings_json, a.created_at);
      // foreign_key_violation: the tenant does not exist.
      if (!n && c.sqlstate() == "23503") return fail(Errc::kTenantNotFound);
      return inserted(std::move(n));
    });
  }

  Result<App> get_app(std::string_view tenant_id, std::string_view app_id) override {
    return with_conn([&](PgConn& c) { return sql::get_app(c, tenant_id, app_id); });
  }

  Result<std::vector<App>> list_apps(std::string_view tenant_id) override {
    return with_conn([&](PgConn& c) { return sql::list_apps(c, tenant_id); });
  }

  Status update_app(const App& a) override {
    return with_conn([&](PgConn& c) { return sql::update_app(c, a); });
  }

  Status create_key(const ApiKey& k, uint32_t max_per_tenant) override {
    return with_conn([&](PgConn& c) {
      return in_transaction(c, [&]() -> Status {
        // The tenant's row lock orders concurrent creates, so the count and
        // the insert are one step across connections.
        auto tenant =
            c.exists("lookup", "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", k.tenant_id);
        if (!tenant) return fail(std::move(tenant.error()));
        if (!*tenant) return fail(Errc::kTenantNotFound);
        auto dup = c.exists("lookup", "SELECT 1 FROM api_keys WHERE id = $1", k.id);
        if (!dup) return fail(std::move(dup.error()));
        if (*dup) return fail(Errc::kAlreadyExists);
        auto keys = c.first(
            "count keys", [](const PgRow& r) { return r.col<uint64_t>(0); },
            "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1", k.tenant_id);
        if (!keys) return fail(std::move(keys.error()));
        if (keys->value_or(0) >= max_per_tenant) return fail(Errc::kKeyLimit);
        return inserted(c.run("create key",
                              "INSERT INTO api_keys(" UP_META_KEY_COLUMNS
                              ") VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                              k.id, k.tenant_id, k.name, to_string(k.role), k.app_id,
                              k.secret_sha256, k.enabled, k.created_at));
      });
    });
  }

  Result<ApiKey> get_key(std::string_view key_id) override {
    return with_conn([&](PgConn& c) { return sql::get_key(c, key_id); });
  }

  Result<std::vector<ApiKey>> list_keys(std::string_view tenant_id) override {
    return with_conn([&](PgConn& c) { return sql::list_keys(c, tenant_id); });
  }

  Status set_key_enabled(std::string_view key_id, bool enabled) override {
    return with_conn([&](PgConn& c) { return sql::set_key_enabled(c, key_id, enabled); });
  }

  Status delete_key(std::string_view key_id) override {
    return with_conn([&](PgConn& c) { return sql::delete_key(c, key_id); });
  }

  // One transaction per body, on its own connection: bodies of different
  // callers run in parallel and meet only on the rows they lock.
  // transact_each keeps MetaStore's default (each body its own transaction).
  Status transact(const std::function<Status(MetaTransaction&)>& body) override {
    return with_conn([&](PgConn& c) {
      return in_transaction(c, [&]() -> Status {
        PgTransaction tx(c);
        return body(tx);
      });
    });
  }

  bool shared() const override { return true; }

  Result<Object> get_object(std::string_view tenant_id, std::string_view id) override {
    return with_conn([&](PgConn& c) { return PgTransaction(c).get_object(tenant_id, id); });
  }

  Result<Object> get_object_by_key(std::string_view tenant_id, std::string_view app_id,
                                   std::string_view key) override {
    return with_conn([&](PgConn& c) { return sql::get_object_by_key(c, tenant_id, app_id, key); });
  }

  Result<std::vector<Object>> objects_by_key_prefix(std::string_view tenant_id,
                                                    std::string_view app_id,
                                                    std::string_view prefix, std::string_view after,
                                                    uint32_t limit) override {
    return with_conn([&](PgConn& c) {
      return sql::objects_by_key_prefix(c, " COLLATE \"C\"", tenant_id, app_id, prefix, after,
                                        limit);
    });
  }

  Result<core::ObjectPage> list_objects(const core::ObjectQuery& q) override {
    // At most 8 shapes of this query, each prepared once per connection.
    PgParams params(q.tenant_id);
    std::string sql = "SELECT " UP_META_OBJECT_COLUMNS " FROM objects WHERE tenant_id = $1";
    auto term = [&](const char* before, const auto& value) {
      params.add(value);
      sql += before + std::to_string(params.size());
    };
    if (!q.app_id.empty()) term(" AND app_id = $", q.app_id);
    term(" AND id > $", q.after_id);
    if (q.state) {
      term(" AND state = $", std::string(to_string(*q.state)));
    } else {
      sql += " AND state <> 'deleted'";
    }
    if (q.live_at) {
      term(" AND (expires_at IS NULL OR expires_at > $", *q.live_at);
      sql += ")";
    }
    term(" ORDER BY id LIMIT $", static_cast<int64_t>(q.limit) + 1);  // one more: is there more?
    auto rows = with_conn(
        [&](PgConn& c) { return c.all_of("list objects", read_object<PgRow>, sql, params); });
    if (!rows) return fail(std::move(rows.error()));
    core::ObjectPage page;
    page.more = rows->size() > q.limit;
    if (page.more) rows->resize(q.limit);
    page.objects = std::move(*rows);
    return page;
  }

  Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) override {
    return with_conn([&](PgConn& c) { return PgTransaction(c).usage(tenant_id, app_id); });
  }

  Result<std::vector<Object>> deleted_objects(uint32_t limit) override {
    return with_conn([&](PgConn& c) { return sql::deleted_objects(c, limit); });
  }

  // One transaction for the whole batch: all or nothing.
  Status purge_objects(std::span<const std::string> ids) override {
    if (ids.empty()) return ok();
    return with_conn(
        [&](PgConn& c) { return in_transaction(c, [&] { return sql::purge_objects(c, ids); }); });
  }

  Result<std::vector<bool>> locators_exist(std::span<const std::string> locators) override {
    // All on one connection.
    return with_conn([&](PgConn& c) { return sql::locators_exist(c, locators); });
  }

  Result<std::vector<std::optional<Object>>> objects_by_locator(
      std::span<const std::string> locators) override {
    return with_conn([&](PgConn& c) { return sql::objects_by_locator(c, locators); });
  }

  Status put_transaction(const Transaction& t) override {
    return with_conn([&](PgConn& c) -> Status {
      auto written = c.run("put transaction",
                           "INSERT INTO transactions AS t(" UP_META_TRANSACTION_COLUMNS
                           ") VALUES($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, app_id, id) "
                           "DO UPDATE SET expires_at = GREATEST(t.expires_at, excluded.expires_at)",
                           t.tenant_id, t.app_id, t.id, t.created_at, t.expires_at);
      if (!written) return fail(std::move(written.error()));
      return ok();
    });
  }

  Result<Transaction> get_transaction(std::string_view tenant_id, std::string_view app_id,
                                      std::string_view id) override {
    return with_conn([&](PgConn& c) { return sql::get_transaction(c, tenant_id, app_id, id); });
  }

  Result<uint64_t> expire_transactions(UnixMs now) override {
    return with_conn([&](PgConn& c) {
      return c.run("expire", "DELETE FROM transactions WHERE expires_at <= $1", now);
    });
  }

  Result<uint64_t> expire_used_grants(UnixMs now) override {
    return with_conn([&](PgConn& c) {
      return c.run("expire", "DELETE FROM used_grants WHERE expires_at < $1", now);
    });
  }

  Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                            std::string_view form_id, std::string_view id) override {
    return with_conn(
        [&](PgConn& c) { return PgTransaction(c).get_record(tenant_id, app_id, form_id, id); });
  }

  Result<core::RecordPage> list_records(const core::RecordQuery& q) override {
    return with_conn([&](PgConn& c) -> Result<core::RecordPage> {
      core::RecordPage page;
      if (q.with_total) {
        auto total = c.first(
            "count records", [](const PgRow& r) { return r.col<uint64_t>(0); },
            "SELECT COUNT(*) FROM records WHERE tenant_id = $1 AND app_id = $2 "
            "AND form_id = $3 AND seq > $4",
            q.tenant_id, q.app_id, q.form_id, q.after_seq);
        if (!total) return fail(std::move(total.error()));
        page.total = total->value_or(0);
      }
      auto records = c.all("list records", read_record<PgRow>,
                           std::string("SELECT " UP_META_RECORD_COLUMNS
                                       " FROM records WHERE tenant_id = $1 AND app_id = $2 "
                                       "AND form_id = $3 AND seq > $4 ORDER BY seq ") +
                               (q.descending ? "DESC" : "ASC") + " LIMIT $5 OFFSET $6",
                           q.tenant_id, q.app_id, q.form_id, q.after_seq,
                           static_cast<int64_t>(q.limit), q.offset);
      if (!records) return fail(std::move(records.error()));
      page.records = std::move(*records);
      UP_TRY(PgTransaction(c).read_files(page.records));
      return page;
    });
  }

  Result<RateCount> rate_hit(std::string_view key, uint32_t limit, UnixMs window_ms,
                             UnixMs now) override {
    return with_conn([&](PgConn& c) { return pg_rate_hit(c, key, limit, window_ms, now); });
  }

  Result<uint64_t> expire_rate_windows(UnixMs before) override {
    return with_conn([&](PgConn& c) { return pg_expire_rate_windows(c, before); });
  }

  Result<bool> try_lease(std::string_view name, std::string_view holder, UnixMs ttl_ms,
                         UnixMs now) override {
    return with_conn([&](PgConn& c) { return pg_try_lease(c, name, holder, ttl_ms, now); });
  }

  Status put_cursor(const core::Cursor& cursor, uint32_t max_per_tenant, UnixMs now) override {
    return with_conn([&](PgConn& c) {
      return in_transaction(c, [&] { return pg_put_cursor(c, cursor, max_per_tenant, now); });
    });
  }

  Result<core::Cursor> get_cursor(std::string_view tenant_id, std::string_view id,
                                  UnixMs now) override {
    return with_conn([&](PgConn& c) { return sql::get_cursor(c, tenant_id, id, now); });
  }

  Result<bool> advance_cursor(std::string_view tenant_id, std::string_view id, uint64_t from,
                              uint64_t to) override {
    return with_conn([&](PgConn& c) { return sql::advance_cursor(c, tenant_id, id, from, to); });
  }

  Result<bool> delete_cursor(std::string_view tenant_id, std::string_view id) override {
    return with_conn([&](PgConn& c) { return sql::delete_cursor(c, tenant_id, id); });
  }

  Result<uint64_t> expire_cursors(UnixMs now) override {
    return with_conn([&](PgConn& c) { return sql::expire_cursors(c, now); });
  }

 private:
  // f(PgConn&) on a borrowed connection; its result, or the pool's error.
  template <class F>
  auto with_conn(const F& f) -> std::invoke_result_t<const F&, PgConn&> {
    auto lease = pool_.acquire();
    if (!lease) return fail(std::move(lease.error()));
    return f(**lease);
  }

  // An INSERT ... ON CONFLICT DO NOTHING: kAlreadyExists if it inserted nothing.
  static Status inserted(Result<uint64_t> n) {
    if (!n) return fail(std::move(n.error()));
    if (*n == 0) return fail(Errc::kAlreadyExists);
    return ok();
  }

  PgPool pool_;
};

}  // namespace

Result<MetaStorePtr> open_postgres_meta_store(const std::string& url, uint32_t pool_size) {
  auto first = pg_connect(url);
  if (!first) return fail(std::move(first.error()));
  UP_TRY(apply_postgres_migrations(**first, postgres_migrations(), wall_clock_ms()));
  return MetaStorePtr(std::make_unique<PostgresMetaStore>(url, pool_size, std::move(*first)));
}

}  // namespace up::meta
