#include "core/directory.h"

#include <algorithm>

#include "meta/meta_store.h"

namespace up::core {
namespace {

// Tenants and apps change rarely; a stale read for this long is acceptable
// (limits and CORS origins take effect within it in other processes).
constexpr UnixMs kCacheMs = 5000;

std::string app_cache_key(std::string_view tenant_id, std::string_view app_id) {
  std::string k(tenant_id);
  k.push_back('\0');
  k.append(app_id);
  return k;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  // "." and ".." would read as path segments in every URL that names the id.
  if (id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

EffectiveQuota effective_quota(const Tenant& t, const App& a, uint64_t default_max_object_bytes) {
  EffectiveQuota q;
  q.max_object_bytes = a.quota.max_object_bytes.value_or(
      t.quota.max_object_bytes.value_or(default_max_object_bytes));
  q.app_max_bytes = a.quota.max_bytes;
  q.app_max_objects = a.quota.max_objects;
  q.tenant_max_bytes = t.quota.max_bytes;
  q.tenant_max_objects = t.quota.max_objects;
  return q;
}

}  // namespace

Directory::Directory(meta::MetaStore& meta, const Clock& clock, uint64_t default_max_object_bytes)
    : meta_(meta), clock_(clock), default_max_object_bytes_(default_max_object_bytes) {}

Result<Tenant> Directory::create_tenant(std::string id, std::string name) {
  if (!valid_id(id))
    return fail(Errc::kBadName, "tenant id must be 1-64 of [A-Za-z0-9._-], not . or ..");
  Tenant t;
  t.id = std::move(id);
  t.name = name.empty() ? t.id : std::move(name);
  t.created_at = clock_.now();
  UP_TRY(meta_.create_tenant(t));
  App a;
  a.tenant_id = t.id;
  a.id = kDefaultApp;
  a.name = "default";
  a.dialect = "native";
  a.created_at = t.created_at;
  UP_TRY(meta_.create_app(a));
  invalidate();
  return t;
}

Result<Tenant> Directory::tenant(std::string_view id) {
  const UnixMs now = clock_.now();
  {
    std::lock_guard lock(mu_);
    if (auto it = tenants_.find(id); it != tenants_.end() && now - it->second.at < kCacheMs)
      return it->second.value;
  }
  auto t = meta_.get_tenant(id);
  if (!t) return t;
  std::lock_guard lock(mu_);
  tenants_.insert_or_assign(std::string(id), CachedTenant{*t, now});
  return t;
}

Result<std::vector<Tenant>> Directory::tenants() { return meta_.list_tenants(); }

Status Directory::update_tenant(const Tenant& t) {
  UP_TRY(meta_.update_tenant(t));
  invalidate();
  return ok();
}

Result<App> Directory::create_app(App app) {
  if (!valid_id(app.id))
    return fail(Errc::kBadName, "app id must be 1-64 of [A-Za-z0-9._-], not . or ..");
  UP_TRY(tenant(app.tenant_id));
  if (app.name.empty()) app.name = app.id;
  if (app.dialect.empty()) app.dialect = "native";
  app.created_at = clock_.now();
  UP_TRY(meta_.create_app(app));
  invalidate();
  return app;
}

Result<App> Directory::app(std::string_view tenant_id, std::string_view app_id) {
  if (auto hit = app_cached(tenant_id, app_id)) return std::move(*hit);
  const UnixMs now = clock_.now();
  auto a = meta_.get_app(tenant_id, app_id);
  if (!a) return a;
  std::lock_guard lock(mu_);
  apps_.insert_or_assign(app_cache_key(tenant_id, app_id), CachedApp{*a, now});
  return a;
}

std::optional<App> Directory::app_cached(std::string_view tenant_id, std::string_view app_id) {
  const UnixMs now = clock_.now();
  const std::string key = app_cache_key(tenant_id, app_id);
  std::lock_guard lock(mu_);
  if (auto it = apps_.find(key); it != apps_.end() && now - it->second.at < kCacheMs)
    return it->second.value;
  return std::nullopt;
}

Result<std::vector<App>> Directory::apps(std::string_view tenant_id) {
  UP_TRY(tenant(tenant_id));  // an unknown tenant is not one without apps
  return meta_.list_apps(tenant_id);
}

Status Directory::update_app(const App& a) {
  UP_TRY(meta_.update_app(a));
  invalidate();
  return ok();
}

Result<EffectiveQuota> Directory::quota_for(std::string_view tenant_id, std::string_view app_id) {
  auto t = tenant(tenant_id);
  if (!t) return fail(t.error());
  auto a = app(tenant_id, app_id);
  if (!a) return fail(a.error());
  return effective_quota(*t, *a, default_max_object_bytes_);
}

std::optional<EffectiveQuota> Directory::quota_cached(std::string_view tenant_id,
                                                      std::string_view app_id) {
  const UnixMs now = clock_.now();
  const std::string key = app_cache_key(tenant_id, app_id);
  std::lock_guard lock(mu_);
  auto t = tenants_.find(tenant_id);
  auto a = apps_.find(key);
  if (t == tenants_.end() || now - t->second.at >= kCacheMs) return std::nullopt;
  if (a == apps_.end() || now - a->second.at >= kCacheMs) return std::nullopt;
  return effective_quota(t->second.value, a->second.value, default_max_object_bytes_);
}

bool Directory::origin_allowed(std::string_view origin) {
  const UnixMs now = clock_.now();
  std::unique_lock lock(mu_);
  if (origins_at_ < 0 || now - origins_at_ >= kCacheMs) {
    lock.unlock();
    std::vector<std::string> origins;
    if (auto all = meta_.list_tenants()) {
      for (auto& t : *all)
        origins.insert(origins.end(), t.cors_origins.begin(), t.cors_origins.end());
    }
    lock.lock();
    origins_ = std::move(origins);
    origins_at_ = now;
  }
  return std::any_of(origins_.begin(), origins_.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
}

void Directory::invalidate() {
  std::lock_guard lock(mu_);
  tenants_.clear();
  apps_.clear();
  origins_at_ = -1;
}

}  // namespace up::core
