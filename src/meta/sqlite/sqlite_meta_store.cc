#include "meta/sqlite/sqlite_meta_store.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sqlite3.h>

#include "core/file_modes.h"
#include "core/group_commit.h"
#include "meta/sqlite/migrations.h"

namespace up::meta {
namespace {

// SQLite result codes to the catalogue, in one place. A database locked by
// another process past the busy timeout is worth a retry; a full disk is its own case.
Errc code_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL: return Errc::kDiskFull;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Errc::kUnavailable;
    default: return Errc::kMetaIo;
  }
}

// Column list shared by every query that returns whole objects; read_object()
// reads the columns in this order.
#define UP_RECORD_COLUMNS                                                                   \
  "tenant_id, app_id, form_id, seq, id, revision, data_json, batch_key, creator, updater, " \
  "created_at, updated_at"

#define UP_OBJECT_COLUMNS                                                                      \
  "id, tenant_id, app_id, key, name, content_type, size, sha256, md5, qetag, locator, state, " \
  "created_at, expires_at, transaction_id, owner, meta_json"

// A cached prepared statement borrowed for one call. Parameters are bound in
// order of appearance; text is bound SQLITE_STATIC, so the bound values must
// outlive the statement's use (they are the caller's arguments). Reset on scope
// exit so the statement releases its read snapshot before the next use.
class Stmt {
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

  Stmt& text(std::string_view v) {
    // An empty string_view may have a null data(), which SQLite would bind as NULL.
    return note(sqlite3_bind_text(s_, ++next_, v.data() ? v.data() : "", static_cast<int>(v.size()),
                                  SQLITE_STATIC));
  }
  Stmt& i64(int64_t v) { return note(sqlite3_bind_int64(s_, ++next_, v)); }
  // uint64 values are stored bit for bit in SQLite's int64.
  Stmt& u64(uint64_t v) { return i64(static_cast<int64_t>(v)); }
  Stmt& opt_u64(const std::optional<uint64_t>& v) {
    return v ? u64(*v) : note(sqlite3_bind_null(s_, ++next_));
  }
  Stmt& opt_i64(const std::optional<int64_t>& v) {
    return v ? i64(*v) : note(sqlite3_bind_null(s_, ++next_));
  }

  // SQLITE_ROW, SQLITE_DONE or an error (a failed bind is reported here).
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_); }

  std::string col_text(int i) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, i))) : std::string();
  }
  int64_t col_i64(int i) const { return sqlite3_column_int64(s_, i); }
  uint64_t col_u64(int i) const { return static_cast<uint64_t>(col_i64(i)); }
  bool col_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  std::optional<uint64_t> col_opt_u64(int i) const {
    return col_null(i) ? std::nullopt : std::optional<uint64_t>(col_u64(i));
  }
  std::optional<int64_t> col_opt_i64(int i) const {
    return col_null(i) ? std::nullopt : std::optional<int64_t>(col_i64(i));
  }

 private:
  Stmt& note(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
    return *this;
  }

  sqlite3_stmt* s_;
  int next_ = 0;
  int rc_ = SQLITE_OK;
};

// cors_origins is stored newline-joined (an origin never contains a newline).
std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += '\n';
    out += v[i];
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    out.emplace_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

Tenant read_tenant(const Stmt& st) {
  Tenant t;
  t.id = st.col_text(0);
  t.name = st.col_text(1);
  t.quota.max_bytes = st.col_opt_u64(2);
  t.quota.max_objects = st.col_opt_u64(3);
  t.quota.max_object_bytes = st.col_opt_u64(4);
  t.cors_origins = split_lines(st.col_text(5));
  t.settings_json = st.col_text(6);
  t.created_at = st.col_i64(7);
  return t;
}
constexpr const char* kTenantColumns =
    "id, name, max_bytes, max_objects, max_object_bytes, cors_origins, settings_json, created_at";

App read_app(const Stmt& st) {
  App a;
  a.tenant_id = st.col_text(0);
  a.id = st.col_text(1);
  a.name = st.col_text(2);
  a.dialect = st.col_text(3);
  a.quota.max_bytes = st.col_opt_u64(4);
  a.quota.max_objects = st.col_opt_u64(5);
  a.quota.max_object_bytes = st.col_opt_u64(6);
  a.settings_json = st.col_text(7);
  a.created_at = st.col_i64(8);
  return a;
}

ApiKey read_key(const Stmt& st) {
  ApiKey k;
  k.id = st.col_text(0);
  k.tenant_id = st.col_text(1);
  k.name = st.col_text(2);
  k.role = st.col_text(3) == "admin" ? KeyRole::kAdmin : KeyRole::kMember;
  k.app_id = st.col_text(4);
  k.secret_sha256 = st.col_text(5);
  k.enabled = st.col_i64(6) != 0;
  k.created_at = st.col_i64(7);
  return k;
}

Result<Object> read_object(const Stmt& st) {
  Object o;
  o.id = st.col_text(0);
  o.tenant_id = st.col_text(1);
  o.app_id = st.col_text(2);
  o.key = st.col_text(3);
  o.name = st.col_text(4);
  o.content_type = st.col_text(5);
  o.size = st.col_u64(6);
  o.sha256 = st.col_text(7);
  o.md5 = st.col_text(8);
  o.qetag = st.col_text(9);
  o.locator = st.col_text(10);
  auto state = object_state_from(st.col_text(11));
  if (!state) return fail(Errc::kMetaIo, "object " + o.id + " has an unknown state");
  o.state = *state;
  o.created_at = st.col_i64(12);
  o.expires_at = st.col_opt_i64(13);
  o.transaction_id = st.col_text(14);
  o.owner = st.col_text(15);
  o.meta_json = st.col_text(16);
  return o;
}

