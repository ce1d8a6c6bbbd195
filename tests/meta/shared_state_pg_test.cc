// Shared state across processes on the real PostgreSQL: rate windows, the
// sweeper's lease, kintone cursors and the API-key cache bound, each with
// several stores (stand-ins for upgate processes, each with its own pool)
// racing on one database.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/auth.h"
#include "core/clock.h"
#include "meta/pg_test_env.h"
#include "meta/postgres/postgres_meta_store.h"
#include "meta/store_test_support.h"

namespace up::meta {
namespace {

using namespace up::meta::store_test;  // NOLINT(google-build-using-namespace)

class SharedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto base = pg_url();
    ASSERT_TRUE(base) << base.error().message;
    auto schema = pg_create_schema();
    ASSERT_TRUE(schema) << schema.error().message;
    schema_ = *schema;
    url_ = pg_url_with_schema(*base, schema_);
  }
  void TearDown() override {
    if (!schema_.empty()) EXPECT_OK(pg_drop_schema(schema_));
  }

  MetaStorePtr open(uint32_t pool_size) {
    auto store = open_postgres_meta_store(url_, pool_size);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  std::vector<MetaStorePtr> open_processes(int n, uint32_t pool_size) {
    std::vector<MetaStorePtr> out;
    out.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) out.push_back(open(pool_size));
    return out;
  }
  // Runs body(thread index) on `n` threads released together.
  template <class F>
  static void race(int n, const F& body) {
    std::latch start(n);
    std::vector<std::thread> threads;
    threads.reserve(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t)
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        body(t);
      });
    for (auto& th : threads) th.join();
  }

  std::string schema_;
  std::string url_;
};

