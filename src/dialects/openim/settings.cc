#include "dialects/openim/settings.h"

#include <algorithm>

#include "dialects/settings_json.h"

namespace up::dialects::openim {

bool Settings::is_admin(std::string_view user_id) const {
  return std::find(admin_user_ids.begin(), admin_user_ids.end(), user_id) != admin_user_ids.end();
}

Settings parse_settings(std::string_view settings_json) {
  Settings s;
  const auto parsed = settings_object(settings_json);
  if (!parsed) return s;
  const boost::json::object& o = *parsed;
  if (auto* ids = o.if_contains("admin_user_ids"); ids && ids->is_array()) {
    std::vector<std::string> list;
    for (const auto& id : ids->as_array())
      if (id.is_string() && !id.as_string().empty()) list.emplace_back(id.as_string());
    s.admin_user_ids = std::move(list);
  }
  // A bucket is one path segment of the form endpoint (S3 naming: 3-63 of [a-z0-9.-]).
  if (auto* b = o.if_contains("bucket"); b && b->is_string()) {
    std::string_view name = b->as_string();
    const bool ok =
        name.size() >= 3 && name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
        });
    if (ok) s.bucket = std::string(name);
  }
  // A region is one segment of the SigV4 credential scope.
  if (auto* r = o.if_contains("region"); r && r->is_string()) {
    std::string_view name = r->as_string();
    const bool ok =
        !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        });
    if (ok) s.region = std::string(name);
  }
  if (auto d = int_in_range(o.if_contains("token_expire_days"), 1, 3650)) s.token_expire_days = *d;
  if (auto e = int_in_range(o.if_contains("access_url_expire_seconds"), 1, 7 * 86400))
    s.access_url_expire_seconds = *e;
  if (auto* d = o.if_contains("form_data_direct"); d && d->is_bool())
    s.form_data_direct = d->as_bool();
  return s;
}

}  // namespace up::dialects::openim
