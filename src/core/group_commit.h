#pragma once
// Group commit, the one batching mechanism of upgate: concurrent writers share
// one transaction, so one fsync makes a whole batch durable instead of one
// fsync each. Used by the SQLite metadata store (its writes), the local blob
// store's small-blob pack (its puts) and core::UploadService (metadata rows of
// committed uploads); a store that can batch does it inside its own calls, so
// callers only ever see commit().
//
// Two ways in, one queue:
// - submit(): the caller's thread waits (a store whose API is synchronous).
//   The first caller to find no batch running leads: it takes everything
//   queued, runs the batch and wakes exactly the callers of that batch, then
//   hands the lead to the next queued caller. A caller returns only after its
//   own batch has run.
// - submit_async(): nothing waits. The item is queued and, if no batch is
//   running, a leader is started on the blocking pool; `done` is called (on
//   that pool thread) once the item's batch has run. A coroutine awaits it with
//   core::suspend, so a thousand small uploads waiting for their sync hold no
//   thread. The pool leader keeps taking batches until the queue is empty.
// Either leader runs whatever is queued, so the two may be mixed.
//
// Each waiting thread has its own condition variable: waking everyone at the
// end of a batch (notify_all) sent most of them straight back to sleep, two
// context switches each, which dominated small uploads on a 2-core machine.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/blocking.h"

namespace up::core {

template <class Item>
class GroupCommit {
 public:
  using RunBatch = std::function<void(const std::vector<Item*>&)>;

  GroupCommit() = default;
  // For submit_async: leaders run `run_batch` on `pool`. `run_batch` must not throw.
  GroupCommit(BlockingPool& pool, RunBatch run_batch)
      : pool_(&pool), run_batch_(std::move(run_batch)) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs `run_batch(std::vector<Item*>&)` over a batch that contains `item`
  // (on this thread or another caller's) and returns after it ran.
  // `run_batch` must not throw.
  template <class Run>
  void submit(Item& item, Run&& run_batch) {
    Waiter me(&item);
    std::unique_lock lock(mu_);
    queue_.push_back(&me);
    while (!me.done) {
      if (running_) {
        me.cv.wait(lock);
        continue;
      }
      running_ = true;
      std::vector<Waiter*> batch;
      batch.swap(queue_);
      lock.unlock();
      run(batch, run_batch);
      lock.lock();
      finish(batch, lock, &me);
    }
  }

  // Queues `item`; calls `done` once a batch containing it has run.
  // REQUIRES: built with a pool and a batch runner; `item` lives until `done`.
  void submit_async(Item& item, const std::function<void()>& done) {
    if (queue_async(item, done)) pool_->post([this] { lead_on_pool(); });
  }

  // submit_async() from a pool thread free to run batches: when none is
  // running it leads here and now (no other thread is woken to lead), else
  // the running leader takes the item. Never waits for another leader, so
  // pool threads calling it cannot all end up waiting for one that is queued
  // behind them.
  void submit_async_here(Item& item, const std::function<void()>& done) {
    if (queue_async(item, done)) lead_on_pool();
  }

  // `co_await commits.commit(item);` the awaitable form of submit_async.
  net::awaitable<void> commit(Item& item) {
    const std::function<void(Resume)> start = [&](const Resume& resume) {
      submit_async(item, resume);
    };
    co_await suspend(start);
  }

 private:
  struct Waiter {
    explicit Waiter(Item* i) : item(i) {}
    Item* item;
    std::condition_variable cv;
    bool done = false;
    std::function<void()> done_callback;  // set: an async waiter, heap-owned
  };

  // Queues an async item; true when no batch is running and the caller
  // must start a leader (running_ is set for it).
  bool queue_async(Item& item, const std::function<void()>& done) {
    auto* w = new Waiter(&item);  // owned by the queue, deleted in finish()
    w->done_callback = done;
    const std::lock_guard lock(mu_);
    queue_.push_back(w);
    if (running_) return false;
    running_ = true;
    return true;
  }

  template <class Run>
  static void run(const std::vector<Waiter*>& batch, Run& run_batch) {
    std::vector<Item*> items;
    items.reserve(batch.size());
    for (Waiter* w : batch) items.push_back(w->item);
    run_batch(items);
  }

  // Marks `batch` done and wakes its waiters; then gives the lead to the next
  // queued caller (a thread) or to a pool leader (async items first in line).
  // `self` is the leader's own waiter, or null for a pool leader. Returns true
  // when that pool leader keeps the lead and runs the next batch.
  // Called with the lock held; returns with it held.
  bool finish(std::vector<Waiter*>& batch, std::unique_lock<std::mutex>& lock, Waiter* self) {
    running_ = false;
    std::vector<Waiter*> callbacks;
    for (Waiter* w : batch) {
      w->done = true;
      if (w->done_callback) {
        callbacks.push_back(w);
      } else if (w != self) {
        w->cv.notify_one();
      }
    }
    bool pool_leads = false;
    if (!queue_.empty()) {
      if (queue_.front()->done_callback) {
        running_ = true;
        pool_leads = true;
      } else {
        queue_.front()->cv.notify_one();  // the next leader
      }
    }
    lock.unlock();
    for (Waiter* w : callbacks) {
      w->done_callback();
      delete w;
    }
    // A thread leader hands over to a new pool leader; a pool leader loops.
    if (pool_leads && self != nullptr) pool_->post([this] { lead_on_pool(); });
    lock.lock();
    return pool_leads && self == nullptr;
  }

  // A leader on the pool: runs batches until the queue is empty or its front
  // is a waiting thread (which then leads).
  // REQUIRES: running_ was set for this leader.
  void lead_on_pool() {
    std::unique_lock lock(mu_);
    for (bool lead = true; lead;) {
      std::vector<Waiter*> batch;
      batch.swap(queue_);
      lock.unlock();
      run(batch, run_batch_);
      lock.lock();
      lead = finish(batch, lock, nullptr);
    }
  }

  BlockingPool* pool_ = nullptr;
  RunBatch run_batch_;
  std::mutex mu_;
  std::vector<Waiter*> queue_;
  bool running_ = false;
};

}  // namespace up::core
