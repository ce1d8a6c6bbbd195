#pragma once
// Core services over the in-memory backends (or a blob store of the test's
// choice), on a manual clock.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "core/auth.h"
#include "core/blocking.h"
#include "core/clock.h"
#include "core/directory.h"
#include "core/files.h"
#include "core/sweeper.h"
#include "core/uploads.h"
#include "meta/memory/memory_meta_store.h"
#include "storage/memory/memory_blob_store.h"
#include "support/await.h"
#include "support/temp_dir.h"

namespace up::testing {

// Makes the blob store under test; `dir` is a fresh folder it may use.
using BlobFactory =
    std::function<storage::BlobStorePtr(core::BlockingPool& pool, const std::string& dir)>;

inline storage::BlobStorePtr memory_blobs(core::BlockingPool&, const std::string&) {
  return storage::make_memory_blob_store();
}

// A thread pool that counts the trips to it: run() and post() called from
// outside the pool (work a pool thread starts runs inline, no trip).
class CountingPool final : public core::BlockingPool {
 public:
  int trips() const { return trips_.load(); }

  // core::BlockingPool
  net::awaitable<void> run(std::function<void()> work) override {
    if (!t_on_pool) ++trips_;
    co_await inner_->run(on_pool(std::move(work)));
  }

  // core::BlockingPool
  void post(std::function<void()> work) override {
    if (!t_on_pool) ++trips_;
    inner_->post(on_pool(std::move(work)));
  }

 private:
  static std::function<void()> on_pool(std::function<void()> work) {
    return [work = std::move(work)] {
      const bool was = std::exchange(t_on_pool, true);
      work();
      t_on_pool = was;
    };
  }

  static inline thread_local bool t_on_pool = false;
  core::BlockingPoolPtr inner_ = core::make_thread_pool(2);
  std::atomic<int> trips_{0};
};

struct CoreFixture {
  ManualClock clock;
  TempDir dir;
  std::unique_ptr<CountingPool> pool = std::make_unique<CountingPool>();
  meta::MetaStorePtr meta = meta::make_memory_meta_store();
  storage::BlobStorePtr blobs;
  core::Directory directory{*meta, clock, 1ull << 30};
  core::AuthService auth{*meta, clock};
  core::UploadService uploads{directory, *meta, *blobs, clock, *pool};
  core::FileService files{*meta, *blobs, clock};
  core::Sweeper sweeper{*meta, *blobs, clock};

  explicit CoreFixture(const BlobFactory& make_blobs = memory_blobs)
      : blobs(make_blobs(*pool, dir.path())) {
    (void)directory.create_tenant("t1", "Tenant One");
  }

  Result<Object> upload(core::UploadSpec spec, std::string_view content) {
    auto up = uploads.begin(std::move(spec));
    if (!up) return fail(up.error());
    UP_TRY(await((*up)->append(content)));
    return await((*up)->commit());
  }

  size_t blob_count() {
    size_t n = 0;
    std::string after;
    do {
      auto page = blobs->list("", after, 2);
      if (!page) return SIZE_MAX;
      n += page->entries.size();
      after = page->next_after;
    } while (!after.empty());
    return n;
  }
};

inline core::UploadSpec spec_for(std::string tenant, std::string name) {
  core::UploadSpec s;
  s.tenant_id = std::move(tenant);
  s.name = std::move(name);
  return s;
}

}  // namespace up::testing