TEST_F(SharedStateTest, RateHitIsExactAcrossProcesses) {
  // 4 "processes" x 2 connections; 8 threads x 8 hits in one window, limit 20.
  auto stores = open_processes(4, 2);
  std::atomic<int> allowed{0}, failed{0};
  race(8, [&](int t) {
    for (int i = 0; i < 8; ++i) {
      auto hit = stores[static_cast<size_t>(t % 4)]->rate_hit("jpush:t1:a1", 20, 60'000, kNow + i);
      if (!hit) {
        ++failed;
      } else if (hit->allowed) {
        ++allowed;
      }
    }
  });
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(allowed.load(), 20);
  auto count = pg_query(url_, "SELECT count FROM rate_windows WHERE key = 'jpush:t1:a1'");
  ASSERT_OK(count);
  EXPECT_EQ(*count, std::vector<std::string>{"20"});
}

TEST_F(SharedStateTest, LeaseHasExactlyOneHolderAcrossProcesses) {
  auto stores = open_processes(4, 2);
  std::atomic<int> holders{0}, failed{0};
  race(8, [&](int t) {
    auto got = stores[static_cast<size_t>(t % 4)]->try_lease("sweeper", "p" + std::to_string(t),
                                                             30'000, kNow);
    if (!got) {
      ++failed;
    } else if (*got) {
      ++holders;
    }
  });
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(holders.load(), 1);
  // A crashed holder: nobody renews, and after its ttl another takes over.
  EXPECT_FALSE(*stores[0]->try_lease("sweeper", "p-new", 30'000, kNow + 29'999));
  EXPECT_TRUE(*stores[0]->try_lease("sweeper", "p-new", 30'000, kNow + 30'000));
}

TEST_F(SharedStateTest, CursorMadeInOneProcessIsReadAndDeletedInAnother) {
  auto stores = open_processes(2, 1);
  core::Cursor c;
  c.id = "c1";
  c.tenant_id = "t1";
  c.owner = "user:alice";
  c.app_id = "7";
  c.state = "{}";
  c.expires_at = kNow + 600'000;
  ASSERT_OK(stores[0]->put_cursor(c, 10, kNow));
  auto got = stores[1]->get_cursor("t1", "c1", kNow);
  ASSERT_OK(got);
  EXPECT_EQ(got->owner, "user:alice");
  EXPECT_TRUE(*stores[1]->advance_cursor("t1", "c1", 0, 100));
  EXPECT_EQ(stores[0]->get_cursor("t1", "c1", kNow)->position, 100u);
  EXPECT_TRUE(*stores[0]->delete_cursor("t1", "c1"));
  EXPECT_ERRC(stores[1]->get_cursor("t1", "c1", kNow), Errc::kNotFound);
}

TEST_F(SharedStateTest, CursorLimitIsExactAcrossProcesses) {
  auto stores = open_processes(4, 2);
  std::atomic<int> opened{0}, limited{0};
  race(16, [&](int t) {
    core::Cursor c;
    c.id = "c" + std::to_string(t);
    c.tenant_id = "t1";
    c.owner = "user:alice";
    c.app_id = "7";
    c.state = "{}";
    c.expires_at = kNow + 600'000;
    auto st = stores[static_cast<size_t>(t % 4)]->put_cursor(c, 10, kNow);
    if (st) {
      ++opened;
    } else if (st.error().code == Errc::kRateLimited) {
      ++limited;
    }
  });
  EXPECT_EQ(opened.load(), 10);
  EXPECT_EQ(limited.load(), 6);
}

TEST_F(SharedStateTest, DisabledKeyStopsWorkingInAnotherProcessWithinTheCacheBound) {
  auto stores = open_processes(2, 1);
  ManualClock clock(kNow);
  core::AuthService p1(*stores[0], clock);
  core::AuthService p2(*stores[1], clock);
  ASSERT_OK(stores[0]->create_tenant(tenant("t1")));
  auto k = p1.create_key("t1", "uploader", KeyRole::kMember);
  ASSERT_OK(k);
  ASSERT_OK(p1.authenticate(k->token));  // cached in process 1
  ASSERT_OK(p2.set_key_enabled(k->key.id, false));
  EXPECT_EQ(p2.authenticate(k->token).error().code, Errc::kKeyDisabled);  // at once there
  clock.advance(core::AuthService::kCacheMs - 1);
  EXPECT_OK(p1.authenticate(k->token));  // still cached: the documented bound
  clock.advance(1);
  EXPECT_EQ(p1.authenticate(k->token).error().code, Errc::kKeyDisabled);

  ASSERT_OK(p2.set_key_enabled(k->key.id, true));
  ASSERT_OK(p1.authenticate(k->token));  // cached again
  ASSERT_OK(p2.delete_key(k->key.id));
  EXPECT_OK(p1.authenticate(k->token));
  clock.advance(core::AuthService::kCacheMs);
  EXPECT_EQ(p1.authenticate(k->token).error().code, Errc::kUnauthenticated);
}

// Processes started together with one --bootstrap-key all start: the ones
// that lose the race to create it find the same key.
TEST_F(SharedStateTest, ProcessesStartingTogetherShareOneBootstrapKey) {
  auto stores = open_processes(4, 2);
  ASSERT_OK(stores[0]->create_tenant(tenant("default")));
  ManualClock clock(kNow);
  std::vector<std::unique_ptr<core::AuthService>> auths;
  auths.reserve(stores.size());
  for (auto& s : stores) auths.push_back(std::make_unique<core::AuthService>(*s, clock));
  std::atomic<int> ensured{0};
  race(8, [&](int t) {
    auto k = auths[static_cast<size_t>(t % 4)]->ensure_key("default", "bootstrap-key-0123456789",
                                                           "bootstrap", KeyRole::kAdmin);
    EXPECT_TRUE(k) << k.error().message;
    if (k) ++ensured;
  });
  EXPECT_EQ(ensured.load(), 8);
  EXPECT_OK(auths[0]->authenticate("bootstrap-key-0123456789"));
  auto other = auths[1]->ensure_key("other", "bootstrap-key-0123456789", "x", KeyRole::kAdmin);
  EXPECT_ERRC(other, Errc::kAlreadyExists);  // the same token in another tenant is not "the same"
}

// Not a test: the cost of one rate hit on the local PostgreSQL (docs/scale-out.md).
// ctest skips it; run it with
//   build/tests/meta/meta_store_test --gtest_also_run_disabled_tests \
//     --gtest_filter='*RateHitCost*'
TEST_F(SharedStateTest, DISABLED_RateHitCost) {
  for (int threads : {1, 8}) {
    auto store = open(static_cast<uint32_t>(threads));
    constexpr int kHits = 4000;
    const auto begin = std::chrono::steady_clock::now();
    race(threads, [&](int t) {
      for (int i = 0; i < kHits / threads; ++i) {
        // A few keys per thread, under the limit: every hit is an update.
        auto hit = store->rate_hit("k" + std::to_string(t * 4 + i % 4), 1'000'000, 60'000, kNow);
        ASSERT_TRUE(hit && hit->allowed);
      }
    });
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - begin).count();
    std::printf(
        "rate_hit on PostgreSQL, %d thread(s): %d hits, %.1f us per hit (wall / hits), "
        "%.1f us latency per hit\n",
        threads, kHits, us / kHits, us * threads / kHits);
  }
}

}  // namespace
}  // namespace up::meta
