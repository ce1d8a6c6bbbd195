#include "core/rate_limiter.h"

#include <algorithm>

#include "meta/meta_store.h"

namespace up::core {

Result<RateDecision> RateLimiter::hit(std::string_view key, uint32_t limit, UnixMs window_ms) {
  const UnixMs now = clock_.now();
  auto counted = meta_.rate_hit(key, limit, window_ms, now);
  if (!counted) return fail(counted.error());
  RateDecision d;
  d.allowed = counted->allowed;
  d.limit = limit;
  d.remaining = counted->allowed ? limit - std::min(limit, counted->count) : 0;
  d.reset_in_ms = std::max<UnixMs>(0, counted->window_start + window_ms - now);
  return d;
}

}  // namespace up::core
