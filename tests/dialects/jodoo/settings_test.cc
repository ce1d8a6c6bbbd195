#include "dialects/jodoo/settings.h"

#include <gtest/gtest.h>

namespace up::dialects::jodoo {
namespace {

TEST(JodooSettingsTest, ReadsEntriesAndFileFields) {
  auto s = parse_app_settings(
      R"({"entries":{"e1":{"fields":{"_widget_1":"upload","_widget_2":"image","_widget_3":"text"}},"e2":{}},"callback_url":"http://127.0.0.1:9/cb"})");
  ASSERT_EQ(s.entries.size(), 2u);
  const Entry& e1 = s.entries.at("e1");
  EXPECT_EQ(e1.fields.at("_widget_1"), FieldType::kFile);
  EXPECT_EQ(e1.fields.at("_widget_2"), FieldType::kFile);
  EXPECT_EQ(e1.fields.at("_widget_3"), FieldType::kOther);
  EXPECT_TRUE(s.entries.at("e2").fields.empty());
  EXPECT_EQ(s.callback_url, "http://127.0.0.1:9/cb");
  for (const char* bad : {"", "[]", "nope", R"({"entries":[1]})"})
    EXPECT_TRUE(parse_app_settings(bad).entries.empty());
}

TEST(JodooSettingsTest, TenantDefaultsAndOverrides) {
  TenantSettings d = parse_tenant_settings("{}");
  EXPECT_EQ(d.fsize_limit, 200ull << 20);
  EXPECT_EQ(d.key_version, 1u);
  EXPECT_EQ(d.rate_limit("global"), 50u);
  EXPECT_EQ(d.rate_limit("get_upload_token"), 20u);
  EXPECT_EQ(d.rate_limit("batch_create"), 10u);
  TenantSettings s = parse_tenant_settings(
      R"({"jodoo":{"fsize_limit":1024,"key_version":2,"rate_limits":{"global":100000,"upload":0,"get":"x"}}})");
  EXPECT_EQ(s.fsize_limit, 1024u);
  EXPECT_EQ(s.key_version, 2u);
  EXPECT_EQ(s.rate_limit("global"), 100000u);
  EXPECT_EQ(s.rate_limit("upload"), 20u);  // 0 is not a limit: ignored
  EXPECT_EQ(s.rate_limit("get"), 30u);
  EXPECT_EQ(parse_tenant_settings(R"({"jodoo":{"fsize_limit":-5}})").fsize_limit, 200ull << 20);
}

}  // namespace
}  // namespace up::dialects::jodoo
