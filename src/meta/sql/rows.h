#pragma once
// Rows of the metadata schema (sqlite/migrations.cc, postgres/pg_migrations.cc:
// the same tables and columns in two dialects) to core types: the column lists
// every whole-row query selects, and the readers that take the columns in that
// order. A reader works on any row type with read(...) and col<T>(i)
// (ColumnReader: SQLite's Stmt, PostgreSQL's PgRow).

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace up::meta {

#define UP_META_OBJECT_COLUMNS                                                                 \
  "id, tenant_id, app_id, key, name, content_type, size, sha256, md5, qetag, locator, state, " \
  "created_at, expires_at, transaction_id, owner, meta_json"
#define UP_META_RECORD_COLUMNS                                                              \
  "tenant_id, app_id, form_id, seq, id, revision, data_json, batch_key, creator, updater, " \
  "created_at, updated_at"
#define UP_META_TENANT_COLUMNS \
  "id, name, max_bytes, max_objects, max_object_bytes, cors_origins, settings_json, created_at"
#define UP_META_APP_COLUMNS                                                                 \
  "tenant_id, id, name, dialect, max_bytes, max_objects, max_object_bytes, settings_json, " \
  "created_at"
#define UP_META_KEY_COLUMNS "id, tenant_id, name, role, app_id, secret_sha256, enabled, created_at"
#define UP_META_TRANSACTION_COLUMNS "tenant_id, app_id, id, created_at, expires_at"

// cors_origins is stored newline-joined (an origin never contains a newline).
inline std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += '\n';
    out += v[i];
  }
  return out;
}

inline std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    out.emplace_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

template <class Row>
Tenant read_tenant(const Row& row) {
  Tenant t;
  std::string cors;
  row.read(t.id, t.name, t.quota.max_bytes, t.quota.max_objects, t.quota.max_object_bytes, cors,
           t.settings_json, t.created_at);
  t.cors_origins = split_lines(cors);
  return t;
}

template <class Row>
App read_app(const Row& row) {
  App a;
  row.read(a.tenant_id, a.id, a.name, a.dialect, a.quota.max_bytes, a.quota.max_objects,
           a.quota.max_object_bytes, a.settings_json, a.created_at);
  return a;
}

template <class Row>
ApiKey read_key(const Row& row) {
  ApiKey k;
  std::string role;
  row.read(k.id, k.tenant_id, k.name, role, k.app_id, k.secret_sha256, k.enabled, k.created_at);
  k.role = role == "admin" ? KeyRole::kAdmin : KeyRole::kMember;
  return k;
}

// kMetaIo for a state the schema does not know.
template <class Row>
Result<Object> read_object(const Row& row) {
  Object o;
  std::string state;
  row.read(o.id, o.tenant_id, o.app_id, o.key, o.name, o.content_type, o.size, o.sha256, o.md5,
           o.qetag, o.locator, state, o.created_at, o.expires_at, o.transaction_id, o.owner,
           o.meta_json);
  auto known = object_state_from(state);
  if (!known) return fail(Errc::kMetaIo, "object " + o.id + " has an unknown state");
  o.state = *known;
  return o;
}

// Without file_ids (they are rows of record_files).
template <class Row>
Record read_record(const Row& row) {
  Record r;
  row.read(r.tenant_id, r.app_id, r.form_id, r.seq, r.id, r.revision, r.data_json, r.batch_key,
           r.creator, r.updater, r.created_at, r.updated_at);
  return r;
}

template <class Row>
Transaction read_transaction(const Row& row) {
  Transaction t;
  row.read(t.tenant_id, t.app_id, t.id, t.created_at, t.expires_at);
  return t;
}

}  // namespace up::meta
