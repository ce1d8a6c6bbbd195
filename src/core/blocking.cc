#include "core/blocking.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace up::core {
namespace {

// Set while run_to_completion drives a task on this thread (a pool thread in
// synchronous use-case code). Pool work started from there runs inline: that
// thread may block already, and handing work to other pool threads could
// leave every thread waiting for a free one.
thread_local int t_completing = 0;

class ThreadPool final : public BlockingPool {
 public:
  explicit ThreadPool(unsigned threads) : pool_(threads) {}
  ~ThreadPool() override { pool_.join(); }

  // core::BlockingPool
  net::awaitable<void> run(std::function<void()> work) override {
    if (t_completing > 0) {
      work();
      co_return;
    }
    // Resumed through suspend(): once the pool thread has posted the caller's
    // continuation it touches nothing of the caller's context again. (co_spawn
    // destroyed its tracked copy of the caller's executor after that post, and
    // a server shutting down meanwhile had destroyed the context: ASan.)
    const std::function<void(Resume)> start = [this, &work](Resume resume) {
      net::post(pool_, [&work, resume = std::move(resume)] {
        work();
        resume();
      });
    };
    co_await suspend(start);
  }

  // core::BlockingPool
  void post(std::function<void()> work) override {
    if (t_completing > 0) return work();
    net::post(pool_, std::move(work));
  }

 private:
  net::thread_pool pool_;
};

class InlinePool final : public BlockingPool {
 public:
  // core::BlockingPool
  net::awaitable<void> run(std::function<void()> work) override {
    work();
    co_return;
  }

  // core::BlockingPool
  void post(std::function<void()> work) override { work(); }
};

}  // namespace

BlockingPoolPtr make_thread_pool(unsigned threads) {
  return std::make_unique<ThreadPool>(threads == 0 ? 1 : threads);
}

BlockingPool& inline_pool() {
  static InlinePool pool;
  return pool;
}

net::awaitable<void> suspend(const std::function<void(Resume)>& start) {
  auto executor = co_await net::this_coro::executor;
  // Named, not a temporary of the co_await expression: g++ 12 would destroy
  // the lambda (and its executor copy) twice.
  auto initiation = [&start, &executor](auto handler) {
    // std::function needs a copyable callable; the handler is move-only.
    auto held = std::make_shared<decltype(handler)>(std::move(handler));
    start([held, executor] { net::post(executor, std::move(*held)); });
  };
  co_await net::async_initiate<const net::use_awaitable_t<>, void()>(initiation,
                                                                     net::use_awaitable);
}

net::awaitable<void> Waiter::until(std::mutex& mu, const std::function<bool()>& ready) {
  bool done = false;
  // Named: g++ 12 destroys temporaries of a co_await expression twice.
  const std::function<void(Resume)> check = [&](Resume resume) {
    std::unique_lock lock(mu);
    done = ready();
    if (!done) {
      resume_ = std::move(resume);
      return;
    }
    lock.unlock();
    resume();
  };
  while (!done) co_await suspend(check);
}

bool in_run_to_completion() { return t_completing > 0; }

void run_to_completion(const std::function<net::awaitable<void>()>& task) {
  net::io_context io;
  ++t_completing;
  net::co_spawn(io, task(), net::detached);
  io.run();
  --t_completing;
}

}  // namespace up::core
