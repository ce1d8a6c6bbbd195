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
// Either leader runs whatever is queued, so the two may be mixed. A thread
// waits only for a batch that is running, never for a pool leader posted and
// not started (the pool's threads may all be such waiting callers): it leads
// itself.
//
// Each waiting thread has its own condition variable: waking everyone at the
// end of a batch (notify_all) sent most of them straight back to sleep, two
// context switches each, which dominated small uploads on a 2-core machine.

#include <algorithm>
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
      // Only a batch running is waited for, not a pool leader posted and not
      // started: the pool's threads may all be callers like this one.
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
    std::unique_lock lock(mu_);
    queue_.push_back(new_async(item, done));
    if (running_ || posted_) return;
    posted_ = true;
    lock.unlock();
    pool_->post([this] { lead_posted(); });
  }

  // submit_async() from a pool thread free to run batches: when none is
  // running it leads here and now (no other thread is woken to lead), else
  // the running leader takes the item. Never waits for another leader.
  void submit_async_here(Item& item, const std::function<void()>& done) {
    std::unique_lock lock(mu_);
    queue_.push_back(new_async(item, done));
    if (running_) return;
    running_ = true;
    lead(lock);
  }

  // `co_await commits.commit(item);` the awaitable form of submit_async. Code
  // run to completion on a pool thread (core::run_to_completion) submits and
  // waits instead: as a waiting thread it leads when no batch is running, and
  // is never left waiting for a pool leader queued behind it.
  net::awaitable<void> commit(Item& item) {
    if (in_run_to_completion()) {
      submit(item, run_batch_);
      co_return;
    }
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

  static Waiter* new_async(Item& item, const std::function<void()>& done) {
    auto* w = new Waiter(&item);  // owned by the queue, deleted in finish()
    w->done_callback = done;
    return w;
  }

  template <class Run>
  static void run(const std::vector<Waiter*>& batch, Run& run_batch) {
    std::vector<Item*> items;
    items.reserve(batch.size());
    for (Waiter* w : batch) items.push_back(w->item);
    run_batch(items);
  }

  // Marks `batch` done and wakes its waiters; then gives the lead on: a pool
  // leader keeps it while async items are first in line; else a waiting
  // thread takes it; else (async items only) a pool leader is posted. `self`
  // is the leader's own waiter, or null for a leader of async items. Returns
  // true when that leader keeps the lead and runs the next batch.
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
    bool keep_lead = false;
    bool post_leader = false;
    if (!queue_.empty()) {
      const auto thread = std::find_if(queue_.begin(), queue_.end(),
                                       [](const Waiter* w) { return !w->done_callback; });
      if (self == nullptr && queue_.front()->done_callback) {
        running_ = true;
        keep_lead = true;
      } else if (thread != queue_.end()) {
        (*thread)->cv.notify_one();  // the next leader
      } else if (!posted_) {
        posted_ = true;
        post_leader = true;
      }
    }
    lock.unlock();
    for (Waiter* w : callbacks) {
      w->done_callback();
      delete w;
    }
    if (post_leader) pool_->post([this] { lead_posted(); });
    lock.lock();
    return keep_lead;
  }

  // A pool leader posted by submit_async() or finish(): leads unless a batch
  // is running (a thread took the lead meanwhile) or nothing is queued.
  void lead_posted() {
    std::unique_lock lock(mu_);
    posted_ = false;
    if (running_ || queue_.empty()) return;
    running_ = true;
    lead(lock);
  }

  // Runs batches on this thread until finish() gives the lead away.
  // REQUIRES: `lock` held, running_ set for this caller.
  void lead(std::unique_lock<std::mutex>& lock) {
    for (bool more = true; more;) {
      std::vector<Waiter*> batch;
      batch.swap(queue_);
      lock.unlock();
      run(batch, run_batch_);
      lock.lock();
      more = finish(batch, lock, nullptr);
    }
  }

  BlockingPool* pool_ = nullptr;
  RunBatch run_batch_;
  std::mutex mu_;
  std::vector<Waiter*> queue_;
  bool running_ = false;  // a leader is running batches
  bool posted_ = false;   // a pool leader is posted and has not started
};

}  // namespace up::core
