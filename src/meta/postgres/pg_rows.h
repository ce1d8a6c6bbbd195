#pragma once
// Rows of the PostgreSQL schema (pg_migrations.cc) to core types: the column
// lists every whole-row query selects, and the readers that take the columns
// in that order. The lists are SQLite's (meta/sqlite/sqlite_rows.h).

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "meta/postgres/pg_conn.h"

namespace up::meta {

#define UP_PG_OBJECT_COLUMNS                                                                   \
  "id, tenant_id, app_id, key, name, content_type, size, sha256, md5, qetag, locator, state, " \
  "created_at, expires_at, transaction_id, owner, meta_json"
#define UP_PG_RECORD_COLUMNS                                                                \
  "tenant_id, app_id, form_id, seq, id, revision, data_json, batch_key, creator, updater, " \
  "created_at, updated_at"
#define UP_PG_TENANT_COLUMNS \
  "id, name, max_bytes, max_objects, max_object_bytes, cors_origins, settings_json, created_at"
#define UP_PG_APP_COLUMNS                                                                   \
  "tenant_id, id, name, dialect, max_bytes, max_objects, max_object_bytes, settings_json, " \
  "created_at"
#define UP_PG_KEY_COLUMNS "id, tenant_id, name, role, app_id, secret_sha256, enabled, created_at"
#define UP_PG_TRANSACTION_COLUMNS "tenant_id, app_id, id, created_at, expires_at"

Tenant pg_read_tenant(const PgRow& r);
App pg_read_app(const PgRow& r);
ApiKey pg_read_key(const PgRow& r);
// kMetaIo for a state the schema does not know.
Result<Object> pg_read_object(const PgRow& r);
Record pg_read_record(const PgRow& r);  // without file_ids (record_files)
Transaction pg_read_transaction(const PgRow& r);

// cors_origins is stored newline-joined, as in SQLite (an origin never
// contains a newline). Kept here so this backend does not link SQLite's.
std::string join_origins(const std::vector<std::string>& v);
std::vector<std::string> split_origins(std::string_view s);

}  // namespace up::meta
