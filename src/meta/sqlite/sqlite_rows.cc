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

Record read_record(const Stmt& st) {
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

}  // namespace up::meta
