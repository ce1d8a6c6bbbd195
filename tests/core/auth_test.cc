#include "core/auth.h"

#include <gtest/gtest.h>

#include "core/fixture.h"

namespace up::core {
namespace {

class AuthServiceTest : public ::testing::Test, protected testing::CoreFixture {};

TEST_F(AuthServiceTest, CreatedKeyAuthenticatesAndSecretIsNotStored) {
  auto k = auth.create_key("t1", "uploader", KeyRole::kMember);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->token.rfind("upk_", 0), 0u);
  EXPECT_EQ(k->key.secret_sha256.size(), 64u);
  EXPECT_EQ(k->key.secret_sha256.find(k->token), std::string::npos);
  auto p = auth.authenticate(k->token);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->tenant_id, "t1");
  EXPECT_FALSE(p->is_admin());
  EXPECT_FALSE(p->is_root());
}

TEST_F(AuthServiceTest, WrongTokensAreRefused) {
  auto k = auth.create_key("t1", "uploader", KeyRole::kMember);
  ASSERT_TRUE(k);
  std::string wrong = k->token;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(auth.authenticate(wrong).error().code, Errc::kUnauthenticated);
  EXPECT_EQ(auth.authenticate("").error().code, Errc::kUnauthenticated);
  EXPECT_EQ(auth.authenticate("short").error().code, Errc::kUnauthenticated);
  EXPECT_EQ(auth.authenticate(std::string(300, 'a')).error().code, Errc::kUnauthenticated);
}

TEST_F(AuthServiceTest, DisableEnableDeleteTakeEffectAtOnce) {
  auto k = auth.create_key("t1", "uploader", KeyRole::kMember);
  ASSERT_TRUE(auth.authenticate(k->token));  // now cached
  ASSERT_TRUE(auth.set_key_enabled(k->key.id, false));
  EXPECT_EQ(auth.authenticate(k->token).error().code, Errc::kKeyDisabled);
  ASSERT_TRUE(auth.set_key_enabled(k->key.id, true));
  EXPECT_TRUE(auth.authenticate(k->token));
  ASSERT_TRUE(auth.delete_key(k->key.id));
  EXPECT_EQ(auth.authenticate(k->token).error().code, Errc::kUnauthenticated);
}

TEST_F(AuthServiceTest, CachedAnswersOnlyForKeysVerifiedWithinTheCacheTime) {
  auto k = auth.create_key("t1", "uploader", KeyRole::kMember);
  ASSERT_TRUE(k);
  EXPECT_FALSE(auth.authenticate_cached(k->token));  // never verified: ask the store
  auto bad = auth.authenticate_cached("short");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->error().code, Errc::kUnauthenticated);
  ASSERT_TRUE(auth.authenticate(k->token));
  auto hit = auth.authenticate_cached(k->token);
  ASSERT_TRUE(hit);
  ASSERT_TRUE(*hit);
  EXPECT_EQ((*hit)->key_id, k->key.id);
  std::string wrong = k->token;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(auth.authenticate_cached(wrong));  // another token, another key id: a miss
  clock.advance(AuthService::kCacheMs);
  EXPECT_FALSE(auth.authenticate_cached(k->token));  // stale: ask the store again
}

// A verified key is remembered per thread by its token; a token differing in
// any one byte (in a whole word or in the tail past the last word) is not
// taken for it, wherever it is remembered.
TEST_F(AuthServiceTest, TokensDifferingInAnyByteAreNotTakenForACachedKey) {
  auto k = auth.create_key("t1", "uploader", KeyRole::kMember);
  ASSERT_TRUE(k);
  for (size_t at = 0; at < k->token.size(); ++at) {
    for (char c : {'0', 'z'}) {
      std::string wrong = k->token;
      if (wrong[at] == c) continue;
      wrong[at] = c;
      ASSERT_TRUE(auth.authenticate(k->token));  // the right one remembered and cached again
      auto p = auth.authenticate(wrong);
      ASSERT_FALSE(p) << "byte " << at << " changed to " << c;
      EXPECT_EQ(p.error().code, Errc::kUnauthenticated);
    }
  }
  std::string longer = k->token + "0";
  ASSERT_TRUE(auth.authenticate(k->token));
  EXPECT_FALSE(auth.authenticate(longer));
}

TEST_F(AuthServiceTest, EnsureKeyIsIdempotentAndRootIsDefaultTenantAdmin) {
  ASSERT_TRUE(directory.create_tenant("default", "default"));
  const std::string token = "my-bootstrap-key-0123456789";
  auto a = auth.ensure_key("default", token, "bootstrap", KeyRole::kAdmin);
  auto b = auth.ensure_key("default", token, "bootstrap", KeyRole::kAdmin);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->id, b->id);
  auto p = auth.authenticate(token);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is_root());
  EXPECT_FALSE(auth.ensure_key("t1", token, "stolen", KeyRole::kAdmin));
}

TEST_F(AuthServiceTest, AtMost500KeysPerTenant) {
  for (uint32_t i = 0; i < AuthService::kMaxKeysPerTenant; ++i)
    ASSERT_TRUE(auth.create_key("t1", "k", KeyRole::kMember)) << i;
  auto extra = auth.create_key("t1", "k", KeyRole::kMember);
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().code, Errc::kKeyLimit);
}

}  // namespace
}  // namespace up::core
