#include "core/rate_limiter.h"

namespace up::core {

RateDecision RateLimiter::hit(std::string_view key, uint32_t limit, UnixMs window_ms) {
  const UnixMs now = clock_.now();
  std::lock_guard lock(mu_);
  // Drop idle windows now and then so the map does not grow with every key seen.
  if (now - last_prune_ > 60'000) {
    std::erase_if(windows_, [&](const auto& kv) { return now - kv.second.start > 3'600'000; });
    last_prune_ = now;
  }
  Window& w = windows_[std::string(key)];
  if (now - w.start >= window_ms || now < w.start) {
    w.start = now - (now % window_ms);  // aligned windows: reset times are predictable
    w.count = 0;
  }
  RateDecision d;
  d.limit = limit;
  d.reset_in_ms = w.start + window_ms - now;
  if (w.count >= limit) {
    d.allowed = false;
    d.remaining = 0;
    return d;
  }
  ++w.count;
  d.remaining = limit - w.count;
  return d;
}

}  // namespace up::core
