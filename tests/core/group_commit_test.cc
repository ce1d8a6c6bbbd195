// core::GroupCommit: every caller's item runs in exactly one batch, and no
// pool thread waits for a pool leader that is queued behind it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "core/blocking.h"
#include "core/group_commit.h"

namespace up::core {
namespace {

struct Item {
  int runs = 0;
};

// A gate the pool's threads wait at until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  bool open = false;

  void arrive_and_wait() {
    std::unique_lock lock(mu);
    ++arrived;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void wait_for_arrivals(int n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return arrived >= n; });
  }
  void open_it() {
    const std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

class GroupCommitTest : public ::testing::Test {
 protected:
  static constexpr int kThreads = 2;

  // Every pool thread is made busy at `gate`; then an async item is queued,
  // which posts a pool leader behind them; then the gate opens and each
  // thread commits an item of its own through `commit_on_pool`. They must
  // not wait for that leader: it only runs once one of them is done.
  void expect_no_thread_waits_for_the_posted_leader(
      const std::function<void(GroupCommit<Item>&, Item&)>& commit_on_pool) {
    for (int i = 0; i < kThreads; ++i)
      pool_->post([&, i] {
        gate_.arrive_and_wait();
        commit_on_pool(commits_, on_pool_[i]);
        finished_.fetch_add(1);
      });
    gate_.wait_for_arrivals(kThreads);
    std::atomic<bool> async_done{false};
    commits_.submit_async(async_, [&] { async_done = true; });
    gate_.open_it();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while ((finished_.load() < kThreads || !async_done.load()) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (finished_.load() < kThreads || !async_done.load()) {
      // A deadlock cannot be unwound (the pool's destructor would wait on it).
      std::fprintf(stderr, "deadlock: %d of %d pool threads returned\n", finished_.load(),
                   kThreads);
      std::_Exit(1);
    }
    EXPECT_EQ(async_.runs, 1);
    for (const Item& item : on_pool_) EXPECT_EQ(item.runs, 1);
  }

  BlockingPoolPtr pool_ = make_thread_pool(kThreads);
  GroupCommit<Item> commits_{*pool_, [](const std::vector<Item*>& batch) {
                               for (Item* item : batch) ++item->runs;
                             }};
  Gate gate_;
  Item async_;
  Item on_pool_[kThreads];
  std::atomic<int> finished_{0};
};

TEST_F(GroupCommitTest, AWaitingThreadLeadsWhileThePostedLeaderIsQueued) {
  expect_no_thread_waits_for_the_posted_leader([](GroupCommit<Item>& commits, Item& item) {
    commits.submit(item, [](const std::vector<Item*>& batch) {
      for (Item* i : batch) ++i->runs;
    });
  });
}

// Synchronous use-case code on a pool thread (run_to_completion) awaiting the
// commit, as Upload::commit_blocking does.
TEST_F(GroupCommitTest, CodeRunToCompletionLeadsWhileThePostedLeaderIsQueued) {
  expect_no_thread_waits_for_the_posted_leader([](GroupCommit<Item>& commits, Item& item) {
    run_to_completion([&]() -> net::awaitable<void> { co_await commits.commit(item); });
  });
}

TEST_F(GroupCommitTest, ManyAsyncItemsEachRunOnce) {
  constexpr int kItems = 500;
  std::vector<Item> items(kItems);
  std::atomic<int> done{0};
  for (Item& item : items) commits_.submit_async(item, [&] { done.fetch_add(1); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (done.load() < kItems && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(done.load(), kItems);
  for (const Item& item : items) EXPECT_EQ(item.runs, 1);
}

}  // namespace
}  // namespace up::core
