// The shared-state primitives (meta_store.h: rate windows, leases, cursors)
// over every backend: the in-process ones of SQLite and memory and the
// PostgreSQL tables behave the same.

#include <string>

#include <gtest/gtest.h>

#include "meta/store_test_support.h"

namespace up::meta {
namespace {

using namespace up::meta::store_test;  // NOLINT(google-build-using-namespace)

template <class Backend>
class SharedStateConformance : public StoreTest<Backend> {};

TYPED_TEST_SUITE(SharedStateConformance, Backends, BackendNames);

constexpr UnixMs kWindow = 60'000;
constexpr UnixMs kStart = kNow - (kNow % kWindow);  // a window boundary

core::Cursor cursor(std::string id, std::string tenant_id = "t1",
                    UnixMs expires_at = kNow + 600'000) {
  core::Cursor c;
  c.id = std::move(id);
  c.tenant_id = std::move(tenant_id);
  c.owner = "user:alice";
  c.app_id = "7";
  c.state = R"({"size":100})";
  c.expires_at = expires_at;
  return c;
}

TYPED_TEST(SharedStateConformance, RateHitCountsUpToTheLimitThenRefusesUncounted) {
  MetaStore& s = this->store();
  for (uint32_t i = 1; i <= 3; ++i) {
    auto hit = s.rate_hit("app", 3, kWindow, kStart + i);
    ASSERT_OK(hit);
    EXPECT_TRUE(hit->allowed);
    EXPECT_EQ(hit->count, i);
    EXPECT_EQ(hit->window_start, kStart);
  }
  auto refused = s.rate_hit("app", 3, kWindow, kStart + 10);
  ASSERT_OK(refused);
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->window_start, kStart);
  auto other = s.rate_hit("other", 3, kWindow, kStart + 10);  // keys are independent
  ASSERT_OK(other);
  EXPECT_TRUE(other->allowed);
  EXPECT_EQ(other->count, 1u);
  // The next window starts from zero; the refused hits were never counted.
  auto next = s.rate_hit("app", 3, kWindow, kStart + kWindow);
  ASSERT_OK(next);
  EXPECT_TRUE(next->allowed);
  EXPECT_EQ(next->count, 1u);
  EXPECT_EQ(next->window_start, kStart + kWindow);
}

TYPED_TEST(SharedStateConformance, RateHitNeverMovesAWindowBack) {
  MetaStore& s = this->store();
  ASSERT_OK(s.rate_hit("app", 2, kWindow, kStart + kWindow));  // a clock ahead
  auto late = s.rate_hit("app", 2, kWindow, kStart + 5);       // a clock behind
  ASSERT_OK(late);
  EXPECT_TRUE(late->allowed);
  EXPECT_EQ(late->count, 2u);  // counted into the later window
  EXPECT_EQ(late->window_start, kStart + kWindow);
  auto full = s.rate_hit("app", 2, kWindow, kStart + 6);
  ASSERT_OK(full);
  EXPECT_FALSE(full->allowed);
}

TYPED_TEST(SharedStateConformance, ZeroLimitAllowsNothing) {
  auto hit = this->store().rate_hit("app", 0, kWindow, kStart);
  ASSERT_OK(hit);
  EXPECT_FALSE(hit->allowed);
}

TYPED_TEST(SharedStateConformance, ExpireRateWindowsDropsOldOnes) {
  MetaStore& s = this->store();
  ASSERT_OK(s.rate_hit("old", 1, kWindow, kStart));
  ASSERT_OK(s.rate_hit("new", 1, kWindow, kStart + kWindow));
  auto dropped = s.expire_rate_windows(kStart + kWindow);
  ASSERT_OK(dropped);
  EXPECT_EQ(*dropped, 1u);
  // "old" starts afresh; "new" is still full.
  EXPECT_TRUE(s.rate_hit("old", 1, kWindow, kStart + kWindow)->allowed);
  EXPECT_FALSE(s.rate_hit("new", 1, kWindow, kStart + kWindow)->allowed);
}

TYPED_TEST(SharedStateConformance, LeaseHasOneHolderUntilItExpires) {
  MetaStore& s = this->store();
  EXPECT_TRUE(*s.try_lease("sweeper", "p1", 1000, kNow));
  EXPECT_FALSE(*s.try_lease("sweeper", "p2", 1000, kNow + 999));
  EXPECT_TRUE(*s.try_lease("other", "p2", 1000, kNow));          // leases are independent
  EXPECT_TRUE(*s.try_lease("sweeper", "p1", 1000, kNow + 500));  // renewed to kNow + 1500
  EXPECT_FALSE(*s.try_lease("sweeper", "p2", 1000, kNow + 1499));
  EXPECT_TRUE(*s.try_lease("sweeper", "p2", 1000, kNow + 1500));  // p1 stopped renewing
  EXPECT_FALSE(*s.try_lease("sweeper", "p1", 1000, kNow + 1600));
}

TYPED_TEST(SharedStateConformance, CursorPutGetAdvanceDelete) {
  MetaStore& s = this->store();
  ASSERT_OK(s.put_cursor(cursor("c1"), 10, kNow));
  EXPECT_ERRC(s.put_cursor(cursor("c1"), 10, kNow), Errc::kAlreadyExists);
  auto got = s.get_cursor("t1", "c1", kNow);
  ASSERT_OK(got);
  EXPECT_EQ(got->owner, "user:alice");
  EXPECT_EQ(got->app_id, "7");
  EXPECT_EQ(got->state, R"({"size":100})");
  EXPECT_EQ(got->position, 0u);
  EXPECT_EQ(got->expires_at, kNow + 600'000);
  EXPECT_ERRC(s.get_cursor("t2", "c1", kNow), Errc::kNotFound);            // another tenant's
  EXPECT_ERRC(s.get_cursor("t1", "c1", kNow + 600'000), Errc::kNotFound);  // expired

  EXPECT_TRUE(*s.advance_cursor("t1", "c1", 0, 100));
  EXPECT_FALSE(*s.advance_cursor("t1", "c1", 0, 100));  // a racing read lost
  EXPECT_EQ(s.get_cursor("t1", "c1", kNow)->position, 100u);
  EXPECT_FALSE(*s.advance_cursor("t1", "nope", 0, 1));

  EXPECT_FALSE(*s.delete_cursor("t2", "c1"));
  EXPECT_TRUE(*s.delete_cursor("t1", "c1"));
  EXPECT_FALSE(*s.delete_cursor("t1", "c1"));
  EXPECT_ERRC(s.get_cursor("t1", "c1", kNow), Errc::kNotFound);
}

TYPED_TEST(SharedStateConformance, CursorsPerTenantAreLimitedWhileUnexpired) {
  MetaStore& s = this->store();
  ASSERT_OK(s.put_cursor(cursor("a", "t1", kNow + 10), 2, kNow));
  ASSERT_OK(s.put_cursor(cursor("b", "t1"), 2, kNow));
  EXPECT_ERRC(s.put_cursor(cursor("c", "t1"), 2, kNow), Errc::kRateLimited);
  ASSERT_OK(s.put_cursor(cursor("c", "t2"), 2, kNow));       // per tenant
  ASSERT_OK(s.put_cursor(cursor("c", "t1"), 2, kNow + 10));  // "a" expired meanwhile
  auto dropped = s.expire_cursors(kNow + 10);
  ASSERT_OK(dropped);
  EXPECT_EQ(*dropped, 1u);
  EXPECT_ERRC(s.get_cursor("t1", "a", kNow), Errc::kNotFound);
  EXPECT_OK(s.get_cursor("t1", "b", kNow));
}

}  // namespace
}  // namespace up::meta
