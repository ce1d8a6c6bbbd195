#include "dialects/jpush/settings.h"

#include "dialects/settings_json.h"

namespace up::dialects::jpush {

Settings parse_settings(std::string_view settings_json) {
  Settings s;
  auto o = settings_object(settings_json);
  if (!o) return s;
  // Real zones span UTC-12 to UTC+14.
  if (auto tz = int_in_range(o->if_contains("time_zone_offset_minutes"), -12 * 60, 14 * 60))
    s.time_zone_offset_minutes = static_cast<int>(*tz);
  if (auto rl = int_in_range(o->if_contains("rate_limit_per_minute"), 1, 1'000'000))
    s.rate_limit_per_minute = static_cast<uint32_t>(*rl);
  return s;
}

}  // namespace up::dialects::jpush
