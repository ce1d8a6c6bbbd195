#include "dialects/openim/settings.h"

#include <gtest/gtest.h>

namespace up::dialects::openim {
namespace {

TEST(OpenImSettingsTest, DefaultsAreOpenIms) {
  const Settings s = parse_settings("{}");
  EXPECT_TRUE(s.is_admin("imAdmin"));
  EXPECT_FALSE(s.is_admin("u1"));
  EXPECT_EQ(s.bucket, "openim");
  EXPECT_EQ(s.region, "us-east-1");
  EXPECT_EQ(s.token_expire_days, 90);
  EXPECT_FALSE(s.form_data_direct);
}

TEST(OpenImSettingsTest, ValidValuesApplyBadOnesKeepDefaults) {
  Settings s = parse_settings(
      R"({"admin_user_ids":["root","ops"],"bucket":"media.prod","region":"eu-west-1","token_expire_days":7})");
  EXPECT_TRUE(s.is_admin("ops"));
  EXPECT_FALSE(s.is_admin("imAdmin"));
  EXPECT_EQ(s.bucket, "media.prod");
  EXPECT_EQ(s.region, "eu-west-1");
  EXPECT_EQ(s.token_expire_days, 7);
  s = parse_settings(R"({"bucket":"Bad/Bucket","region":"a\"b","token_expire_days":0})");
  EXPECT_EQ(s.bucket, "openim");
  EXPECT_EQ(s.region, "us-east-1");
  EXPECT_EQ(s.token_expire_days, 90);
  EXPECT_EQ(parse_settings("not json").bucket, "openim");
  EXPECT_TRUE(parse_settings(R"({"form_data_direct":true})").form_data_direct);
  EXPECT_FALSE(parse_settings(R"({"form_data_direct":"yes"})").form_data_direct);
}

}  // namespace
}  // namespace up::dialects::openim
