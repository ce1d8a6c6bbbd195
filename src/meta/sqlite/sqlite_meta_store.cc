#include "meta/sqlite/sqlite_meta_store.h"

#include <chrono>
#include <cstring>
#include <mutex>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "core/file_modes.h"
#include "core/group_commit.h"
#include "meta/local_state.h"
#include "meta/sql/rows.h"
#include "meta/sql/sql_cursors.h"
#include "meta/sql/sql_store_calls.h"
#include "meta/sql/sql_transaction.h"
#include "meta/sqlite/migrations.h"
#include "meta/sqlite/sqlite_db.h"

namespace up::meta {
namespace {

using SqliteTransaction = SqlTransaction<SqliteDb>;

// One connection, every call under one mutex. SQLite admits one writer at a
// time anyway and every write here is a short transaction, so a connection
// pool would only buy parallel reads (WAL allows them); that can come later as
// a read-only pool without changing the interface. The mutex also makes the
// statement cache safe and lets the connection run with SQLITE_OPEN_NOMUTEX.
// The rules (quotas, grants, binding) are core's; this class offers
// transactions of primitives (SqliteTransaction) and the reads.
class SqliteMetaStore final : public ProcessLocalMetaStore {
 public:
  explicit SqliteMetaStore(sqlite3* db) : db_(db) {}

  // meta::MetaStore
  Status create_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    return db_.insert(
        "create tenant", Errc::kAlreadyExists,
        "INSERT INTO tenants(" UP_META_TENANT_COLUMNS ") VALUES(?, ?, ?, ?, ?, ?, ?, ?)", t.id,
        t.name, t.quota.max_bytes, t.quota.max_objects, t.quota.max_object_bytes,
        join_lines(t.cors_origins), t.settings_json, t.created_at);
  }

  Result<Tenant> get_tenant(std::string_view id) override {
    std::lock_guard lock(mu_);
    return sql::get_tenant(db_, id);
  }

  Result<std::vector<Tenant>> list_tenants() override {
    std::lock_guard lock(mu_);
    return sql::list_tenants(db_);
  }

  Status update_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    return sql::update_tenant(db_, t);
  }

  Status create_app(const App& a) override {
    std::lock_guard lock(mu_);
    // The foreign key names the tenant; any other constraint is the primary key.
    auto taken = [](int rc) {
      return Error(rc == SQLITE_CONSTRAINT_FOREIGNKEY ? Errc::kTenantNotFound
                                                      : Errc::kAlreadyExists);
    };
    return db_.insert("create app", taken,
                      "INSERT INTO apps(" UP_META_APP_COLUMNS ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      a.tenant_id, a.id, a.name, a.dialect, a.quota.max_bytes, a.quota.max_objects,
                      a.quota.max_object_bytes, a.settings_json, a.created_at);
  }

  Result<App> get_app(std::string_view tenant_id, std::string_view app_id) override {
    std::lock_guard lock(mu_);
    return sql::get_app(db_, tenant_id, app_id);
  }

  Result<std::vector<App>> list_apps(std::string_view tenant_id) override {
    std::lock_guard lock(mu_);
    return sql::list_apps(db_, tenant_id);
  }

  Status update_app(const App& a) override {
    std::lock_guard lock(mu_);
    return sql::update_app(db_, a);
  }

  Status create_key(const ApiKey& k, uint32_t max_per_tenant) override {
    std::lock_guard lock(mu_);
    return db_.in_transaction([&]() -> Status {
      // Explicit checks, in the memory store's order, rather than decoding constraints.
      auto tenant = db_.exists("lookup", "SELECT 1 FROM tenants WHERE id = ?", k.tenant_id);
      if (!tenant) return fail(std::move(tenant.error()));
      if (!*tenant) return fail(Errc::kTenantNotFound);
      auto dup = db_.exists("lookup", "SELECT 1 FROM api_keys WHERE id = ?", k.id);
      if (!dup) return fail(std::move(dup.error()));
      if (*dup) return fail(Errc::kAlreadyExists);
      auto keys =
          count("count keys", "SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?", k.tenant_id);
      if (!keys) return fail(std::move(keys.error()));
      if (*keys >= max_per_tenant) return fail(Errc::kKeyLimit);
      auto created =
          db_.run("create key",
                  "INSERT INTO api_keys(" UP_META_KEY_COLUMNS ") VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                  k.id, k.tenant_id, k.name, to_string(k.role), k.app_id, k.secret_sha256,
                  k.enabled, k.created_at);
      if (!created) return fail(std::move(created.error()));
      return ok();
    });
  }

