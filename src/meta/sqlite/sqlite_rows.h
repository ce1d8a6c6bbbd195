#pragma once
// Rows of the SQLite schema (migrations.cc) to core types and back: the column
// lists every whole-row query selects, and the readers that take the columns
// in that order.

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "meta/sqlite/sqlite_db.h"

namespace up::meta {

#define UP_SQLITE_OBJECT_COLUMNS                                                               \
  "id, tenant_id, app_id, key, name, content_type, size, sha256, md5, qetag, locator, state, " \
  "created_at, expires_at, transaction_id, owner, meta_json"
#define UP_SQLITE_RECORD_COLUMNS                                                            \
  "tenant_id, app_id, form_id, seq, id, revision, data_json, batch_key, creator, updater, " \
  "created_at, updated_at"
#define UP_SQLITE_TENANT_COLUMNS \
  "id, name, max_bytes, max_objects, max_object_bytes, cors_origins, settings_json, created_at"
#define UP_SQLITE_APP_COLUMNS                                                               \
  "tenant_id, id, name, dialect, max_bytes, max_objects, max_object_bytes, settings_json, " \
  "created_at"
#define UP_SQLITE_KEY_COLUMNS \
  "id, tenant_id, name, role, app_id, secret_sha256, enabled, created_at"
#define UP_SQLITE_TRANSACTION_COLUMNS "tenant_id, app_id, id, created_at, expires_at"

Tenant read_tenant(const Stmt& st);
App read_app(const Stmt& st);
ApiKey read_key(const Stmt& st);
// kMetaIo for a state the schema does not know.
Result<Object> read_object(const Stmt& st);
Record read_record(const Stmt& st);  // without file_ids (record_files)
Transaction read_transaction(const Stmt& st);

// cors_origins is stored newline-joined (an origin never contains a newline).
std::string join_lines(const std::vector<std::string>& v);
std::vector<std::string> split_lines(std::string_view s);

}  // namespace up::meta
