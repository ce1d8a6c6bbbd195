#include "core/clock.h"

#include <chrono>

namespace up {

UnixMs SystemClock::now() const {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() +
         offset_ms_.load(std::memory_order_relaxed);
}

}  // namespace up