  Result<ApiKey> get_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    return sql::get_key(db_, key_id);
  }

  Result<std::vector<ApiKey>> list_keys(std::string_view tenant_id) override {
    std::lock_guard lock(mu_);
    return sql::list_keys(db_, tenant_id);
  }

  Status set_key_enabled(std::string_view key_id, bool enabled) override {
    std::lock_guard lock(mu_);
    return sql::set_key_enabled(db_, key_id, enabled);
  }

  Status delete_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    return sql::delete_key(db_, key_id);
  }

  // Group commit (core/group_commit.h): concurrent transactions share one
  // SQLite transaction, each body under its own savepoint (a failed one is
  // rolled back alone), so one WAL fsync makes a whole batch durable. With
  // BEGIN IMMEDIATE and one writer at a time, bodies never conflict here.
  Status transact(const std::function<Status(MetaTransaction&)>& body) override {
    TransactionBody me{body};
    bodies_.submit(me, [this](const std::vector<TransactionBody*>& batch) { run_batch(batch); });
    return std::move(me.result);
  }

  // A batch gathered by the caller (the upload committer) is one transaction.
  void transact_each(std::span<TransactionBody> bodies) override {
    std::vector<TransactionBody*> batch;
    batch.reserve(bodies.size());
    for (TransactionBody& b : bodies) batch.push_back(&b);
    if (!batch.empty()) run_batch(batch);
  }

  Result<Object> get_object(std::string_view tenant_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    return SqliteTransaction(db_).get_object(tenant_id, id);
  }

  Result<Object> get_object_by_key(std::string_view tenant_id, std::string_view app_id,
                                   std::string_view key) override {
    std::lock_guard lock(mu_);
    return sql::get_object_by_key(db_, tenant_id, app_id, key);
  }

  Result<std::vector<Object>> objects_by_key_prefix(std::string_view tenant_id,
                                                    std::string_view app_id,
                                                    std::string_view prefix, std::string_view after,
                                                    uint32_t limit) override {
    std::lock_guard lock(mu_);
    return sql::objects_by_key_prefix(db_, "", tenant_id, app_id, prefix, after, limit);
  }

  Result<core::ObjectPage> list_objects(const core::ObjectQuery& q) override {
    std::lock_guard lock(mu_);
    // At most 8 shapes of this query, each prepared once and cached by its text.
    std::string sql = "SELECT " UP_META_OBJECT_COLUMNS " FROM objects WHERE tenant_id = ?";
    if (!q.app_id.empty()) sql += " AND app_id = ?";
    sql += " AND id > ?";
    sql += q.state ? " AND state = ?" : " AND state <> 'deleted'";
    if (q.live_at) sql += " AND (expires_at IS NULL OR expires_at > ?)";
    sql += " ORDER BY id LIMIT ?";
    auto st = db_.prepare(sql, q.tenant_id);
    if (!st) return fail(std::move(st.error()));
    if (!q.app_id.empty()) st->bind(q.app_id);
    st->bind(q.after_id);
    if (q.state) st->bind(to_string(*q.state));
    if (q.live_at) st->bind(*q.live_at);
    st->bind(static_cast<int64_t>(q.limit) + 1);  // one extra row tells whether there is more
    core::ObjectPage page;
    while (true) {
      auto found = db_.row(*st, "list objects");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      if (page.objects.size() >= q.limit) {
        page.more = true;
        break;
      }
      auto o = read_object(*st);
      if (!o) return fail(std::move(o.error()));
      page.objects.push_back(std::move(*o));
    }
    return page;
  }

  Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) override {
    std::lock_guard lock(mu_);
    return SqliteTransaction(db_).usage(tenant_id, app_id);
  }

  Result<std::vector<Object>> deleted_objects(uint32_t limit) override {
    std::lock_guard lock(mu_);
    return sql::deleted_objects(db_, limit);
  }

  // One transaction (one sync) for the whole batch.
  Status purge_objects(std::span<const std::string> ids) override {
    std::lock_guard lock(mu_);
    return db_.in_transaction([&] { return sql::purge_objects(db_, ids); });
  }

  Result<std::vector<bool>> locators_exist(std::span<const std::string> locators) override {
    std::lock_guard lock(mu_);  // all under one lock
    return sql::locators_exist(db_, locators);
  }

  Result<std::vector<std::optional<Object>>> objects_by_locator(
      std::span<const std::string> locators) override {
    std::lock_guard lock(mu_);
    return sql::objects_by_locator(db_, locators);
  }

  // Committed without its own fsync (see MetaStore::put_transaction): Jodoo's
  // get_upload_token writes one per call at request rates, and an fsync each
  // capped it near the disk's sync rate. WAL frames are synced in order, so
  // the row is durable once any later commit (all FULL) is.
  Status put_transaction(const Transaction& t) override {
    std::lock_guard lock(mu_);
    UP_TRY(db_.exec("PRAGMA synchronous = NORMAL"));
    auto written = db_.run("put transaction",
                           "INSERT INTO transactions(" UP_META_TRANSACTION_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?) ON CONFLICT(tenant_id, app_id, id) "
                           "DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
                           t.tenant_id, t.app_id, t.id, t.created_at, t.expires_at);
    UP_TRY(db_.exec("PRAGMA synchronous = FULL"));  // every other write stays durable on return
    if (!written) return fail(std::move(written.error()));
    return ok();
  }

  Result<Transaction> get_transaction(std::string_view tenant_id, std::string_view app_id,
                                      std::string_view id) override {
    std::lock_guard lock(mu_);
    return sql::get_transaction(db_, tenant_id, app_id, id);
  }

  Result<uint64_t> expire_transactions(UnixMs now) override {
    std::lock_guard lock(mu_);
    return db_.run("expire", "DELETE FROM transactions WHERE expires_at <= ?", now);
  }

  Result<uint64_t> expire_used_grants(UnixMs now) override {
    std::lock_guard lock(mu_);
    return db_.run("expire", "DELETE FROM used_grants WHERE expires_at < ?", now);
  }

  // Cursors are rows (they outlive a restart, as on PostgreSQL); rate windows
  // and the lease stay in ProcessLocalMetaStore.
  Status put_cursor(const core::Cursor& c, uint32_t max_per_tenant, UnixMs now) override {
    std::lock_guard lock(mu_);
    // The count and the insert in one transaction: one writer at a time.
    return db_.in_transaction([&] { return sql::insert_cursor(db_, c, max_per_tenant, now); });
  }

  Result<core::Cursor> get_cursor(std::string_view tenant_id, std::string_view id,
                                  UnixMs now) override {
    std::lock_guard lock(mu_);
    return sql::get_cursor(db_, tenant_id, id, now);
  }

  Result<bool> advance_cursor(std::string_view tenant_id, std::string_view id, uint64_t from,
                              uint64_t to) override {
    std::lock_guard lock(mu_);
    return sql::advance_cursor(db_, tenant_id, id, from, to);
  }

  Result<bool> delete_cursor(std::string_view tenant_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    return sql::delete_cursor(db_, tenant_id, id);
  }

  Result<uint64_t> expire_cursors(UnixMs now) override {
    std::lock_guard lock(mu_);
    return sql::expire_cursors(db_, now);
  }

  Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                            std::string_view form_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    return SqliteTransaction(db_).get_record(tenant_id, app_id, form_id, id);
  }

  Result<core::RecordPage> list_records(const core::RecordQuery& q) override {
    std::lock_guard lock(mu_);
    core::RecordPage page;
    if (q.with_total) {
      auto total = count("count records",
                         "SELECT COUNT(*) FROM records WHERE tenant_id = ? AND app_id = ? "
                         "AND form_id = ? AND seq > ?",
                         q.tenant_id, q.app_id, q.form_id, q.after_seq);
      if (!total) return fail(std::move(total.error()));
      page.total = *total;
    }
    auto records = db_.all("list records", read_record<Stmt>,
                           std::string("SELECT " UP_META_RECORD_COLUMNS
                                       " FROM records WHERE tenant_id = ? AND app_id = ? "
                                       "AND form_id = ? AND seq > ? ORDER BY seq ") +
                               (q.descending ? "DESC" : "ASC") + " LIMIT ? OFFSET ?",
                           q.tenant_id, q.app_id, q.form_id, q.after_seq, q.limit, q.offset);
    if (!records) return fail(std::move(records.error()));
    page.records = std::move(*records);
    // Read after the scan: the statement cache lends one statement per SQL text.
    UP_TRY(SqliteTransaction(db_).read_files(page.records));
    return page;
  }

 private:
  // The one number a SELECT COUNT(*) returns. REQUIRES: mu_ held.
  template <class... A>
  Result<uint64_t> count(std::string_view what, const std::string& sql, const A&... args) {
    auto n = db_.first(
        what, [](const Stmt& st) { return st.col<uint64_t>(0); }, sql, args...);
    if (!n) return fail(std::move(n.error()));
    return n->value_or(0);
  }

  // Runs each body under its own savepoint of one BEGIN IMMEDIATE transaction.
  void run_batch(const std::vector<TransactionBody*>& batch) {
    std::lock_guard lock(mu_);
    SqliteTransaction tx(db_);
    if (batch.size() == 1) {
      batch[0]->result = db_.in_transaction([&] { return batch[0]->run(tx); });
      return;
    }
    auto fail_all = [&](const Error& e) {
      for (TransactionBody* b : batch) b->result = fail(e);
    };
    if (auto b = db_.exec("BEGIN IMMEDIATE"); !b) return fail_all(b.error());
    for (TransactionBody* b : batch) {
      if (auto sp = db_.exec("SAVEPOINT one_body"); !sp) {
        db_.rollback();
        return fail_all(sp.error());
      }
      b->result = b->run(tx);
      Status end = b->result ? ok() : db_.exec("ROLLBACK TO one_body");
      if (end) end = db_.exec("RELEASE one_body");
      if (!end) {
        db_.rollback();
        return fail_all(end.error());
      }
    }
    if (auto c = db_.exec("COMMIT"); !c) {
      db_.rollback();
      return fail_all(c.error());
    }
  }

  std::mutex mu_;
  // Group commit of transact (see there).
  core::GroupCommit<TransactionBody> bodies_;
  SqliteDb db_;
};

