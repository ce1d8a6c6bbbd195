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
#include "meta/sqlite/migrations.h"
#include "meta/sqlite/sqlite_db.h"
#include "meta/sqlite/sqlite_rows.h"
#include "meta/sqlite/sqlite_transaction.h"

namespace up::meta {
namespace {

// One connection, every call under one mutex. SQLite admits one writer at a
// time anyway and every write here is a short transaction, so a connection
// pool would only buy parallel reads (WAL allows them); that can come later as
// a read-only pool without changing the interface. The mutex also makes the
// statement cache safe and lets the connection run with SQLITE_OPEN_NOMUTEX.
// The rules (quotas, grants, binding) are core's; this class offers
// transactions of primitives (SqliteTransaction) and the reads.
class SqliteMetaStore final : public MetaStore {
 public:
  explicit SqliteMetaStore(sqlite3* db) : db_(db) {}

  // meta::MetaStore
  Status create_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT INTO tenants(id, name, max_bytes, max_objects, max_object_bytes, cors_origins, "
        "settings_json, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return fail(std::move(st.error()));
    const std::string cors = join_lines(t.cors_origins);
    st->text(t.id).text(t.name).opt_u64(t.quota.max_bytes).opt_u64(t.quota.max_objects);
    st->opt_u64(t.quota.max_object_bytes).text(cors).text(t.settings_json).i64(t.created_at);
    if (int rc = st->step(); rc != SQLITE_DONE) {
      if (is_constraint(rc)) return fail(Errc::kAlreadyExists);
      return fail(db_.error(rc, "create tenant"));
    }
    return ok();
  }

  Result<Tenant> get_tenant(std::string_view id) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT " UP_SQLITE_TENANT_COLUMNS " FROM tenants WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(id);
    auto found = db_.row(*st, "get tenant");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kTenantNotFound);
    return read_tenant(*st);
  }

