#pragma once
// One rate limiter for every dialect: fixed windows counted per key (an app, a
// tenant, a tenant+route ...). In memory, per process.

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace up::core {

struct RateDecision {
  bool allowed = true;
  uint32_t limit = 0;
  uint32_t remaining = 0;  // after this request
  UnixMs reset_in_ms = 0;  // until the window starts again
};

// Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(const Clock& clock) : clock_(clock) {}
  // Counts one request against `key`, allowing `limit` per `window_ms`.
  // A refused request is not counted.
  RateDecision hit(std::string_view key, uint32_t limit, UnixMs window_ms);

 private:
  struct Window {
    UnixMs start = 0;
    uint32_t count = 0;
  };
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
  UnixMs last_prune_ = 0;
};

}  // namespace up::core
