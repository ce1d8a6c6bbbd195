#include "dialects/jodoo/settings.h"

#include <boost/json.hpp>

namespace up::dialects::jodoo {
namespace {

namespace json = boost::json;

const json::object* parse_object(std::string_view text, json::value& holder) {
  boost::system::error_code ec;
  holder = json::parse(text, ec);
  return !ec && holder.is_object() ? &holder.as_object() : nullptr;
}

std::optional<uint64_t> positive(const json::value* v, uint64_t max) {
  if (!v) return std::nullopt;
  if (v->is_uint64() && v->as_uint64() >= 1 && v->as_uint64() <= max) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 1 && static_cast<uint64_t>(v->as_int64()) <= max)
    return static_cast<uint64_t>(v->as_int64());
  return std::nullopt;
}

}  // namespace

uint32_t TenantSettings::rate_limit(std::string_view api) const {
  auto it = rate_limits.find(api);
  return it == rate_limits.end() ? 20 : it->second;
}

AppSettings parse_app_settings(std::string_view settings_json) {
  AppSettings s;
  json::value holder;
  const json::object* o = parse_object(settings_json, holder);
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
  json::value holder;
  const json::object* o = parse_object(settings_json, holder);
  if (!o) return s;
  auto* j = o->if_contains("jodoo");
  if (!j || !j->is_object()) return s;
  const json::object& jo = j->as_object();
  if (auto v = positive(jo.if_contains("fsize_limit"), 1ull << 50)) s.fsize_limit = *v;
  if (auto v = positive(jo.if_contains("key_version"), 1'000'000))
    s.key_version = static_cast<uint32_t>(*v);
  if (auto* rl = jo.if_contains("rate_limits"); rl && rl->is_object()) {
    for (const auto& [api, limit] : rl->as_object())
      if (auto v = positive(&limit, 10'000'000))
        s.rate_limits[std::string(api)] = static_cast<uint32_t>(*v);
  }
  return s;
}

}  // namespace up::dialects::jodoo