  Result<std::vector<Tenant>> list_tenants() override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT " UP_SQLITE_TENANT_COLUMNS " FROM tenants ORDER BY id");
    if (!st) return fail(std::move(st.error()));
    std::vector<Tenant> out;
    while (true) {
      auto found = db_.row(*st, "list tenants");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      out.push_back(read_tenant(*st));
    }
    return out;
  }

  Status update_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    // created_at is immutable.
    auto st = db_.prepare(
        "UPDATE tenants SET name = ?, max_bytes = ?, max_objects = ?, max_object_bytes = ?, "
        "cors_origins = ?, settings_json = ? WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    const std::string cors = join_lines(t.cors_origins);
    st->text(t.name).opt_u64(t.quota.max_bytes).opt_u64(t.quota.max_objects);
    st->opt_u64(t.quota.max_object_bytes).text(cors).text(t.settings_json).text(t.id);
    UP_TRY(db_.done(*st, "update tenant"));
    if (db_.changes() == 0) return fail(Errc::kTenantNotFound);
    return ok();
  }

  Status create_app(const App& a) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT INTO apps(tenant_id, id, name, dialect, max_bytes, max_objects, "
        "max_object_bytes, settings_json, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return fail(std::move(st.error()));
    st->text(a.tenant_id).text(a.id).text(a.name).text(a.dialect).opt_u64(a.quota.max_bytes);
    st->opt_u64(a.quota.max_objects).opt_u64(a.quota.max_object_bytes).text(a.settings_json);
    st->i64(a.created_at);
    if (int rc = st->step(); rc != SQLITE_DONE) {
      // The foreign key names the tenant; any other constraint is the primary key.
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return fail(Errc::kTenantNotFound);
      if (is_constraint(rc)) return fail(Errc::kAlreadyExists);
      return fail(db_.error(rc, "create app"));
    }
    return ok();
  }

  Result<App> get_app(std::string_view tenant_id, std::string_view app_id) override {
    std::lock_guard lock(mu_);
    auto st =
        db_.prepare("SELECT " UP_SQLITE_APP_COLUMNS " FROM apps WHERE tenant_id = ? AND id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id);
    auto found = db_.row(*st, "get app");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kAppNotFound);
    return read_app(*st);
  }

  Result<std::vector<App>> list_apps(std::string_view tenant_id) override {
    std::lock_guard lock(mu_);
    auto st =
        db_.prepare("SELECT " UP_SQLITE_APP_COLUMNS " FROM apps WHERE tenant_id = ? ORDER BY id");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id);
    std::vector<App> out;
    while (true) {
      auto found = db_.row(*st, "list apps");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      out.push_back(read_app(*st));
    }
    return out;
  }

  Status update_app(const App& a) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "UPDATE apps SET name = ?, dialect = ?, max_bytes = ?, max_objects = ?, "
        "max_object_bytes = ?, settings_json = ? WHERE tenant_id = ? AND id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(a.name).text(a.dialect).opt_u64(a.quota.max_bytes).opt_u64(a.quota.max_objects);
    st->opt_u64(a.quota.max_object_bytes).text(a.settings_json).text(a.tenant_id).text(a.id);
    UP_TRY(db_.done(*st, "update app"));
    if (db_.changes() == 0) return fail(Errc::kAppNotFound);
    return ok();
  }

  Status create_key(const ApiKey& k, uint32_t max_per_tenant) override {
    std::lock_guard lock(mu_);
    return db_.in_transaction([&]() -> Status {
      // Explicit checks, in the memory store's order, rather than decoding constraints.
      auto tenant = db_.exists("SELECT 1 FROM tenants WHERE id = ?", k.tenant_id);
      if (!tenant) return fail(std::move(tenant.error()));
      if (!*tenant) return fail(Errc::kTenantNotFound);
      auto dup = db_.exists("SELECT 1 FROM api_keys WHERE id = ?", k.id);
      if (!dup) return fail(std::move(dup.error()));
      if (*dup) return fail(Errc::kAlreadyExists);
      {
        auto st = db_.prepare("SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?");
        if (!st) return fail(std::move(st.error()));
        st->text(k.tenant_id);
        auto found = db_.row(*st, "count keys");
        if (!found) return fail(std::move(found.error()));
        if (st->col_u64(0) >= max_per_tenant) return fail(Errc::kKeyLimit);
      }
      auto st = db_.prepare(
          "INSERT INTO api_keys(id, tenant_id, name, role, app_id, secret_sha256, enabled, "
          "created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
      if (!st) return fail(std::move(st.error()));
      st->text(k.id).text(k.tenant_id).text(k.name).text(to_string(k.role)).text(k.app_id);
      st->text(k.secret_sha256).i64(k.enabled ? 1 : 0).i64(k.created_at);
      return db_.done(*st, "create key");
    });
  }

  Result<ApiKey> get_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT " UP_SQLITE_KEY_COLUMNS " FROM api_keys WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(key_id);
    auto found = db_.row(*st, "get key");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kKeyNotFound);
    return read_key(*st);
  }

  Result<std::vector<ApiKey>> list_keys(std::string_view tenant_id) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT " UP_SQLITE_KEY_COLUMNS
                          " FROM api_keys WHERE tenant_id = ? ORDER BY id");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id);
    std::vector<ApiKey> out;
    while (true) {
      auto found = db_.row(*st, "list keys");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      out.push_back(read_key(*st));
    }
    return out;
  }

  Status set_key_enabled(std::string_view key_id, bool enabled) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("UPDATE api_keys SET enabled = ? WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->i64(enabled ? 1 : 0).text(key_id);
    UP_TRY(db_.done(*st, "update key"));
    if (db_.changes() == 0) return fail(Errc::kKeyNotFound);
    return ok();
  }

  Status delete_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("DELETE FROM api_keys WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(key_id);
    UP_TRY(db_.done(*st, "delete key"));
    if (db_.changes() == 0) return fail(Errc::kKeyNotFound);
    return ok();
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
    auto st = db_.prepare("SELECT " UP_SQLITE_OBJECT_COLUMNS
                          " FROM objects WHERE tenant_id = ? AND app_id = ? AND key = ? "
                          "AND key <> '' AND state <> 'deleted'");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id).text(key);
    auto found = db_.row(*st, "get object by key");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kObjectNotFound);
    return read_object(*st);
  }

  Result<core::ObjectPage> list_objects(const core::ObjectQuery& q) override {
    std::lock_guard lock(mu_);
    // At most 8 shapes of this query, each prepared once and cached by its text.
    std::string sql = "SELECT " UP_SQLITE_OBJECT_COLUMNS " FROM objects WHERE tenant_id = ?";
    if (!q.app_id.empty()) sql += " AND app_id = ?";
    sql += " AND id > ?";
    sql += q.state ? " AND state = ?" : " AND state <> 'deleted'";
    if (q.live_at) sql += " AND (expires_at IS NULL OR expires_at > ?)";
    sql += " ORDER BY id LIMIT ?";
    auto st = db_.prepare(sql);
    if (!st) return fail(std::move(st.error()));
    st->text(q.tenant_id);
    if (!q.app_id.empty()) st->text(q.app_id);
    st->text(q.after_id);
    if (q.state) st->text(to_string(*q.state));
    if (q.live_at) st->i64(*q.live_at);
    st->i64(static_cast<int64_t>(q.limit) + 1);  // one extra row tells whether there is more
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
    auto st = db_.prepare("SELECT " UP_SQLITE_OBJECT_COLUMNS
                          " FROM objects WHERE state = 'deleted' LIMIT ?");
    if (!st) return fail(std::move(st.error()));
    st->i64(limit);
    std::vector<Object> out;
    while (true) {
      auto found = db_.row(*st, "list deleted objects");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      auto o = read_object(*st);
      if (!o) return fail(std::move(o.error()));
      out.push_back(std::move(*o));
    }
    return out;
  }

  // One transaction (one sync) for the whole batch.
  Status purge_objects(std::span<const std::string> ids) override {
    std::lock_guard lock(mu_);
    return db_.in_transaction([&]() -> Status {
      for (const std::string& id : ids) {
        auto st = db_.prepare("DELETE FROM objects WHERE id = ? AND state = 'deleted'");
        if (!st) return fail(std::move(st.error()));
        st->text(id);
        UP_TRY(db_.done(*st, "purge object"));
        if (db_.changes() > 0) continue;
        // Nothing purged: fine if the row is already gone (a retried sweep),
        // a bug in the caller if the object is still live.
        auto live = db_.exists("SELECT 1 FROM objects WHERE id = ?", id);
        if (!live) return fail(std::move(live.error()));
        if (*live) return fail(Errc::kFailedPrecondition, "object " + id + " is not deleted");
      }
      return ok();
    });
  }

  Result<std::vector<bool>> locators_exist(std::span<const std::string> locators) override {
    std::lock_guard lock(mu_);
    std::vector<bool> out;
    out.reserve(locators.size());
    // One indexed lookup each under one lock: a read needs no transaction.
    for (const std::string& l : locators) {
      auto found = db_.exists("SELECT 1 FROM objects WHERE locator = ? LIMIT 1", l);
      if (!found) return fail(std::move(found.error()));
      out.push_back(*found);
    }
    return out;
  }

  // Committed without its own fsync (see MetaStore::put_transaction): Jodoo's
  // get_upload_token writes one per call at request rates, and an fsync each
  // capped it near the disk's sync rate. WAL frames are synced in order, so
  // the row is durable once any later commit (all FULL) is.
  Status put_transaction(const Transaction& t) override {
    std::lock_guard lock(mu_);
    UP_TRY(db_.exec("PRAGMA synchronous = NORMAL"));
    Status written = [&]() -> Status {
      auto st = db_.prepare(
          "INSERT INTO transactions(tenant_id, app_id, id, created_at, expires_at) "
          "VALUES(?, ?, ?, ?, ?) ON CONFLICT(tenant_id, app_id, id) "
          "DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)");
      if (!st) return fail(std::move(st.error()));
      st->text(t.tenant_id).text(t.app_id).text(t.id).i64(t.created_at).i64(t.expires_at);
      return db_.done(*st, "put transaction");
    }();
    UP_TRY(db_.exec("PRAGMA synchronous = FULL"));  // every other write stays durable on return
    return written;
  }

  Result<Transaction> get_transaction(std::string_view tenant_id, std::string_view app_id,
                                      std::string_view id) override {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT tenant_id, app_id, id, created_at, expires_at FROM transactions "
        "WHERE tenant_id = ? AND app_id = ? AND id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id).text(id);
    auto found = db_.row(*st, "get transaction");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kTransactionNotFound);
    Transaction t;
    t.tenant_id = st->col_text(0);
    t.app_id = st->col_text(1);
    t.id = st->col_text(2);
    t.created_at = st->col_i64(3);
    t.expires_at = st->col_i64(4);
    return t;
  }

  Result<uint64_t> expire_transactions(UnixMs now) override {
    std::lock_guard lock(mu_);
    return delete_where("DELETE FROM transactions WHERE expires_at <= ?", now);
  }

  Result<uint64_t> expire_used_grants(UnixMs now) override {
    std::lock_guard lock(mu_);
    return delete_where("DELETE FROM used_grants WHERE expires_at < ?", now);
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
      auto st = db_.prepare(
          "SELECT COUNT(*) FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
          "AND seq > ?");
      if (!st) return fail(std::move(st.error()));
      st->text(q.tenant_id).text(q.app_id).text(q.form_id).u64(q.after_seq);
      auto found = db_.row(*st, "count records");
      if (!found) return fail(std::move(found.error()));
      page.total = st->col_u64(0);
    }
    auto st = db_.prepare(std::string("SELECT " UP_SQLITE_RECORD_COLUMNS
                                      " FROM records WHERE tenant_id = ? AND app_id = ? "
                                      "AND form_id = ? AND seq > ? ORDER BY seq ") +
                          (q.descending ? "DESC" : "ASC") + " LIMIT ? OFFSET ?");
    if (!st) return fail(std::move(st.error()));
    st->text(q.tenant_id).text(q.app_id).text(q.form_id).u64(q.after_seq);
    st->i64(q.limit).u64(q.offset);
    while (true) {
      auto found = db_.row(*st, "list records");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      page.records.push_back(read_record(*st));
    }
    // Read after the scan: the statement cache lends one statement per SQL text.
    SqliteTransaction reader(db_);
    for (Record& r : page.records) {
      auto files = reader.record_files(r);
      if (!files) return fail(std::move(files.error()));
      r.file_ids = std::move(*files);
    }
    return page;
  }

 private:
  // REQUIRES: mu_ held.
  Result<uint64_t> delete_where(const std::string& sql, int64_t arg) {
    auto st = db_.prepare(sql);
    if (!st) return fail(std::move(st.error()));
    st->i64(arg);
    UP_TRY(db_.done(*st, "expire"));
    return db_.changes();
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
  for (const char* pragma : {"PRAGMA busy_timeout = 5000", "PRAGMA journal_mode = WAL",
                             "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON"}) {
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