bool is_constraint(int rc) { return (rc & 0xff) == SQLITE_CONSTRAINT; }

// One connection, every call under one mutex. SQLite admits one writer at a
// time anyway and every write here is a short transaction, so a connection
// pool would only buy parallel reads (WAL allows them); that can come later as
// a read-only pool without changing the interface. The mutex also makes the
// statement cache safe and lets the connection run with SQLITE_OPEN_NOMUTEX.
class SqliteMetaStore final : public MetaStore {
 public:
  explicit SqliteMetaStore(sqlite3* db) : db_(db) {}
  ~SqliteMetaStore() override {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  // meta::MetaStore
  Status create_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    auto st = prepare(
        "INSERT INTO tenants(id, name, max_bytes, max_objects, max_object_bytes, cors_origins, "
        "settings_json, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return fail(std::move(st.error()));
    const std::string cors = join_lines(t.cors_origins);
    st->text(t.id).text(t.name).opt_u64(t.quota.max_bytes).opt_u64(t.quota.max_objects);
    st->opt_u64(t.quota.max_object_bytes).text(cors).text(t.settings_json).i64(t.created_at);
    if (int rc = st->step(); rc != SQLITE_DONE) {
      if (is_constraint(rc)) return fail(Errc::kAlreadyExists);
      return fail(db_error(rc, "create tenant"));
    }
    return ok();
  }

  Result<Tenant> get_tenant(std::string_view id) override {
    std::lock_guard lock(mu_);
    auto st = prepare(std::string("SELECT ") + kTenantColumns + " FROM tenants WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(id);
    auto found = row(*st, "get tenant");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kTenantNotFound);
    return read_tenant(*st);
  }

  Result<std::vector<Tenant>> list_tenants() override {
    std::lock_guard lock(mu_);
    auto st = prepare(std::string("SELECT ") + kTenantColumns + " FROM tenants ORDER BY id");
    if (!st) return fail(std::move(st.error()));
    std::vector<Tenant> out;
    while (true) {
      auto found = row(*st, "list tenants");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      out.push_back(read_tenant(*st));
    }
    return out;
  }

  Status update_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    // created_at is immutable.
    auto st = prepare(
        "UPDATE tenants SET name = ?, max_bytes = ?, max_objects = ?, max_object_bytes = ?, "
        "cors_origins = ?, settings_json = ? WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    const std::string cors = join_lines(t.cors_origins);
    st->text(t.name).opt_u64(t.quota.max_bytes).opt_u64(t.quota.max_objects);
    st->opt_u64(t.quota.max_object_bytes).text(cors).text(t.settings_json).text(t.id);
    UP_TRY(done(*st, "update tenant"));
    if (sqlite3_changes(db_) == 0) return fail(Errc::kTenantNotFound);
    return ok();
  }

  Status create_app(const App& a) override {
    std::lock_guard lock(mu_);
    auto st = prepare(
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
      return fail(db_error(rc, "create app"));
    }
    return ok();
  }

  Result<App> get_app(std::string_view tenant_id, std::string_view app_id) override {
    std::lock_guard lock(mu_);
    auto st =
        prepare(std::string("SELECT ") + kAppColumns + " FROM apps WHERE tenant_id = ? AND id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id);
    auto found = row(*st, "get app");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kAppNotFound);
    return read_app(*st);
  }

  Result<std::vector<App>> list_apps(std::string_view tenant_id) override {
    std::lock_guard lock(mu_);
    auto st = prepare(std::string("SELECT ") + kAppColumns +
                      " FROM apps WHERE tenant_id = ? ORDER BY id");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id);
    std::vector<App> out;
    while (true) {
      auto found = row(*st, "list apps");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      out.push_back(read_app(*st));
    }
    return out;
  }

  Status update_app(const App& a) override {
    std::lock_guard lock(mu_);
    auto st = prepare(
        "UPDATE apps SET name = ?, dialect = ?, max_bytes = ?, max_objects = ?, "
        "max_object_bytes = ?, settings_json = ? WHERE tenant_id = ? AND id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(a.name).text(a.dialect).opt_u64(a.quota.max_bytes).opt_u64(a.quota.max_objects);
    st->opt_u64(a.quota.max_object_bytes).text(a.settings_json).text(a.tenant_id).text(a.id);
    UP_TRY(done(*st, "update app"));
    if (sqlite3_changes(db_) == 0) return fail(Errc::kAppNotFound);
    return ok();
  }

  Status create_key(const ApiKey& k, uint32_t max_per_tenant) override {
    std::lock_guard lock(mu_);
    return in_transaction([&]() -> Status {
      // Explicit checks, in the memory store's order, rather than decoding constraints.
      auto tenant = exists("SELECT 1 FROM tenants WHERE id = ?", k.tenant_id);
      if (!tenant) return fail(std::move(tenant.error()));
      if (!*tenant) return fail(Errc::kTenantNotFound);
      auto dup = exists("SELECT 1 FROM api_keys WHERE id = ?", k.id);
      if (!dup) return fail(std::move(dup.error()));
      if (*dup) return fail(Errc::kAlreadyExists);
      {
        auto st = prepare("SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?");
        if (!st) return fail(std::move(st.error()));
        st->text(k.tenant_id);
        auto found = row(*st, "count keys");
        if (!found) return fail(std::move(found.error()));
        if (st->col_u64(0) >= max_per_tenant) return fail(Errc::kKeyLimit);
      }
      auto st = prepare(
          "INSERT INTO api_keys(id, tenant_id, name, role, app_id, secret_sha256, enabled, "
          "created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
      if (!st) return fail(std::move(st.error()));
      st->text(k.id).text(k.tenant_id).text(k.name).text(to_string(k.role)).text(k.app_id);
      st->text(k.secret_sha256).i64(k.enabled ? 1 : 0).i64(k.created_at);
      return done(*st, "create key");
    });
  }

  Result<ApiKey> get_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    auto st = prepare(std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(key_id);
    auto found = row(*st, "get key");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kKeyNotFound);
    return read_key(*st);
  }

  Result<std::vector<ApiKey>> list_keys(std::string_view tenant_id) override {
    std::lock_guard lock(mu_);
    auto st = prepare(std::string("SELECT ") + kKeyColumns +
                      " FROM api_keys WHERE tenant_id = ? ORDER BY id");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id);
    std::vector<ApiKey> out;
    while (true) {
      auto found = row(*st, "list keys");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      out.push_back(read_key(*st));
    }
    return out;
  }

