#include "meta/sqlite/sqlite_rows.h"

namespace up::meta {

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
  std::string cors;
  st.read(t.id, t.name, t.quota.max_bytes, t.quota.max_objects, t.quota.max_object_bytes, cors,
          t.settings_json, t.created_at);
  t.cors_origins = split_lines(cors);
  return t;
}

App read_app(const Stmt& st) {
  App a;
  st.read(a.tenant_id, a.id, a.name, a.dialect, a.quota.max_bytes, a.quota.max_objects,
          a.quota.max_object_bytes, a.settings_json, a.created_at);
  return a;
}

ApiKey read_key(const Stmt& st) {
  ApiKey k;
  std::string role;
  st.read(k.id, k.tenant_id, k.name, role, k.app_id, k.secret_sha256, k.enabled, k.created_at);
  k.role = role == "admin" ? KeyRole::kAdmin : KeyRole::kMember;
  return k;
}

Result<Object> read_object(const Stmt& st) {
  Object o;
  std::string state;
  st.read(o.id, o.tenant_id, o.app_id, o.key, o.name, o.content_type, o.size, o.sha256, o.md5,
          o.qetag, o.locator, state, o.created_at, o.expires_at, o.transaction_id, o.owner,
          o.meta_json);
  auto known = object_state_from(state);
  if (!known) return fail(Errc::kMetaIo, "object " + o.id + " has an unknown state");
  o.state = *known;
  return o;
}

Record read_record(const Stmt& st) {
  Record r;
  st.read(r.tenant_id, r.app_id, r.form_id, r.seq, r.id, r.revision, r.data_json, r.batch_key,
          r.creator, r.updater, r.created_at, r.updated_at);
  return r;
}

Transaction read_transaction(const Stmt& st) {
  Transaction t;
  st.read(t.tenant_id, t.app_id, t.id, t.created_at, t.expires_at);
  return t;
}

}  // namespace up::meta
