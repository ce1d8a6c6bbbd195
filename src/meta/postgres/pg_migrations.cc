#include "meta/postgres/pg_migrations.h"

#include <string>

namespace up::meta {
namespace {

// v1, as SQLite's v1. Notes on choices:
// - Counters and UnixMs are bigint; uint64 quota values are stored through
//   int64 bit for bit, as in SQLite. enabled is a boolean.
// - Ids that lists are ordered by use COLLATE "C": ids compare byte for byte
//   (meta_store.h) whatever the database's collation.
// - usage holds running totals per (tenant, app) and per (tenant, '') for the
//   tenant; its rows are also the locks that make quota checks exact across
//   connections (an insert updates them before checking; see
//   meta/sql/sql_transaction.h).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE tenants (
  id               text COLLATE "C" PRIMARY KEY,
  name             text NOT NULL,
  max_bytes        bigint,
  max_objects      bigint,
  max_object_bytes bigint,
  cors_origins     text NOT NULL DEFAULT '',
  settings_json    text NOT NULL DEFAULT '{}',
  created_at       bigint NOT NULL
);

CREATE TABLE apps (
  tenant_id        text COLLATE "C" NOT NULL REFERENCES tenants(id),
  id               text COLLATE "C" NOT NULL,
  name             text NOT NULL,
  dialect          text NOT NULL,
  max_bytes        bigint,
  max_objects      bigint,
  max_object_bytes bigint,
  settings_json    text NOT NULL DEFAULT '{}',
  created_at       bigint NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE api_keys (
  id            text COLLATE "C" PRIMARY KEY,
  tenant_id     text COLLATE "C" NOT NULL REFERENCES tenants(id),
  name          text NOT NULL,
  role          text NOT NULL,
  app_id        text NOT NULL DEFAULT '',
  secret_sha256 text NOT NULL,
  enabled       boolean NOT NULL,
  created_at    bigint NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id, id);

CREATE TABLE objects (
  id             text COLLATE "C" NOT NULL PRIMARY KEY,
  tenant_id      text COLLATE "C" NOT NULL,
  app_id         text COLLATE "C" NOT NULL,
  key            text NOT NULL DEFAULT '',
  name           text NOT NULL DEFAULT '',
  content_type   text NOT NULL DEFAULT '',
  size           bigint NOT NULL,
  sha256         text NOT NULL DEFAULT '',
  md5            text NOT NULL DEFAULT '',
  qetag          text NOT NULL DEFAULT '',
  locator        text NOT NULL,
  state          text NOT NULL,
  created_at     bigint NOT NULL,
  expires_at     bigint,
  transaction_id text NOT NULL DEFAULT '',
  owner          text NOT NULL DEFAULT '',
  meta_json      text NOT NULL DEFAULT '{}'
);
CREATE INDEX objects_tenant ON objects(tenant_id, id);
CREATE INDEX objects_tenant_app ON objects(tenant_id, app_id, id);
CREATE UNIQUE INDEX objects_live_key ON objects(tenant_id, app_id, key)
  WHERE key <> '' AND state <> 'deleted';
CREATE INDEX objects_live_expiry ON objects(expires_at)
  WHERE expires_at IS NOT NULL AND state <> 'deleted';
CREATE INDEX objects_deleted ON objects(state) WHERE state = 'deleted';
CREATE INDEX objects_locator ON objects(locator);

CREATE TABLE transactions (
  tenant_id  text NOT NULL,
  app_id     text NOT NULL,
  id         text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, app_id, id)
);
CREATE INDEX transactions_expiry ON transactions(expires_at);

CREATE TABLE used_grants (
  grant_id   text PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX used_grants_expiry ON used_grants(expires_at);

CREATE TABLE usage (
  tenant_id text NOT NULL,
  app_id    text NOT NULL,
  bytes     bigint NOT NULL DEFAULT 0,
  objects   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, app_id)
);
)sql";

// v2, as SQLite's v2: records, their never-reused numbers, their files.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE records (
  tenant_id  text NOT NULL,
  app_id     text NOT NULL,
  form_id    text NOT NULL,
  seq        bigint NOT NULL,
  id         text NOT NULL,
  revision   bigint NOT NULL,
  data_json  text NOT NULL,
  batch_key  text NOT NULL DEFAULT '',
  creator    text NOT NULL DEFAULT '',
  updater    text NOT NULL DEFAULT '',
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, app_id, form_id, seq)
);
CREATE UNIQUE INDEX records_id ON records(tenant_id, app_id, form_id, id);
CREATE INDEX records_batch ON records(tenant_id, app_id, form_id, batch_key)
  WHERE batch_key <> '';

