#include "meta/sqlite/migrations.h"

#include <string>

#include <sqlite3.h>

namespace up::meta {
namespace {

// v1. Notes on choices:
// - Quota fields are nullable INTEGERs (NULL = inherit); uint64 values are
//   stored through int64 bit for bit.
// - cors_origins is newline-joined (an origin never contains a newline).
// - usage holds running totals of live objects per (tenant, app), and per
//   (tenant, '') for the tenant, so insert_object's quota checks are two
//   primary-key reads.
// - The partial indexes repeat their WHERE terms literally in the queries
//   (meta/sql/, sqlite_meta_store.cc); SQLite only uses a partial index when
//   the query's WHERE contains its terms.
// - objects and transactions carry no foreign keys: their rows outlive nothing
//   and the store does not police the caller's tenant/app ids there.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE tenants (
  id               TEXT PRIMARY KEY,
  name             TEXT NOT NULL,
  max_bytes        INTEGER,
  max_objects      INTEGER,
  max_object_bytes INTEGER,
  cors_origins     TEXT NOT NULL DEFAULT '',
  settings_json    TEXT NOT NULL DEFAULT '{}',
  created_at       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE apps (
  tenant_id        TEXT NOT NULL REFERENCES tenants(id),
  id               TEXT NOT NULL,
  name             TEXT NOT NULL,
  dialect          TEXT NOT NULL,
  max_bytes        INTEGER,
  max_objects      INTEGER,
  max_object_bytes INTEGER,
  settings_json    TEXT NOT NULL DEFAULT '{}',
  created_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id),
  name          TEXT NOT NULL,
  role          TEXT NOT NULL,
  app_id        TEXT NOT NULL DEFAULT '',
  secret_sha256 TEXT NOT NULL,
  enabled       INTEGER NOT NULL,
  created_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX api_keys_tenant ON api_keys(tenant_id, id);

CREATE TABLE objects (
  id             TEXT NOT NULL PRIMARY KEY,
  tenant_id      TEXT NOT NULL,
  app_id         TEXT NOT NULL,
  key            TEXT NOT NULL DEFAULT '',
  name           TEXT NOT NULL DEFAULT '',
  content_type   TEXT NOT NULL DEFAULT '',
  size           INTEGER NOT NULL,
  sha256         TEXT NOT NULL DEFAULT '',
  md5            TEXT NOT NULL DEFAULT '',
  qetag          TEXT NOT NULL DEFAULT '',
  locator        TEXT NOT NULL,
  state          TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER,
  transaction_id TEXT NOT NULL DEFAULT '',
  owner          TEXT NOT NULL DEFAULT '',
  meta_json      TEXT NOT NULL DEFAULT '{}'
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
  tenant_id  TEXT NOT NULL,
  app_id     TEXT NOT NULL,
  id         TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, app_id, id)
) WITHOUT ROWID;
CREATE INDEX transactions_expiry ON transactions(expires_at);

CREATE TABLE used_grants (
  grant_id   TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX used_grants_expiry ON used_grants(expires_at);

CREATE TABLE usage (
  tenant_id TEXT NOT NULL,
  app_id    TEXT NOT NULL,
  bytes     INTEGER NOT NULL DEFAULT 0,
  objects   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, app_id)
) WITHOUT ROWID;
)sql";

// v2: records (core/records.h) and which object each record binds.
// - seq is per form and never reused: record_sequences remembers the last one
//   given out, so a deleted record's number does not come back (kintone ids).
// - record_files holds each binding; object_id is unique, so an object is bound
//   to at most one record; position keeps the order of a record's files.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE records (
  tenant_id  TEXT NOT NULL,
  app_id     TEXT NOT NULL,
  form_id    TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  id         TEXT NOT NULL,
  revision   INTEGER NOT NULL,
  data_json  TEXT NOT NULL,
  batch_key  TEXT NOT NULL DEFAULT '',
  creator    TEXT NOT NULL DEFAULT '',
  updater    TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, app_id, form_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX records_id ON records(tenant_id, app_id, form_id, id);
CREATE INDEX records_batch ON records(tenant_id, app_id, form_id, batch_key)
  WHERE batch_key <> '';

CREATE TABLE record_sequences (
  tenant_id TEXT NOT NULL,
  app_id    TEXT NOT NULL,
  form_id   TEXT NOT NULL,
  last_seq  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, app_id, form_id)
) WITHOUT ROWID;

