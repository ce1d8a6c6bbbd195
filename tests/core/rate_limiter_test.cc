#include "core/rate_limiter.h"

#include <gtest/gtest.h>

#include "meta/memory/memory_meta_store.h"

namespace up::core {
namespace {

TEST(RateLimiterTest, CountsDownAndResetsPerWindow) {
  ManualClock clock(60'000 * 1000);  // on a window boundary
  auto meta = meta::make_memory_meta_store();
  RateLimiter limiter(*meta, clock);
  for (uint32_t i = 0; i < 3; ++i) {
    auto d = limiter.hit("app", 3, 60'000);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->allowed);
    EXPECT_EQ(d->remaining, 2 - i);
    EXPECT_EQ(d->limit, 3u);
  }
  clock.advance(15'000);
  auto refused = limiter.hit("app", 3, 60'000);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->remaining, 0u);
  EXPECT_EQ(refused->reset_in_ms, 45'000);
  EXPECT_TRUE(limiter.hit("other", 3, 60'000)->allowed);  // keys are independent
  clock.advance(45'000);
  EXPECT_TRUE(limiter.hit("app", 3, 60'000)->allowed);
}

}  // namespace
}  // namespace up::core