  Status set_key_enabled(std::string_view key_id, bool enabled) override {
    std::lock_guard lock(mu_);
    auto st = prepare("UPDATE api_keys SET enabled = ? WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->i64(enabled ? 1 : 0).text(key_id);
    UP_TRY(done(*st, "update key"));
    if (sqlite3_changes(db_) == 0) return fail(Errc::kKeyNotFound);
    return ok();
  }

  Status delete_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    auto st = prepare("DELETE FROM api_keys WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(key_id);
    UP_TRY(done(*st, "delete key"));
    if (sqlite3_changes(db_) == 0) return fail(Errc::kKeyNotFound);
    return ok();
  }

  // Group commit (core/group_commit.h): concurrent inserts share one
  // transaction, each under its own savepoint (a failed one is rolled back
  // alone), so one WAL fsync makes a whole batch durable.
  Status insert_object(const Object& o, const InsertOptions& opts) override {
    ObjectInsert me{&o, &opts};
    inserts_.submit(me,
                    [this](const std::vector<ObjectInsert*>& batch) { run_insert_batch(batch); });
    return std::move(me.result);
  }

  // A batch gathered by the caller (the upload committer) is one transaction.
  void insert_objects(std::span<ObjectInsert> inserts) override {
    std::vector<ObjectInsert*> batch;
    batch.reserve(inserts.size());
    for (ObjectInsert& i : inserts) batch.push_back(&i);
    if (!batch.empty()) run_insert_batch(batch);
  }

  void run_insert_batch(const std::vector<ObjectInsert*>& batch) {
    std::lock_guard lock(mu_);
    if (batch.size() == 1) {
      batch[0]->result =
          in_transaction([&] { return insert_one(*batch[0]->object, *batch[0]->opts); });
      return;
    }
    auto fail_all = [&](const Error& e) {
      for (ObjectInsert* p : batch) p->result = fail(e);
    };
    if (auto b = exec("BEGIN IMMEDIATE"); !b) return fail_all(b.error());
    for (ObjectInsert* p : batch) {
      if (auto sp = exec("SAVEPOINT one_insert"); !sp) {
        rollback();
        return fail_all(sp.error());
      }
      p->result = insert_one(*p->object, *p->opts);
      Status end =
          p->result
              ? exec("RELEASE one_insert")
              : exec("ROLLBACK TO one_insert").and_then([&] { return exec("RELEASE one_insert"); });
      if (!end) {
        rollback();
        return fail_all(end.error());
      }
    }
    if (auto c = exec("COMMIT"); !c) {
      rollback();
      return fail_all(c.error());
    }
  }

  // One insert's checks and writes. REQUIRES: mu_ held, inside a transaction
  // begun with BEGIN IMMEDIATE, so every check sees the state the insert
  // commits on: two racing uploads cannot both pass.
  Status insert_one(const Object& o, const InsertOptions& opts) {
    {
      if (!opts.key_id.empty()) {
        auto live = exists("SELECT 1 FROM api_keys WHERE id = ? AND enabled = 1", opts.key_id);
        if (!live) return fail(std::move(live.error()));
        if (!*live)
          return fail(Errc::kKeyDisabled, "the key of this upload was disabled or deleted");
      }
      if (!opts.grant_id.empty()) {
        auto used = exists("SELECT 1 FROM used_grants WHERE grant_id = ?", opts.grant_id);
        if (!used) return fail(std::move(used.error()));
        if (*used) return fail(Errc::kGrantUsed);
      }
      auto dup = exists("SELECT 1 FROM objects WHERE id = ?", o.id);
      if (!dup) return fail(std::move(dup.error()));
      if (*dup) return fail(Errc::kAlreadyExists);
      const bool live = o.state != ObjectState::kDeleted;
      if (live && !o.key.empty()) {
        auto st = prepare(
            "SELECT 1 FROM objects WHERE tenant_id = ? AND app_id = ? AND key = ? "
            "AND key <> '' AND state <> 'deleted'");
        if (!st) return fail(std::move(st.error()));
        st->text(o.tenant_id).text(o.app_id).text(o.key);
        auto taken = row(*st, "check key");
        if (!taken) return fail(std::move(taken.error()));
        if (*taken) return fail(Errc::kObjectKeyExists);
      }
      if (live) {
        Status within = check_limits(o, opts);
        if (!within && opts.now > 0) {
          auto expired = expire_due(opts.now, UINT32_MAX, o.tenant_id);
          if (!expired) return fail(std::move(expired.error()));
          if (*expired > 0) within = check_limits(o, opts);
        }
        UP_TRY(within);
      }
      if (!opts.grant_id.empty()) {
        auto st = prepare("INSERT INTO used_grants(grant_id, expires_at) VALUES(?, ?)");
        if (!st) return fail(std::move(st.error()));
        st->text(opts.grant_id).i64(opts.grant_expires_at);
        UP_TRY(done(*st, "record grant"));
      }
      {
        auto st = prepare("INSERT INTO objects(" UP_OBJECT_COLUMNS
                          ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        if (!st) return fail(std::move(st.error()));
        st->text(o.id).text(o.tenant_id).text(o.app_id).text(o.key).text(o.name);
        st->text(o.content_type).u64(o.size).text(o.sha256).text(o.md5).text(o.qetag);
        st->text(o.locator).text(to_string(o.state)).i64(o.created_at).opt_i64(o.expires_at);
        st->text(o.transaction_id).text(o.owner).text(o.meta_json);
        if (int rc = st->step(); rc != SQLITE_DONE) {
          // Unreachable after the checks above unless the file was edited by hand.
          if (is_constraint(rc)) return fail(Errc::kObjectKeyExists, sqlite3_errmsg(db_));
          return fail(db_error(rc, "insert object"));
        }
      }
      if (live) UP_TRY(add_usage(o.tenant_id, o.app_id, static_cast<int64_t>(o.size), 1));
      return ok();
    }
  }

  Result<Object> get_object(std::string_view tenant_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    auto st = prepare("SELECT " UP_OBJECT_COLUMNS
                      " FROM objects WHERE id = ? AND tenant_id = ? AND state <> 'deleted'");
    if (!st) return fail(std::move(st.error()));
    st->text(id).text(tenant_id);
    auto found = row(*st, "get object");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kObjectNotFound);
    return read_object(*st);
  }

  Result<Object> get_object_by_key(std::string_view tenant_id, std::string_view app_id,
                                   std::string_view key) override {
    std::lock_guard lock(mu_);
    auto st = prepare("SELECT " UP_OBJECT_COLUMNS
                      " FROM objects WHERE tenant_id = ? AND app_id = ? AND key = ? "
                      "AND key <> '' AND state <> 'deleted'");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id).text(key);
    auto found = row(*st, "get object by key");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kObjectNotFound);
    return read_object(*st);
  }

  Result<ObjectPage> list_objects(const ObjectQuery& q) override {
    std::lock_guard lock(mu_);
    // At most 8 shapes of this query, each prepared once and cached by its text.
    std::string sql = "SELECT " UP_OBJECT_COLUMNS " FROM objects WHERE tenant_id = ?";
    if (!q.app_id.empty()) sql += " AND app_id = ?";
    sql += " AND id > ?";
    sql += q.state ? " AND state = ?" : " AND state <> 'deleted'";
    if (q.live_at) sql += " AND (expires_at IS NULL OR expires_at > ?)";
    sql += " ORDER BY id LIMIT ?";
    auto st = prepare(sql);
    if (!st) return fail(std::move(st.error()));
    st->text(q.tenant_id);
    if (!q.app_id.empty()) st->text(q.app_id);
    st->text(q.after_id);
    if (q.state) st->text(to_string(*q.state));
    if (q.live_at) st->i64(*q.live_at);
    st->i64(static_cast<int64_t>(q.limit) + 1);  // one extra row tells whether there is more
    ObjectPage page;
    while (true) {
      auto found = row(*st, "list objects");
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

  Status update_object_state(std::string_view tenant_id, std::string_view id, ObjectState state,
                             std::optional<UnixMs> expires_at) override {
    std::lock_guard lock(mu_);
    if (state == ObjectState::kDeleted) {
      // Leaving the live set must also leave the usage totals.
      auto r = in_transaction([&] { return delete_live(tenant_id, id); });
      if (!r) return fail(std::move(r.error()));
      if (!*r) return fail(Errc::kObjectNotFound);
      return ok();
    }
    auto st = prepare(
        "UPDATE objects SET state = ?, expires_at = ? "
        "WHERE id = ? AND tenant_id = ? AND state <> 'deleted'");
    if (!st) return fail(std::move(st.error()));
    st->text(to_string(state)).opt_i64(expires_at).text(id).text(tenant_id);
    UP_TRY(done(*st, "update object state"));
    if (sqlite3_changes(db_) == 0) return fail(Errc::kObjectNotFound);
    return ok();
  }

  Result<bool> mark_deleted(std::string_view tenant_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    return in_transaction([&] { return delete_live(tenant_id, id); });
  }

  Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) override {
    std::lock_guard lock(mu_);
    return read_usage(tenant_id, app_id);
  }

  Result<uint64_t> expire_objects(UnixMs now, uint32_t limit) override {
    std::lock_guard lock(mu_);
    return in_transaction([&] { return expire_due(now, limit, {}); });
  }

  Result<std::vector<Object>> deleted_objects(uint32_t limit) override {
    std::lock_guard lock(mu_);
    auto st = prepare("SELECT " UP_OBJECT_COLUMNS " FROM objects WHERE state = 'deleted' LIMIT ?");
    if (!st) return fail(std::move(st.error()));
    st->i64(limit);
    std::vector<Object> out;
    while (true) {
      auto found = row(*st, "list deleted objects");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      auto o = read_object(*st);
      if (!o) return fail(std::move(o.error()));
      out.push_back(std::move(*o));
    }
    return out;
  }

  Status purge_object(std::string_view id) override {
    std::lock_guard lock(mu_);
    {
      auto st = prepare("DELETE FROM objects WHERE id = ? AND state = 'deleted'");
      if (!st) return fail(std::move(st.error()));
      st->text(id);
      UP_TRY(done(*st, "purge object"));
      if (sqlite3_changes(db_) > 0) return ok();
    }
    // Nothing purged: fine if the row is already gone (a retried sweep), a bug
    // in the caller if the object is still live.
    auto live = exists("SELECT 1 FROM objects WHERE id = ?", id);
    if (!live) return fail(std::move(live.error()));
    if (*live) return fail(Errc::kFailedPrecondition, "object is not deleted");
    return ok();
  }

  Result<bool> locator_exists(std::string_view locator) override {
    std::lock_guard lock(mu_);
    return exists("SELECT 1 FROM objects WHERE locator = ? LIMIT 1", locator);
  }

  // Committed without its own fsync (see MetaStore::put_transaction): Jodoo's
  // get_upload_token writes one per call at request rates, and an fsync each
  // capped it near the disk's sync rate. WAL frames are synced in order, so
  // the row is durable once any later commit (all FULL) is.
  Status put_transaction(const Transaction& t) override {
    std::lock_guard lock(mu_);
    UP_TRY(exec("PRAGMA synchronous = NORMAL"));
    Status written = [&]() -> Status {
      auto st = prepare(
          "INSERT INTO transactions(tenant_id, app_id, id, created_at, expires_at) "
          "VALUES(?, ?, ?, ?, ?) ON CONFLICT(tenant_id, app_id, id) "
          "DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)");
      if (!st) return fail(std::move(st.error()));
      st->text(t.tenant_id).text(t.app_id).text(t.id).i64(t.created_at).i64(t.expires_at);
      return done(*st, "put transaction");
    }();
    UP_TRY(exec("PRAGMA synchronous = FULL"));  // every other write stays durable on return
    return written;
  }

  Result<Transaction> get_transaction(std::string_view tenant_id, std::string_view app_id,
                                      std::string_view id) override {
    std::lock_guard lock(mu_);
    auto st = prepare(
        "SELECT tenant_id, app_id, id, created_at, expires_at FROM transactions "
        "WHERE tenant_id = ? AND app_id = ? AND id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id).text(id);
    auto found = row(*st, "get transaction");
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

  // Records. Each write is one BEGIN IMMEDIATE transaction: the binding
  // checks see the state the write commits on.
  Result<std::vector<Record>> insert_records(std::vector<Record> records,
                                             const BindOptions& bind) override {
    std::lock_guard lock(mu_);
    return in_transaction([&]() -> Result<std::vector<Record>> {
      // A batch key seen before this write means a retried batch (the records of
      // this write may all carry the same key).
      for (size_t i = 0; i < records.size(); ++i) {
        const Record& r = records[i];
        if (!r.batch_key.empty() && (i == 0 || records[i - 1].batch_key != r.batch_key)) {
          auto st = prepare(
              "SELECT 1 FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
              "AND batch_key = ? AND batch_key <> ''");
          if (!st) return fail(std::move(st.error()));
          st->text(r.tenant_id).text(r.app_id).text(r.form_id).text(r.batch_key);
          auto seen = row(*st, "check batch key");
          if (!seen) return fail(std::move(seen.error()));
          if (*seen) return fail(Errc::kDuplicateRequest);
        }
      }
      for (Record& r : records) {
        auto seq = next_seq(r.tenant_id, r.app_id, r.form_id);
        if (!seq) return fail(std::move(seq.error()));
        r.seq = *seq;
        if (r.id.empty()) r.id = std::to_string(r.seq);
        r.revision = 1;
        auto st = prepare("INSERT INTO records(" UP_RECORD_COLUMNS
                          ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        if (!st) return fail(std::move(st.error()));
        st->text(r.tenant_id).text(r.app_id).text(r.form_id).u64(r.seq).text(r.id);
        st->u64(r.revision).text(r.data_json).text(r.batch_key).text(r.creator);
        st->text(r.updater).i64(r.created_at).i64(r.updated_at);
        if (int rc = st->step(); rc != SQLITE_DONE) {
          if (is_constraint(rc)) return fail(Errc::kAlreadyExists, "record id taken");
          return fail(db_error(rc, "insert record"));
        }
        UP_TRY(bind_files(r, {}, bind));
      }
      return std::move(records);
    });
  }

  Result<std::vector<Record>> update_records(std::string_view tenant_id, std::string_view app_id,
                                             std::string_view form_id,
                                             std::vector<RecordUpdate> updates,
                                             const BindOptions& bind) override {
    std::lock_guard lock(mu_);
    return in_transaction([&]() -> Result<std::vector<Record>> {
      std::vector<Record> out;
      for (RecordUpdate& u : updates) {
        auto current = read_record(tenant_id, app_id, form_id, u.id);
        if (!current) return fail(std::move(current.error()));
        Record r = std::move(*current);
        if (u.expected_revision && *u.expected_revision != r.revision)
          return fail(Errc::kRevisionConflict);
        std::vector<std::string> old_files = std::move(r.file_ids);
        r.file_ids = std::move(u.file_ids);
        r.data_json = std::move(u.data_json);
        r.updater = std::move(u.updater);
        r.updated_at = bind.now;
        r.revision += 1;
        auto st = prepare(
            "UPDATE records SET revision = ?, data_json = ?, updater = ?, updated_at = ? "
            "WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND seq = ?");
        if (!st) return fail(std::move(st.error()));
        st->u64(r.revision).text(r.data_json).text(r.updater).i64(r.updated_at);
        st->text(tenant_id).text(app_id).text(form_id).u64(r.seq);
        UP_TRY(done(*st, "update record"));
        UP_TRY(bind_files(r, old_files, bind));
        out.push_back(std::move(r));
      }
      return out;
    });
  }

  Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                            std::string_view form_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    return read_record(tenant_id, app_id, form_id, id);
  }

  Result<RecordPage> list_records(const RecordQuery& q) override {
    std::lock_guard lock(mu_);
    RecordPage page;
    if (q.with_total) {
      auto st = prepare(
          "SELECT COUNT(*) FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
          "AND seq > ?");
      if (!st) return fail(std::move(st.error()));
      st->text(q.tenant_id).text(q.app_id).text(q.form_id).u64(q.after_seq);
      auto found = row(*st, "count records");
      if (!found) return fail(std::move(found.error()));
      page.total = st->col_u64(0);
    }
    auto st = prepare(std::string("SELECT " UP_RECORD_COLUMNS
                                  " FROM records WHERE tenant_id = ? AND app_id = ? "
                                  "AND form_id = ? AND seq > ? ORDER BY seq ") +
                      (q.descending ? "DESC" : "ASC") + " LIMIT ? OFFSET ?");
    if (!st) return fail(std::move(st.error()));
    st->text(q.tenant_id).text(q.app_id).text(q.form_id).u64(q.after_seq);
    st->i64(q.limit).u64(q.offset);
    while (true) {
      auto found = row(*st, "list records");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      page.records.push_back(read_record_row(*st));
    }
    // Read after the scan: the statement cache lends one statement per SQL text.
    for (Record& r : page.records) {
      auto files = read_record_files(r);
      if (!files) return fail(std::move(files.error()));
      r.file_ids = std::move(*files);
    }
    return page;
  }

  Status delete_records(std::string_view tenant_id, std::string_view app_id,
                        std::string_view form_id,
                        const std::vector<std::pair<std::string, std::optional<uint64_t>>>& ids,
                        UnixMs now) override {
    std::lock_guard lock(mu_);
    return in_transaction([&]() -> Status {
      for (const auto& [id, revision] : ids) {
        auto current = read_record(tenant_id, app_id, form_id, id);
        if (!current) return fail(std::move(current.error()));
        if (revision && *revision != current->revision) return fail(Errc::kRevisionConflict);
        auto st = prepare(
            "DELETE FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND seq = ?");
        if (!st) return fail(std::move(st.error()));
        st->text(tenant_id).text(app_id).text(form_id).u64(current->seq);
        UP_TRY(done(*st, "delete record"));
        Record gone = std::move(*current);
        std::vector<std::string> files;
        files.swap(gone.file_ids);  // it binds nothing now; its files go
        UP_TRY(bind_files(gone, files, BindOptions{{}, now}));
      }
      return ok();
    });
  }

 private:
  // Record helpers. REQUIRE mu_ held; the writing ones run inside a transaction.

  Result<uint64_t> next_seq(std::string_view tenant_id, std::string_view app_id,
                            std::string_view form_id) {
    auto st = prepare(
        "INSERT INTO record_sequences(tenant_id, app_id, form_id, last_seq) VALUES(?, ?, ?, 1) "
        "ON CONFLICT(tenant_id, app_id, form_id) DO UPDATE SET last_seq = last_seq + 1 "
        "RETURNING last_seq");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id).text(form_id);
    auto found = row(*st, "next record number");
    if (!found) return fail(std::move(found.error()));
    uint64_t seq = st->col_u64(0);
    while (true) {  // step to the end so the statement completes
      auto more = row(*st, "next record number");
      if (!more) return fail(std::move(more.error()));
      if (!*more) break;
    }
    return seq;
  }

  static Record read_record_row(const Stmt& st) {
    Record r;
    r.tenant_id = st.col_text(0);
    r.app_id = st.col_text(1);
    r.form_id = st.col_text(2);
    r.seq = st.col_u64(3);
    r.id = st.col_text(4);
    r.revision = st.col_u64(5);
    r.data_json = st.col_text(6);
    r.batch_key = st.col_text(7);
    r.creator = st.col_text(8);
    r.updater = st.col_text(9);
    r.created_at = st.col_i64(10);
    r.updated_at = st.col_i64(11);
    return r;
  }

  Result<Record> read_record(std::string_view tenant_id, std::string_view app_id,
                             std::string_view form_id, std::string_view id) {
    Record r;
    {
      auto st =
          prepare("SELECT " UP_RECORD_COLUMNS
                  " FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND id = ?");
      if (!st) return fail(std::move(st.error()));
      st->text(tenant_id).text(app_id).text(form_id).text(id);
      auto found = row(*st, "read record");
      if (!found) return fail(std::move(found.error()));
      if (!*found) return fail(Errc::kRecordNotFound);
      r = read_record_row(*st);
    }
    auto files = read_record_files(r);
    if (!files) return fail(std::move(files.error()));
    r.file_ids = std::move(*files);
    return r;
  }

  Result<std::vector<std::string>> read_record_files(const Record& r) {
    auto st = prepare(
        "SELECT object_id FROM record_files WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
        "AND record_id = ? ORDER BY position");
    if (!st) return fail(std::move(st.error()));
    st->text(r.tenant_id).text(r.app_id).text(r.form_id).text(r.id);
    std::vector<std::string> ids;
    while (true) {
      auto found = row(*st, "read record files");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      ids.push_back(st->col_text(0));
    }
    return ids;
  }

  // The binding rules of BindOptions: record `r` now binds r.file_ids and used
  // to bind `old_ids`. Rewrites its record_files rows; objects it dropped are
  // marked deleted.
  Status bind_files(const Record& r, const std::vector<std::string>& old_ids,
                    const BindOptions& bind) {
    {
      auto st = prepare(
          "DELETE FROM record_files WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
          "AND record_id = ?");
      if (!st) return fail(std::move(st.error()));
      st->text(r.tenant_id).text(r.app_id).text(r.form_id).text(r.id);
      UP_TRY(done(*st, "unbind files"));
    }
    const std::vector<std::string>& ids = r.file_ids;
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string& id = ids[i];
      if (std::find(ids.begin(), ids.begin() + static_cast<long>(i), id) !=
          ids.begin() + static_cast<long>(i))
        return fail(Errc::kInvalidArgument, "a file is listed twice");
      const bool kept = std::find(old_ids.begin(), old_ids.end(), id) != old_ids.end();
      if (!kept) UP_TRY(attach(r, id, bind));
      auto st = prepare(
          "INSERT INTO record_files(tenant_id, app_id, form_id, record_id, position, object_id) "
          "VALUES(?, ?, ?, ?, ?, ?)");
      if (!st) return fail(std::move(st.error()));
      st->text(r.tenant_id).text(r.app_id).text(r.form_id).text(r.id).i64(static_cast<int64_t>(i));
      st->text(id);
      if (int rc = st->step(); rc != SQLITE_DONE) {
        // Bound to another record (record_files_object is unique).
        if (is_constraint(rc)) return fail(Errc::kObjectNotTemporary);
        return fail(db_error(rc, "bind file"));
      }
    }
    for (const std::string& id : old_ids) {
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
      auto gone = delete_live(r.tenant_id, id);
      if (!gone) return fail(std::move(gone.error()));
    }
    return ok();
  }

  // Flips one unbound temporary object of r's app to attached.
  Status attach(const Record& r, std::string_view object_id, const BindOptions& bind) {
    auto st = prepare(
        "SELECT app_id, state, expires_at, transaction_id FROM objects "
        "WHERE id = ? AND tenant_id = ? AND state <> 'deleted'");
    if (!st) return fail(std::move(st.error()));
    st->text(object_id).text(r.tenant_id);
    auto found = row(*st, "find file to bind");
    if (!found) return fail(std::move(found.error()));
    if (!*found || st->col_text(0) != r.app_id) return fail(Errc::kObjectNotFound);
    if (st->col_text(1) != to_string(ObjectState::kTemporary)) {
      return fail(Errc::kObjectNotTemporary);
    }
    if (auto expires = st->col_opt_i64(2); expires && *expires <= bind.now)
      return fail(Errc::kObjectNotFound);
    if (std::string tx = st->col_text(3); !tx.empty() && tx != bind.transaction_id)
      return fail(Errc::kTransactionMismatch);
    auto up = prepare("UPDATE objects SET state = 'attached', expires_at = NULL WHERE id = ?");
    if (!up) return fail(std::move(up.error()));
    up->text(object_id);
    return done(*up, "attach file");
  }

  static constexpr const char* kAppColumns =
      "tenant_id, id, name, dialect, max_bytes, max_objects, max_object_bytes, settings_json, "
      "created_at";
  static constexpr const char* kKeyColumns =
      "id, tenant_id, name, role, app_id, secret_sha256, enabled, created_at";

  // All helpers below REQUIRE mu_ held.

  // The cached statement for `sql`, prepared on first use.
  Result<Stmt> prepare(const std::string& sql) {
    auto it = stmts_.find(sql);
    if (it == stmts_.end()) {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return fail(db_error(rc, "prepare"));
      it = stmts_.emplace(sql, stmt).first;
    }
    return Stmt(it->second);
  }

  Error db_error(int rc, std::string_view what) const {
    std::string msg = std::string(what) + ": " + sqlite3_errmsg(db_);
    return Error{code_of(rc), std::move(msg)};
  }

  // Steps a statement that returns no rows.
  Status done(Stmt& st, std::string_view what) {
    if (int rc = st.step(); rc != SQLITE_DONE) return fail(db_error(rc, what));
    return ok();
  }

  // Steps to the next row: true on a row, false at the end.
  Result<bool> row(Stmt& st, std::string_view what) {
    int rc = st.step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(db_error(rc, what));
  }

  Result<bool> exists(const std::string& sql, std::string_view arg) {
    auto st = prepare(sql);
    if (!st) return fail(std::move(st.error()));
    st->text(arg);
    return row(*st, "lookup");
  }

  Result<uint64_t> delete_where(const std::string& sql, int64_t arg) {
    auto st = prepare(sql);
    if (!st) return fail(std::move(st.error()));
    st->i64(arg);
    UP_TRY(done(*st, "expire"));
    return static_cast<uint64_t>(sqlite3_changes64(db_));
  }

  Status exec(const std::string& sql) {
    auto st = prepare(sql);
    if (!st) return fail(std::move(st.error()));
    return done(*st, sql);
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

  void rollback() {
    // Some errors (SQLITE_FULL, SQLITE_IOERR) already rolled the transaction back.
    if (!sqlite3_get_autocommit(db_)) (void)exec("ROLLBACK");
  }

  // The limits of InsertOptions against the usage totals (the new object included).
  Status check_limits(const Object& o, const InsertOptions& opts) {
    auto app = read_usage(o.tenant_id, o.app_id);
    if (!app) return fail(std::move(app.error()));
    auto tenant = read_usage(o.tenant_id, "");
    if (!tenant) return fail(std::move(tenant.error()));
    if (opts.app_max_bytes && app->bytes + o.size > *opts.app_max_bytes)
      return fail(Errc::kQuotaExceeded);
    if (opts.app_max_objects && app->objects + 1 > *opts.app_max_objects)
      return fail(Errc::kObjectLimit);
    if (opts.tenant_max_bytes && tenant->bytes + o.size > *opts.tenant_max_bytes)
      return fail(Errc::kQuotaExceeded);
    if (opts.tenant_max_objects && tenant->objects + 1 > *opts.tenant_max_objects)
      return fail(Errc::kObjectLimit);
    return ok();
  }

  // Marks up to `limit` live objects with expires_at <= now as deleted (only
  // those of `tenant_id` when given) and takes them out of usage.
  // REQUIRES: inside a transaction.
  Result<uint64_t> expire_due(UnixMs now, uint32_t limit, std::string_view tenant_id) {
    struct Due {
      std::string id, tenant_id, app_id;
      int64_t size;
    };
    std::vector<Due> due;
    {
      auto st = prepare(
          "SELECT id, tenant_id, app_id, size FROM objects "
          "WHERE expires_at IS NOT NULL AND state <> 'deleted' AND expires_at <= ? "
          "AND (? = '' OR tenant_id = ?) ORDER BY expires_at LIMIT ?");
      if (!st) return fail(std::move(st.error()));
      st->i64(now).text(tenant_id).text(tenant_id).i64(limit);
      while (true) {
        auto found = row(*st, "find expired objects");
        if (!found) return fail(std::move(found.error()));
        if (!*found) break;
        due.push_back({st->col_text(0), st->col_text(1), st->col_text(2), st->col_i64(3)});
      }
    }
    // Updated after the scan is finished: changing rows under an open cursor
    // on the same index is not something to rely on.
    for (const Due& d : due) {
      auto st = prepare("UPDATE objects SET state = 'deleted' WHERE id = ?");
      if (!st) return fail(std::move(st.error()));
      st->text(d.id);
      UP_TRY(done(*st, "expire object"));
      UP_TRY(add_usage(d.tenant_id, d.app_id, -d.size, -1));
    }
    return static_cast<uint64_t>(due.size());
  }

  Result<Usage> read_usage(std::string_view tenant_id, std::string_view app_id) {
    auto st = prepare("SELECT bytes, objects FROM usage WHERE tenant_id = ? AND app_id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id);
    auto found = row(*st, "read usage");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return Usage{};
    return Usage{st->col_u64(0), st->col_u64(1)};
  }

  // Adds to the running totals of the app and of the tenant (app_id '').
  Status add_usage(std::string_view tenant_id, std::string_view app_id, int64_t bytes,
                   int64_t objects) {
    for (std::string_view app : {app_id, std::string_view("")}) {
      auto st = prepare(
          "INSERT INTO usage(tenant_id, app_id, bytes, objects) VALUES(?, ?, ?, ?) "
          "ON CONFLICT(tenant_id, app_id) DO UPDATE SET "
          "bytes = bytes + excluded.bytes, objects = objects + excluded.objects");
      if (!st) return fail(std::move(st.error()));
      st->text(tenant_id).text(app).i64(bytes).i64(objects);
      UP_TRY(done(*st, "update usage"));
    }
    return ok();
  }

  // Marks a live object deleted and takes it out of usage; false if there was
  // no live object. REQUIRES: inside a transaction.
  Result<bool> delete_live(std::string_view tenant_id, std::string_view id) {
    std::string app_id;
    int64_t size = 0;
    {
      auto st = prepare(
          "SELECT app_id, size FROM objects WHERE id = ? AND tenant_id = ? AND state <> 'deleted'");
      if (!st) return fail(std::move(st.error()));
      st->text(id).text(tenant_id);
      auto found = row(*st, "find object");
      if (!found) return fail(std::move(found.error()));
      if (!*found) return false;
      app_id = st->col_text(0);
      size = st->col_i64(1);
    }
    auto st = prepare("UPDATE objects SET state = 'deleted' WHERE id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(id);
    UP_TRY(done(*st, "delete object"));
    UP_TRY(add_usage(tenant_id, app_id, -size, -1));
    return true;
  }

  std::mutex mu_;
  // Group commit of insert_object (see there).
  core::GroupCommit<ObjectInsert> inserts_;
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;  // SQL text -> prepared statement
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

#undef UP_OBJECT_COLUMNS
#undef UP_RECORD_COLUMNS

}  // namespace up::meta
