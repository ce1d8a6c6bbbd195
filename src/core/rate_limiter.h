#pragma once
// One rate limiter for every dialect: fixed windows counted per key (an app, a
// tenant, a tenant+route ...). The counters live in the metadata store, so
// every process sharing it (PostgreSQL) counts against one window; a store one
// process owns (SQLite, memory) keeps them in that process.

#include <cstdint>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace up::meta {
class MetaStore;
}

namespace up::core {

struct RateDecision {
  bool allowed = true;
  uint32_t limit = 0;
  uint32_t remaining = 0;  // after this request
  UnixMs reset_in_ms = 0;  // until the window starts again
};

// Thread-safe. hit() blocks on the store (one statement on PostgreSQL):
// callers run it on the blocking pool, never on an I/O thread.
class RateLimiter {
 public:
  RateLimiter(meta::MetaStore& meta, const Clock& clock) : meta_(meta), clock_(clock) {}
  // Counts one request against `key`, allowing `limit` per `window_ms`
  // (windows aligned to multiples of window_ms). A refused request is not
  // counted. The store's error (kUnavailable when the database is down) when
  // it cannot count: the request must fail then, not pass uncounted.
  Result<RateDecision> hit(std::string_view key, uint32_t limit, UnixMs window_ms);

 private:
  meta::MetaStore& meta_;
  const Clock& clock_;
};

}  // namespace up::core
