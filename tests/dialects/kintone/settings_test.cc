#include "dialects/kintone/settings.h"

#include <gtest/gtest.h>

#include "dialects/kintone/auth.h"

namespace up::dialects::kintone {
namespace {

TEST(KintoneSettingsTest, AppSettings) {
  auto s = parse_app_settings(
      R"({"fields": [{"code": "title", "type": "SINGLE_LINE_TEXT", "required": true},
      {"code": "file", "type": "FILE", "label": "Attachment"}, {"code": "$id", "type": "X"}, {"code": "title", "type": "NUMBER"},
      {"type": "FILE"}, 7],
      "guest_space_id": 5, "api_tokens": {"k1": ["view", "add"], "k2": ["fly"]}, "users": {"alice": ["view"]},
      "upload_ttl_hours": 24})");
  ASSERT_EQ(s.fields.size(), 2u);
  EXPECT_EQ(s.fields[0].label, "title");
  EXPECT_TRUE(s.fields[0].required);
  EXPECT_EQ(s.field("file")->label, "Attachment");
  EXPECT_EQ(s.guest_space_id, "5");
  EXPECT_TRUE(s.token_permissions("k1").add);
  EXPECT_FALSE(s.token_permissions("k1").edit);
  EXPECT_TRUE(s.token_permissions("k2").view);  // unparsable entry: view only
  EXPECT_FALSE(s.token_permissions("k2").add);
  EXPECT_TRUE(s.user_permissions("alice").view);
  EXPECT_FALSE(s.user_permissions("alice").add);
  EXPECT_FALSE(s.user_permissions("bob").view);
  EXPECT_EQ(s.upload_ttl_hours, 24u);
}

TEST(KintoneSettingsTest, NoUsersMemberMeansEveryUserMayDoAll) {
  auto s = parse_app_settings("not json");
  EXPECT_TRUE(s.fields.empty());
  EXPECT_TRUE(s.user_permissions("anyone").remove);
}

TEST(KintoneSettingsTest, TenantUsersAndSpaces) {
  const UserCredential c = make_user_credential("s3cret", 1000);
  const std::string json = R"({"kintone": {"users": {"alice": {"salt": ")" + c.salt_hex +
                           R"(", "iterations": 1000, "pbkdf2_sha256": ")" + c.hash_hex +
                           R"("}, "broken": {"salt": "x"}}, "guest_spaces": {"5": ["alice", 3]}}})";
  auto t = parse_tenant_settings(json);
  ASSERT_EQ(t.users.size(), 1u);
  EXPECT_EQ(pbkdf2_sha256_hex("s3cret", t.users.at("alice").salt_hex, 1000), c.hash_hex);
  EXPECT_NE(pbkdf2_sha256_hex("s3cret!", t.users.at("alice").salt_hex, 1000), c.hash_hex);
  ASSERT_EQ(t.guest_spaces.at("5").size(), 1u);
}

TEST(KintoneSettingsTest, Pbkdf2KnownAnswer) {
  // RFC 7914 §11 test vector for PBKDF2-HMAC-SHA256 ("passwd", "salt", c=1), first 32 bytes.
  EXPECT_EQ(pbkdf2_sha256_hex("passwd", "salt", 1),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
}

}  // namespace
}  // namespace up::dialects::kintone