UnixMs wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

Result<MetaStorePtr> open_sqlite_meta_store(const std::string& path) {
  // 0640 like the rest of the data directory, not SQLite's 0644 (the -wal and
  // -shm files SQLite makes later take this file's mode).
  if (int err = core::prepare_sqlite_file(path.c_str()))
    return fail(Errc::kMetaIo, "create " + path + ": " + std::strerror(err));
  sqlite3* db = nullptr;
  // NOMUTEX: the store serializes every use of the connection itself.
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto close_with = [&](const std::string& what) {
    Errc code = code_of(rc);
    std::string msg = what + " " + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return fail(code, std::move(msg));
  };
  if (rc != SQLITE_OK) return close_with("open");
  sqlite3_extended_result_codes(db, 1);
  // busy_timeout first so the WAL switch waits for other processes; FULL
  // syncs the WAL on every commit, so a returned success survives power loss.
  // temp_store = MEMORY keeps the statement journal of a group commit's
  // savepoints off the disk: on file it was ~20 page writes per small upload.
  for (const char* pragma :
       {"PRAGMA busy_timeout = 5000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON", "PRAGMA temp_store = MEMORY"}) {
    rc = sqlite3_exec(db, pragma, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return close_with(std::string("configure (") + pragma + ")");
  }
  if (auto r = apply_migrations(db, sqlite_migrations(), wall_clock_ms()); !r) {
    sqlite3_close_v2(db);
    return fail(std::move(r.error()));
  }
  return MetaStorePtr(std::make_unique<SqliteMetaStore>(db));
}

}  // namespace up::meta
