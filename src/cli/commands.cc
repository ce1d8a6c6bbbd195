#include "cli/commands.h"

#include <cstdio>
#include <string>

#include "core/services.h"
#include "core/text.h"

namespace up::cli {
namespace {

// Minimal JSON string quoting for the CLI's output.
std::string q(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

int report(const Error& e) {
  std::fprintf(stderr, "upgate: %s (code %d)\n", e.message.c_str(), static_cast<int>(e.code));
  return 1;
}

void print_tenant(const Tenant& t) {
  std::printf("{\"id\":%s,\"name\":%s,\"created_at\":%s}\n", q(t.id).c_str(), q(t.name).c_str(),
              q(format_iso8601(t.created_at)).c_str());
}

void print_app(const App& a) {
  std::printf("{\"tenant_id\":%s,\"id\":%s,\"name\":%s,\"dialect\":%s}\n", q(a.tenant_id).c_str(),
              q(a.id).c_str(), q(a.name).c_str(), q(a.dialect).c_str());
}

void print_key(const ApiKey& k, const std::string& token = {}) {
  std::printf("{\"id\":%s,\"tenant_id\":%s,\"name\":%s,\"role\":%s,\"app_id\":%s,\"enabled\":%s%s}\n",
              q(k.id).c_str(), q(k.tenant_id).c_str(), q(k.name).c_str(), q(to_string(k.role)).c_str(),
              q(k.app_id).c_str(), k.enabled ? "true" : "false",
              token.empty() ? "" : (",\"token\":" + q(token)).c_str());
}

}  // namespace

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
                const std::string& name, const std::string& dialect) {
  App a;
  a.tenant_id = tenant;
  a.id = id;
  a.name = name;
  a.dialect = dialect;
  auto created = s.directory.create_app(a);
  if (!created) return report(created.error());
  print_app(*created);
  return 0;
}

int apps_list(core::Services& s, const std::string& tenant) {
  auto all = s.directory.apps(tenant);
  if (!all) return report(all.error());
  for (auto& a : *all) print_app(a);
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
  std::printf("{\"deleted\":%s}\n", q(key_id).c_str());
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
  std::printf("{\"expired_objects\":%llu,\"purged_objects\":%llu,\"expired_transactions\":%llu,"
              "\"orphan_blobs\":%llu,\"stale_temporaries\":%llu}\n",
              (unsigned long long)st->expired_objects, (unsigned long long)st->purged_objects,
              (unsigned long long)st->expired_transactions, (unsigned long long)orphans,
              (unsigned long long)temps);
  return 0;
}

}  // namespace up::cli
