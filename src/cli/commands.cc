#include "cli/commands.h"

#include <cstdio>
#include <string>

#include <boost/json.hpp>

#include "core/log.h"
#include "core/services.h"
#include "core/text.h"

namespace up::cli {
namespace {

namespace json = boost::json;

void print(const json::object& o) { std::printf("%s\n", json::serialize(o).c_str()); }

void print_tenant(const Tenant& t) {
  print({{"id", t.id}, {"name", t.name}, {"created_at", format_iso8601(t.created_at)}});
}

// Settings are shown without the members a dialect keeps secret.
void print_app(const App& a, const core::SecretSettings& secret) {
  print({{"tenant_id", a.tenant_id},
         {"id", a.id},
         {"name", a.name},
         {"dialect", a.dialect},
         {"settings", json::parse(core::redact_settings(a.settings_json, secret.app))}});
}

void print_key(const ApiKey& k, const std::string& token = {}) {
  json::object o{{"id", k.id},         {"tenant_id", k.tenant_id},
                 {"name", k.name},     {"role", to_string(k.role)},
                 {"app_id", k.app_id}, {"enabled", k.enabled}};
  if (!token.empty()) o["token"] = token;
  print(o);
}

}  // namespace

int report(const Error& e) {
  log::error(e.message + " (code " + std::to_string(static_cast<int>(e.code)) + ")");
  return 1;
}

int tenants_create(core::Services& s, const std::string& id, const std::string& name) {
  auto t = s.directory.create_tenant(id, name);
  if (!t) return report(t.error());
  print_tenant(*t);
  return 0;
}

int tenants_list(core::Services& s) {
  auto all = s.directory.tenants();
  if (!all) return report(all.error());
  for (auto& t : *all) print_tenant(t);
  return 0;
}

int apps_create(core::Services& s, const std::string& tenant, const std::string& id,
                const std::string& name, const std::string& dialect, const std::string& settings) {
  App a;
  if (!settings.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(settings, ec);
    if (ec || !v.is_object())
      return report(Error(Errc::kBadJson, "--settings must be a JSON object"));
    a.settings_json = json::serialize(v);
  }
  a.tenant_id = tenant;
  a.id = id;
  a.name = name;
  a.dialect = dialect;
  auto created = s.directory.create_app(a);
  if (!created) return report(created.error());
  print_app(*created, s.secret_settings);
  return 0;
}

int apps_list(core::Services& s, const std::string& tenant) {
  auto all = s.directory.apps(tenant);
  if (!all) return report(all.error());
  for (auto& a : *all) print_app(a, s.secret_settings);
  return 0;
}

int keys_create(core::Services& s, const std::string& tenant, const std::string& name, bool admin,
                const std::string& app) {
  if (auto t = s.directory.tenant(tenant); !t) return report(t.error());
  if (!app.empty())
    if (auto a = s.directory.app(tenant, app); !a) return report(a.error());
  auto k = s.auth.create_key(tenant, name, admin ? KeyRole::kAdmin : KeyRole::kMember, app);
  if (!k) return report(k.error());
  print_key(k->key, k->token);
  return 0;
}

int keys_list(core::Services& s, const std::string& tenant) {
  auto all = s.auth.list_keys(tenant);
  if (!all) return report(all.error());
  for (auto& k : *all) print_key(k);
  return 0;
}

int keys_set_enabled(core::Services& s, const std::string& key_id, bool enabled) {
  if (auto st = s.auth.set_key_enabled(key_id, enabled); !st) return report(st.error());
  auto k = s.auth.get_key(key_id);
  if (!k) return report(k.error());
  print_key(*k);
  return 0;
}

int keys_delete(core::Services& s, const std::string& key_id) {
  if (auto st = s.auth.delete_key(key_id); !st) return report(st.error());
  print({{"deleted", key_id}});
  return 0;
}

int sweep(core::Services& s, long long orphan_grace_ms) {
  auto st = s.sweeper.sweep();
  if (!st) return report(st.error());
  uint64_t orphans = 0, temps = 0;
  if (orphan_grace_ms >= 0) {
    auto o = s.sweeper.collect_orphans(orphan_grace_ms);
    if (!o) return report(o.error());
    orphans = o->orphan_blobs;
    temps = o->stale_temporaries;
  }
  print({{"expired_objects", st->expired_objects},
         {"purged_objects", st->purged_objects},
         {"expired_transactions", st->expired_transactions},
         {"orphan_blobs", orphans},
         {"stale_temporaries", temps}});
  return 0;
}

}  // namespace up::cli
