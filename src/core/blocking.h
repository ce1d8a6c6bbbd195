#pragma once
// Awaiting work that does not fit the I/O threads: blocking calls (fsync,
// SQLite, a synchronous client library) run on a bounded pool, and work that
// completes through a callback (a group commit) resumes the awaiting coroutine
// without holding any thread while it waits. Only Asio's small awaitable header
// comes along; the Asio machinery is in blocking.cc.
//
// Every awaitable here resumes its caller on the caller's own executor.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/awaitable.hpp>

namespace up::core {

namespace net = boost::asio;

// Calls `start(resume)` and suspends until `resume` is called, exactly once,
// from any thread; then resumes on the caller's executor. No thread waits.
// By reference: g++ 12 destroys temporaries of a co_await expression twice.
using Resume = std::function<void()>;
net::awaitable<void> suspend(const std::function<void(Resume)>& start);

// One coroutine waiting for a state that other threads change under a mutex (a
// piece fetched, parts in flight dropping, room in a queue). The waiting side:
// `co_await waiter.until(mu, [&] { return ready; })`. The changing side, with
// `mu` held: `Resume w = waiter.take();`, then once `mu` is unlocked `if (w) w();`.
class Waiter {
 public:
  // Suspends until `ready()`, checked with `mu` held, returns true.
  net::awaitable<void> until(std::mutex& mu, const std::function<bool()>& ready);
  // The parked resume, if the coroutine is waiting; call with `mu` held.
  Resume take() { return std::exchange(resume_, nullptr); }

 private:
  Resume resume_;
};

// Where blocking work runs. Thread-safe; not copied (held by reference). The
// composition root (src/app) owns one and hands it to whatever needs it.
class BlockingPool {
 public:
  virtual ~BlockingPool() = default;

  // Runs `work` on a pool thread and resumes the caller when it returns.
  // `work` must not throw.
  virtual net::awaitable<void> run(std::function<void()> work) = 0;
  // Queues `work` on a pool thread and returns at once (a group-commit leader).
  virtual void post(std::function<void()> work) = 0;
};
using BlockingPoolPtr = std::unique_ptr<BlockingPool>;

// A pool of `threads` threads; destroying it waits for queued work to finish.
BlockingPoolPtr make_thread_pool(unsigned threads);
// Runs work on the calling thread: for tests over in-memory stores only.
BlockingPool& inline_pool();

// Runs `work` through `offload` (a pool's run, an exchange's offload: an
// awaitable taking std::function<void()>) and returns what it returned.
template <class Offload, class F>
net::awaitable<std::invoke_result_t<F&>> with_result(Offload offload, F&& work) {
  std::optional<std::invoke_result_t<F&>> result;
  co_await offload([&] { result.emplace(work()); });
  co_return std::move(*result);
}

// `auto r = co_await run_blocking(pool, [&] { return store.sync_call(); });`
template <class F>
net::awaitable<std::invoke_result_t<F&>> run_blocking(BlockingPool& pool, F&& work) {
  return with_result([&pool](std::function<void()> w) { return pool.run(std::move(w)); },
                     std::forward<F>(work));
}

// Runs `task` to completion on the calling thread and returns when it is done:
// for synchronous use-case code that already runs on the blocking pool (never
// call it on an I/O thread). Blob I/O inside `task` still completes.
void run_to_completion(const std::function<net::awaitable<void>()>& task);
// Whether this thread is inside run_to_completion: what it awaits may block
// it instead (it blocks anyway).
bool in_run_to_completion();

template <class T>
net::awaitable<void> store_result(std::optional<T>& out,
                                  const std::function<net::awaitable<T>()>& task) {
  out.emplace(co_await task());
}

template <class T>
T await_blocking(const std::function<net::awaitable<T>()>& task) {
  std::optional<T> result;
  run_to_completion([&] { return store_result(result, task); });
  return std::move(*result);
}

}  // namespace up::core
