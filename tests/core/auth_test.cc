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

// A thread remembers the answer for a token it verified against the cache
// (no lock per request): that answer still ends at once when keys are disabled
// or deleted, at the cache's bound, and belongs to one service only.
TEST_F(AuthServiceTest, RememberedAnswersEndWithTheCachedOnes) {
  auto k = auth.create_key("t1", "uploader", KeyRole::kMember);
  ASSERT_TRUE(k);
  ASSERT_TRUE(auth.authenticate(k->token));
  for (int i = 0; i < 3; ++i) {  // the first fills the thread's memo, the others hit it
    auto hit = auth.authenticate_cached(k->token);
    ASSERT_TRUE(hit && *hit);
    EXPECT_EQ((*hit)->tenant_id, "t1");
  }
  // Another service (another store, where this key is unknown) on this thread.
  auto other_meta = meta::make_memory_meta_store();
  AuthService other{*other_meta, clock};
  EXPECT_FALSE(other.authenticate_cached(k->token));
  EXPECT_EQ(other.authenticate(k->token).error().code, Errc::kUnauthenticated);
  // Disabled: no cached answer, the store says why.
  auto another = auth.create_key("t1", "other", KeyRole::kMember);
  ASSERT_TRUE(another);
  ASSERT_TRUE(auth.set_key_enabled(another->key.id, false));  // any key's change counts
  EXPECT_FALSE(auth.authenticate_cached(k->token));
  ASSERT_TRUE(auth.authenticate(k->token));
  ASSERT_TRUE(auth.authenticate_cached(k->token));
  ASSERT_TRUE(auth.set_key_enabled(k->key.id, false));
  EXPECT_FALSE(auth.authenticate_cached(k->token));
  EXPECT_EQ(auth.authenticate(k->token).error().code, Errc::kKeyDisabled);
  ASSERT_TRUE(auth.set_key_enabled(k->key.id, true));
  ASSERT_TRUE(auth.authenticate(k->token));
  ASSERT_TRUE(auth.authenticate_cached(k->token));
  clock.advance(AuthService::kCacheMs - 1);
  EXPECT_TRUE(auth.authenticate_cached(k->token));
  clock.advance(1);
  EXPECT_FALSE(auth.authenticate_cached(k->token));  // the bound holds for the memo too
  ASSERT_TRUE(auth.authenticate(k->token));
  ASSERT_TRUE(auth.authenticate_cached(k->token));
  ASSERT_TRUE(auth.delete_key(k->key.id));
  EXPECT_FALSE(auth.authenticate_cached(k->token));
  EXPECT_EQ(auth.authenticate(k->token).error().code, Errc::kUnauthenticated);
}

// well_formed checks 8 bytes a step: every byte value at every place of
// tokens of 16-33 bytes, against the byte-by-byte rule (0x21-0x7E).
TEST_F(AuthServiceTest, WellFormedFindsABadByteWhereverItIs) {
  for (size_t len = 16; len <= 33; ++len) {
    for (size_t at = 0; at < len; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string token(len, 'k');
        token[at] = static_cast<char>(c);
        ASSERT_EQ(AuthService::well_formed(token), c > 0x20 && c < 0x7f)
            << len << " " << at << " " << c;
      }
    }
  }
  EXPECT_FALSE(AuthService::well_formed(std::string(15, 'k')));
  EXPECT_TRUE(AuthService::well_formed(std::string(256, '~')));
  EXPECT_FALSE(AuthService::well_formed(std::string(257, 'k')));
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
