#include "dialects/jodoo/keys.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "core/secrets.h"

namespace up::dialects::jodoo {
namespace {

TEST(JodooKeysTest, AccessKeyNamesTenantAndVersion) {
  EXPECT_EQ(access_key("acme", 3), "acme.v3");
  auto ak = parse_access_key("my.v2.team.v17");  // tenant ids may contain ".v"
  ASSERT_TRUE(ak);
  EXPECT_EQ(ak->tenant_id, "my.v2.team");
  EXPECT_EQ(ak->version, 17u);
  for (const char* bad : {"", "acme", ".v1", "acme.v", "acme.vx", "acme.v1234567890", "acme.v-1"})
    EXPECT_FALSE(parse_access_key(bad)) << bad;
}

TEST(JodooKeysTest, SecretKeysDifferByTenantAndVersion) {
  core::Secrets secrets(std::string(32, 'm'));
  EXPECT_EQ(secret_key(secrets, "acme", 1), secret_key(secrets, "acme", 1));
  EXPECT_NE(secret_key(secrets, "acme", 1), secret_key(secrets, "acme", 2));
  EXPECT_NE(secret_key(secrets, "acme", 1), secret_key(secrets, "other", 1));
  // Printable: url-safe base64 of the derived key, no padding.
  EXPECT_EQ(secret_key(secrets, "acme", 1),
            crypto::base64url(secrets.derive("qiniu-sk/acme/v1"), false));
  EXPECT_EQ(secret_key(secrets, "acme", 1).size(), 43u);
}

TEST(JodooKeysTest, PreviousVersionOverlapsOneRotation) {
  EXPECT_TRUE(version_accepted(1, 1));
  EXPECT_TRUE(version_accepted(1, 2));
  EXPECT_TRUE(version_accepted(2, 2));
  EXPECT_FALSE(version_accepted(1, 3));
  EXPECT_FALSE(version_accepted(3, 2));
  EXPECT_FALSE(version_accepted(0, 1));
}

TEST(JodooKeysTest, BucketNamesTheTenantsApp) {
  EXPECT_EQ(bucket_of("acme", "crm"), "acme.crm");
  EXPECT_EQ(app_of_bucket("acme.crm", "acme"), "crm");
  EXPECT_EQ(app_of_bucket("acme.crm.x", "acme"), "crm.x");
  EXPECT_FALSE(app_of_bucket("acme.crm", "other"));
  EXPECT_FALSE(app_of_bucket("acme.", "acme"));
  EXPECT_FALSE(app_of_bucket("acmex.crm", "acme"));
}

}  // namespace
}  // namespace up::dialects::jodoo
