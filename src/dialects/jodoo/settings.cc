#include "dialects/jodoo/settings.h"

#include "dialects/settings_json.h"

namespace up::dialects::jodoo {
namespace json = boost::json;

uint32_t TenantSettings::rate_limit(std::string_view api) const {
  auto it = rate_limits.find(api);
  return it == rate_limits.end() ? 20 : it->second;
}

AppSettings parse_app_settings(std::string_view settings_json) {
  AppSettings s;
  const auto o = settings_object(settings_json);
  if (!o) return s;
  if (auto* cb = o->if_contains("callback_url"); cb && cb->is_string())
    s.callback_url = cb->as_string();
  auto* entries = o->if_contains("entries");
  if (!entries || !entries->is_object()) return s;
  for (const auto& [entry_id, entry] : entries->as_object()) {
    Entry e;
    if (entry.is_object()) {
      if (auto* fields = entry.as_object().if_contains("fields"); fields && fields->is_object()) {
        for (const auto& [name, type] : fields->as_object()) {
          const bool file =
              type.is_string() && (type.as_string() == "upload" || type.as_string() == "image");
          e.fields.emplace(std::string(name), file ? FieldType::kFile : FieldType::kOther);
        }
      }
    }
    s.entries.emplace(std::string(entry_id), std::move(e));
  }
  return s;
}

TenantSettings parse_tenant_settings(std::string_view settings_json) {
  TenantSettings s;
  const auto o = settings_object(settings_json);
  if (!o) return s;
  auto* j = o->if_contains("jodoo");
  if (!j || !j->is_object()) return s;
  const json::object& jo = j->as_object();
  // Numbers past INT64_MAX parse as uint64; every maximum here is far below.
  if (auto v = int_in_range(jo.if_contains("fsize_limit"), 1, 1ll << 50))
    s.fsize_limit = static_cast<uint64_t>(*v);
  if (auto v = int_in_range(jo.if_contains("key_version"), 1, 1'000'000))
    s.key_version = static_cast<uint32_t>(*v);
  if (auto* rl = jo.if_contains("rate_limits"); rl && rl->is_object()) {
    for (const auto& [api, limit] : rl->as_object())
      if (auto v = int_in_range(&limit, 1, 10'000'000))
        s.rate_limits[std::string(api)] = static_cast<uint32_t>(*v);
  }
  return s;
}

}  // namespace up::dialects::jodoo