CREATE TABLE record_files (
  tenant_id TEXT NOT NULL,
  app_id    TEXT NOT NULL,
  form_id   TEXT NOT NULL,
  record_id TEXT NOT NULL,
  position  INTEGER NOT NULL,
  object_id TEXT NOT NULL,
  PRIMARY KEY (tenant_id, app_id, form_id, record_id, position)
) WITHOUT ROWID;
CREATE UNIQUE INDEX record_files_object ON record_files(object_id);
)sql";

// v3: kintone cursors (core/cursors.h), as PostgreSQL's v3. Rate windows and
// the sweeper's lease, PostgreSQL's other v3 tables, stay in the process here:
// one process owns a SQLite file (meta/local_state.h).
constexpr std::string_view kV3 = R"sql(
CREATE TABLE cursors (
  tenant_id  TEXT NOT NULL,
  id         TEXT NOT NULL,
  owner      TEXT NOT NULL,
  app_id     TEXT NOT NULL,
  state      TEXT NOT NULL,
  position   INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX cursors_expiry ON cursors(expires_at);
)sql";

// v4 (as PostgreSQL's v4; migrate-meta needs the two at one version): a
// resumable upload's pieces, listed by key prefix (core/resumable.h), get an
// index of their own, so the listing never scans an app's other keys.
constexpr std::string_view kV4 = R"sql(
CREATE INDEX objects_piece_key ON objects(tenant_id, app_id, key)
  WHERE key LIKE '//%' AND state <> 'deleted';
)sql";

constexpr Migration kMigrations[] = {
    {1, kV1},
    {2, kV2},
    {3, kV3},
    {4, kV4},
};

Error db_error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db);
  return Error{(rc & 0xff) == SQLITE_FULL ? Errc::kDiskFull : Errc::kMetaIo, std::move(msg)};
}

Status exec(sqlite3* db, const std::string& sql, std::string_view what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return ok();
  std::string msg = std::string(what) + ": " + (err ? err : sqlite3_errstr(rc));
  sqlite3_free(err);
  return fail(Error{(rc & 0xff) == SQLITE_FULL ? Errc::kDiskFull : Errc::kMetaIo, std::move(msg)});
}

// MAX(version) recorded, 0 for a fresh file.
Result<int> recorded_version(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                              &stmt, nullptr);
  if (rc != SQLITE_OK) return fail(db_error(db, rc, "read schema version"));
  rc = sqlite3_step(stmt);
  int version = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
  if (rc != SQLITE_ROW) {
    Error e = db_error(db, rc, "read schema version");
    sqlite3_finalize(stmt);
    return fail(std::move(e));
  }
  sqlite3_finalize(stmt);
  return version;
}

// Applies one step unless it is already recorded. Reads the version inside the
// write transaction, so a concurrent opener cannot apply the same step twice.
Status apply_step(sqlite3* db, const Migration& m, UnixMs now) {
  UP_TRY(exec(db, "BEGIN IMMEDIATE", "begin migration"));
  auto body = [&]() -> Status {
    auto current = recorded_version(db);
    if (!current) return fail(std::move(current.error()));
    if (*current >= m.version) return ok();
    UP_TRY(exec(db, std::string(m.sql), "migration " + std::to_string(m.version)));
    UP_TRY(exec(db,
                "INSERT INTO schema_migrations(version, applied_at) VALUES(" +
                    std::to_string(m.version) + ", " + std::to_string(now) + ")",
                "record migration"));
    return ok();
  };
  if (auto r = body(); !r) {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return r;
  }
  if (auto r = exec(db, "COMMIT", "commit migration"); !r) {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return r;
  }
  return ok();
}

}  // namespace

std::span<const Migration> sqlite_migrations() { return kMigrations; }

Status apply_migrations(sqlite3* db, std::span<const Migration> steps, UnixMs now) {
  UP_TRY(exec(db,
              "CREATE TABLE IF NOT EXISTS schema_migrations ("
              "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
              "create schema_migrations"));
  auto current = recorded_version(db);
  if (!current) return fail(std::move(current.error()));
  return apply_newer_steps(*current, steps,
                           [&](const Migration& m) { return apply_step(db, m, now); });
}

}  // namespace up::meta