CREATE TABLE record_sequences (
  tenant_id text NOT NULL,
  app_id    text NOT NULL,
  form_id   text NOT NULL,
  last_seq  bigint NOT NULL,
  PRIMARY KEY (tenant_id, app_id, form_id)
);

CREATE TABLE record_files (
  tenant_id text NOT NULL,
  app_id    text NOT NULL,
  form_id   text NOT NULL,
  record_id text NOT NULL,
  position  bigint NOT NULL,
  object_id text NOT NULL,
  PRIMARY KEY (tenant_id, app_id, form_id, record_id, position)
);
CREATE UNIQUE INDEX record_files_object ON record_files(object_id);
)sql";

// v3, as SQLite's v3: state several processes share (meta_store.h).
// rate_windows is UNLOGGED: a hit is one upsert on the request path, and a
// counter of the current second or minute is worth no WAL write; after a
// database crash the table comes back empty, which only forgives a window.
constexpr std::string_view kV3 = R"sql(
CREATE UNLOGGED TABLE rate_windows (
  key          text COLLATE "C" PRIMARY KEY,
  window_start bigint NOT NULL,
  count        bigint NOT NULL
);
CREATE INDEX rate_windows_start ON rate_windows(window_start);

CREATE TABLE leases (
  name       text COLLATE "C" PRIMARY KEY,
  holder     text NOT NULL,
  expires_at bigint NOT NULL
);

CREATE TABLE cursors (
  tenant_id  text COLLATE "C" NOT NULL,
  id         text COLLATE "C" NOT NULL,
  owner      text NOT NULL,
  app_id     text NOT NULL,
  state      text NOT NULL,
  position   bigint NOT NULL DEFAULT 0,
  expires_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX cursors_expiry ON cursors(expires_at);
)sql";

// v4: a resumable upload's pieces are objects under reserved keys ("//...")
// listed by key prefix in byte order (core/resumable.h), whatever the
// database's collation.
constexpr std::string_view kV4 = R"sql(
CREATE INDEX objects_piece_key ON objects(tenant_id, app_id, (key COLLATE "C"))
  WHERE key LIKE '//%' AND state <> 'deleted';
)sql";

constexpr Migration kMigrations[] = {
    {1, kV1},
    {2, kV2},
    {3, kV3},
    {4, kV4},
};

// The advisory lock every upgate process migrating one installation takes:
// keyed by the search_path, so installations in other schemas of the same
// database (tests run one per schema) never wait for each other.
constexpr const char* kMigrationLockKey =
    "hashtextextended('upgate-migrate:' || current_setting('search_path'), 0)";

Result<int> recorded_version(PgConn& conn) {
  auto v = conn.first(
      "read schema version", [](const PgRow& r) { return r.col<int64_t>(0); },
      "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!v) return fail(std::move(v.error()));
  return static_cast<int>(v->value_or(0));
}

Status apply_step(PgConn& conn, const Migration& m, UnixMs now) {
  UP_TRY(conn.simple("begin migration", "BEGIN"));
  auto body = [&]() -> Status {
    UP_TRY(conn.simple("migration " + std::to_string(m.version), std::string(m.sql)));
    auto recorded = conn.run("record migration",
                             "INSERT INTO schema_migrations(version, applied_at) VALUES($1, $2)",
                             m.version, now);
    if (!recorded) return fail(std::move(recorded.error()));
    return conn.simple("commit migration", "COMMIT");
  };
  Status r = body();
  if (!r) conn.rollback_if_open();
  return r;
}

Status migrate_locked(PgConn& conn, std::span<const Migration> steps, UnixMs now) {
  UP_TRY(conn.simple("create schema_migrations",
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "version integer PRIMARY KEY, applied_at bigint NOT NULL)"));
  auto current = recorded_version(conn);
  if (!current) return fail(std::move(current.error()));
  return apply_newer_steps(*current, steps,
                           [&](const Migration& m) { return apply_step(conn, m, now); });
}

}  // namespace

std::span<const Migration> postgres_migrations() { return kMigrations; }

Status apply_postgres_migrations(PgConn& conn, std::span<const Migration> steps, UnixMs now) {
  // Session lock: waits while another process migrates; the version read
  // under it then sees that process's steps.
  auto locked = conn.run("lock for migration",
                         std::string("SELECT pg_advisory_lock(") + kMigrationLockKey + ")");
  if (!locked) return fail(std::move(locked.error()));
  Status r = migrate_locked(conn, steps, now);
  auto unlocked =
      conn.run("unlock", std::string("SELECT pg_advisory_unlock(") + kMigrationLockKey + ")");
  if (r && !unlocked) return fail(std::move(unlocked.error()));
  return r;
}

}  // namespace up::meta
