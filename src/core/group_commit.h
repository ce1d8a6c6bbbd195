#pragma once
// Group commit: concurrent writers share one transaction, so one fsync makes a
// whole batch durable instead of one fsync each. The first caller to find no
// batch running leads: it takes everything queued, runs the batch and wakes
// exactly the callers of that batch, then hands the lead to the next queued
// caller. A caller returns only after its own batch has run.
//
// Each waiter has its own condition variable: waking everyone at the end of a
// batch (notify_all) sent most of them straight back to sleep, two context
// switches each, which dominated small uploads on a 2-core machine.

#include <condition_variable>
#include <mutex>
#include <vector>

namespace up::core {

template <class Item>
class GroupCommit {
 public:
  // Runs `run_batch(std::vector<Item*>&)` over a batch that contains `item`
  // (on this thread or another caller's). `run_batch` must not throw.
  template <class RunBatch>
  void submit(Item& item, RunBatch&& run_batch) {
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
      std::vector<Item*> items;
      items.reserve(batch.size());
      for (Waiter* w : batch) items.push_back(w->item);
      run_batch(items);
      lock.lock();
      running_ = false;
      for (Waiter* w : batch) {
        w->done = true;
        if (w != &me) w->cv.notify_one();
      }
      if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
    }
  }

 private:
  struct Waiter {
    explicit Waiter(Item* i) : item(i) {}
    Item* item;
    std::condition_variable cv;
    bool done = false;
  };

  std::mutex mu_;
  std::vector<Waiter*> queue_;
  bool running_ = false;
};

}  // namespace up::core
