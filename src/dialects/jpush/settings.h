#pragma once
// Per-app JPush settings, read from App::settings_json (opaque to the core):
//   {"time_zone_offset_minutes": 480, "rate_limit_per_minute": 20}
// Absent, malformed or out-of-range members keep the vendor's defaults, so a bad
// setting never takes an app's file API down.

#include <cstdint>
#include <string_view>

namespace up::dialects::jpush {

struct Settings {
  int time_zone_offset_minutes = 480;  // create_time/expire_time are shown in UTC+8 like JPush
  uint32_t rate_limit_per_minute = 20;
};

Settings parse_settings(std::string_view settings_json);

}  // namespace up::dialects::jpush
