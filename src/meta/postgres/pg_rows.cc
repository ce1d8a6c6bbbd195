#include "meta/postgres/pg_rows.h"

#include <string>

namespace up::meta {

std::string join_origins(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += '\n';
    out += v[i];
  }
  return out;
}

std::vector<std::string> split_origins(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    out.emplace_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

Tenant pg_read_tenant(const PgRow& r) {
  Tenant t;
  std::string cors;
  r.read(t.id, t.name, t.quota.max_bytes, t.quota.max_objects, t.quota.max_object_bytes, cors,
         t.settings_json, t.created_at);
  t.cors_origins = split_origins(cors);
  return t;
}

App pg_read_app(const PgRow& r) {
  App a;
  r.read(a.tenant_id, a.id, a.name, a.dialect, a.quota.max_bytes, a.quota.max_objects,
         a.quota.max_object_bytes, a.settings_json, a.created_at);
  return a;
}

ApiKey pg_read_key(const PgRow& r) {
  ApiKey k;
  std::string role;
  r.read(k.id, k.tenant_id, k.name, role, k.app_id, k.secret_sha256, k.enabled, k.created_at);
  k.role = role == "admin" ? KeyRole::kAdmin : KeyRole::kMember;
  return k;
}

Result<Object> pg_read_object(const PgRow& r) {
  Object o;
  std::string state;
  r.read(o.id, o.tenant_id, o.app_id, o.key, o.name, o.content_type, o.size, o.sha256, o.md5,
         o.qetag, o.locator, state, o.created_at, o.expires_at, o.transaction_id, o.owner,
         o.meta_json);
  auto known = object_state_from(state);
  if (!known) return fail(Errc::kMetaIo, "object " + o.id + " has an unknown state");
  o.state = *known;
  return o;
}

Record pg_read_record(const PgRow& r) {
  Record rec;
  r.read(rec.tenant_id, rec.app_id, rec.form_id, rec.seq, rec.id, rec.revision, rec.data_json,
         rec.batch_key, rec.creator, rec.updater, rec.created_at, rec.updated_at);
  return rec;
}

Transaction pg_read_transaction(const PgRow& r) {
  Transaction t;
  r.read(t.tenant_id, t.app_id, t.id, t.created_at, t.expires_at);
  return t;
}

}  // namespace up::meta
