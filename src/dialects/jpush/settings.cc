#include "dialects/jpush/settings.h"

#include <boost/json.hpp>

namespace up::dialects::jpush {

Settings parse_settings(std::string_view settings_json) {
  Settings s;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(settings_json, ec);
  if (ec || !v.is_object()) return s;
  const auto& o = v.as_object();
  if (auto* tz = o.if_contains("time_zone_offset_minutes"); tz && tz->is_int64()) {
    // Real zones span UTC-12 to UTC+14.
    if (tz->as_int64() >= -12 * 60 && tz->as_int64() <= 14 * 60)
      s.time_zone_offset_minutes = static_cast<int>(tz->as_int64());
  }
  if (auto* rl = o.if_contains("rate_limit_per_minute"); rl && rl->is_int64()) {
    if (rl->as_int64() >= 1 && rl->as_int64() <= 1'000'000)
      s.rate_limit_per_minute = static_cast<uint32_t>(rl->as_int64());
  }
  return s;
}

}  // namespace up::dialects::jpush
