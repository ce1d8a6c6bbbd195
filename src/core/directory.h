#pragma once
// Tenants and apps, with a short-lived read cache so the request path does not
// hit the metadata store for them on every request.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/types.h"

namespace up::meta {
class MetaStore;
}

namespace up::core {

// The effective limits for uploads into one app: app value, else tenant value,
// else the server default.
struct EffectiveQuota {
  uint64_t max_object_bytes = 0;
  std::optional<uint64_t> app_max_bytes, app_max_objects;
  std::optional<uint64_t> tenant_max_bytes, tenant_max_objects;
};

// Thread-safe. Every call may block on the metadata store.
class Directory {
 public:
  static constexpr const char* kDefaultTenant = "default";
  static constexpr const char* kDefaultApp = "default";

  Directory(meta::MetaStore& meta, const Clock& clock, uint64_t default_max_object_bytes);

  // Creates a tenant with its "default" app. kAlreadyExists if the id is taken.
  Result<Tenant> create_tenant(std::string id, std::string name);
  Result<Tenant> tenant(std::string_view id);  // cached
  Result<std::vector<Tenant>> tenants();
  Status update_tenant(const Tenant& t);

  Result<App> create_app(App app);
  Result<App> app(std::string_view tenant_id, std::string_view app_id);  // cached
  // The app as app() read it within the cache's bound, else empty. Never
  // touches the store: an I/O thread may call it (downloads).
  std::optional<App> app_cached(std::string_view tenant_id, std::string_view app_id);
  Result<std::vector<App>> apps(std::string_view tenant_id);
  Status update_app(const App& a);

  Result<EffectiveQuota> quota_for(std::string_view tenant_id, std::string_view app_id);
  // quota_for() from what the cache holds within its bound (tenant and app),
  // else empty. Never touches the store: an I/O thread may call it (uploads).
  std::optional<EffectiveQuota> quota_cached(std::string_view tenant_id, std::string_view app_id);
  // Whether some tenant allows browser calls from this origin (CORS).
  bool origin_allowed(std::string_view origin);

  uint64_t default_max_object_bytes() const { return default_max_object_bytes_; }

 private:
  void invalidate();

  meta::MetaStore& meta_;
  const Clock& clock_;
  uint64_t default_max_object_bytes_;
  std::mutex mu_;
  struct CachedTenant {
    Tenant value;
    UnixMs at;
  };
  struct CachedApp {
    App value;
    UnixMs at;
  };
  std::map<std::string, CachedTenant, std::less<>> tenants_;
  std::map<std::string, CachedApp, std::less<>> apps_;  // key: tenant + '\0' + app
  std::vector<std::string> origins_;
  UnixMs origins_at_ = -1;
};

}  // namespace up::core
