// core::Waiter: a coroutine waiting on state another thread changes under a mutex.

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/blocking.h"

namespace up::core {
namespace {

struct Shared {
  std::mutex mu;
  int step = 0;
  Waiter waiter;
};

net::awaitable<void> wait_for_step(Shared& shared, int want, std::atomic<int>& seen) {
  const std::function<bool()> ready = [&] { return shared.step >= want; };
  co_await shared.waiter.until(shared.mu, ready);
  std::lock_guard lock(shared.mu);
  seen = shared.step;
}

TEST(WaiterTest, ReturnsOnlyOnceTheStateIsReadyWokenFromAnotherThread) {
  net::io_context io;
  Shared shared;
  std::atomic<int> seen{-1};
  net::co_spawn(io, wait_for_step(shared, 3, seen), net::detached);
  std::thread changer([&] {
    // Each step wakes the coroutine if it is parked; it parks again until step 3.
    for (int i = 1; i <= 3; ++i) {
      std::unique_lock lock(shared.mu);
      shared.step = i;
      Resume w = shared.waiter.take();
      lock.unlock();
      if (w) w();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // The coroutine's wake-ups are posted to `io`: run it until the coroutine is done.
  auto guard = net::make_work_guard(io);
  std::thread stopper([&] {
    changer.join();
    guard.reset();
  });
  io.run();
  stopper.join();
  EXPECT_EQ(seen.load(), 3);
  EXPECT_FALSE(shared.waiter.take());  // nothing left parked
}

TEST(WaiterTest, ReadyAtOnceDoesNotPark) {
  net::io_context io;
  Shared shared;
  shared.step = 5;
  std::atomic<int> seen{-1};
  net::co_spawn(io, wait_for_step(shared, 2, seen), net::detached);
  io.run();
  EXPECT_EQ(seen.load(), 5);
  EXPECT_FALSE(shared.waiter.take());
}

}  // namespace
}  // namespace up::core
