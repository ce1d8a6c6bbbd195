#include "dialects/jpush/settings.h"

#include <gtest/gtest.h>

namespace up::dialects::jpush {
namespace {

TEST(JPushSettingsTest, DefaultsAreBeijingTimeAnd20PerMinute) {
  for (const char* json : {"{}", "", "not json", "[]", R"({"rate_limit_per_minute":"5"})"}) {
    Settings s = parse_settings(json);
    EXPECT_EQ(s.time_zone_offset_minutes, 480) << json;
    EXPECT_EQ(s.rate_limit_per_minute, 20u) << json;
  }
}

TEST(JPushSettingsTest, ReadsValidOverridesAndIgnoresOutOfRange) {
  Settings s = parse_settings(R"({"time_zone_offset_minutes":-300,"rate_limit_per_minute":600})");
  EXPECT_EQ(s.time_zone_offset_minutes, -300);
  EXPECT_EQ(s.rate_limit_per_minute, 600u);
  s = parse_settings(R"({"time_zone_offset_minutes":0,"rate_limit_per_minute":0})");
  EXPECT_EQ(s.time_zone_offset_minutes, 0);
  EXPECT_EQ(s.rate_limit_per_minute, 20u);
  s = parse_settings(R"({"time_zone_offset_minutes":5000})");
  EXPECT_EQ(s.time_zone_offset_minutes, 480);
}

}  // namespace
}  // namespace up::dialects::jpush
