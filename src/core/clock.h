#pragma once
// Time source. Everything that expires (grants, transactions, temporaries, TTLs,
// rate-limit windows) reads the time through a Clock so tests can move it.

#include <atomic>

#include "core/types.h"

namespace up {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixMs now() const = 0;
};

// The system clock plus an offset that tests may move forward (thread-safe).
// With offset 0 it is the plain wall clock.
class SystemClock final : public Clock {
 public:
  UnixMs now() const override;
  void advance(int64_t ms) { offset_ms_.fetch_add(ms); }

 private:
  std::atomic<int64_t> offset_ms_{0};
};

// A clock that only moves when told to (unit tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixMs start = 1'700'000'000'000) : now_(start) {}
  UnixMs now() const override { return now_.load(); }
  void advance(int64_t ms) { now_.fetch_add(ms); }
  void set(UnixMs t) { now_.store(t); }

 private:
  std::atomic<UnixMs> now_;
};

}  // namespace up
