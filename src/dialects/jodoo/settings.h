#pragma once
// Jodoo settings, read from the opaque settings JSON the core keeps.
//
// App (App::settings_json), one app = one Jodoo app_id:
//   {"entries": {"<entry_id>": {"fields": {"_widget_1": "upload", "_widget_2": "image",
//                                          "_widget_3": "text"}}},
//    "callback_url": "http://host:port/path"}       (optional upload callback)
// Only fields named here exist; "upload" and "image" fields hold file keys.
//
// Tenant (Tenant::settings_json), one tenant = one Jodoo company:
//   {"jodoo": {"fsize_limit": 209715200, "key_version": 1,
//              "rate_limits": {"global": 50, "get_upload_token": 20, "upload": 20, ...}}}
// Absent or malformed members keep the defaults, so a bad setting never takes
// the API down.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace up::dialects::jodoo {

enum class FieldType { kFile, kOther };

struct Entry {
  std::map<std::string, FieldType, std::less<>> fields;
};

struct AppSettings {
  std::map<std::string, Entry, std::less<>> entries;
  std::string callback_url;
};

struct TenantSettings {
  uint64_t fsize_limit = 200ull << 20;  // Jodoo's 200 MiB
  uint32_t key_version = 1;             // bump to rotate the upload-token signing key
  // Requests per second; "global" counts every Jodoo request of the tenant.
  std::map<std::string, uint32_t, std::less<>> rate_limits = {
      {"global", 50},       {"get_upload_token", 20}, {"upload", 20},       {"create", 20},
      {"batch_create", 10}, {"update", 20},           {"batch_update", 10}, {"get", 30},
      {"delete", 20}};
  uint32_t rate_limit(std::string_view api) const;
};

AppSettings parse_app_settings(std::string_view settings_json);
TenantSettings parse_tenant_settings(std::string_view settings_json);

}  // namespace up::dialects::jodoo
