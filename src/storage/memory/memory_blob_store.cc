#include "storage/memory/memory_blob_store.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "storage/blob_util.h"
#include "storage/locator.h"

namespace up::storage {
namespace {

UnixMs now_ms() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

struct Blob {
  // Shared with readers, so a remove() doesn't pull bytes from under them
  // (like an unlinked file that stays readable through an open fd).
  std::shared_ptr<const std::string> data;
  UnixMs modified_at = 0;
};

// Shared by the store and its writers, which may outlive it.
struct State {
  std::mutex mu;
  std::map<std::string, Blob, std::less<>> blobs;
};

class MemoryBlobWriter final : public BlobWriter {
 public:
  MemoryBlobWriter(std::shared_ptr<State> state, std::string locator)
      : state_(std::move(state)), locator_(std::move(locator)) {}

  // storage::BlobWriter
  net::awaitable<Status> append(std::string_view data) override {
    if (committed_) co_return fail(Errc::kInternal, "memory blob store: writer already committed");
    data_.append(data);
    bytes_written_ += data.size();
    co_return ok();
  }

  // storage::BlobWriter
  net::awaitable<Status> commit() override { co_return commit_now(); }

  // storage::BlobWriter
  uint64_t bytes_written() const override { return bytes_written_; }

 private:
  Status commit_now() {
    if (committed_) return fail(Errc::kInternal, "memory blob store: writer already committed");
    std::lock_guard lock(state_->mu);
    if (state_->blobs.contains(locator_)) {
      return fail(Errc::kAlreadyExists, "memory blob store: a blob already has this locator");
    }
    auto bytes = std::make_shared<const std::string>(std::move(data_));
    state_->blobs.emplace(locator_, Blob{std::move(bytes), now_ms()});
    committed_ = true;
    return ok();
  }

  std::shared_ptr<State> state_;
  std::string locator_;
  std::string data_;
  uint64_t bytes_written_ = 0;
  bool committed_ = false;
};

class MemoryBlobStore final : public BlobStore {
 public:
  // storage::BlobStore
  Result<BlobWriterPtr> create(std::string_view locator,
                               std::optional<uint64_t> /*size_hint*/ = {}) override {
    UP_TRY(check_locator(locator));
    return std::make_unique<MemoryBlobWriter>(state_, std::string(locator));
  }

  // storage::BlobStore
  net::awaitable<Result<BlobReaderPtr>> open(std::string_view locator, uint64_t offset,
                                             uint64_t length) override {
    co_return open_now(locator, offset, length);
  }

  // storage::BlobStore
  Status remove(std::string_view locator) override {
    UP_TRY(check_locator(locator));
    std::lock_guard lock(state_->mu);
    if (auto it = state_->blobs.find(locator); it != state_->blobs.end()) state_->blobs.erase(it);
    return ok();
  }

  // storage::BlobStore
  Result<BlobPage> list(std::string_view prefix, std::string_view after, size_t limit) override {
    PageCollector page(prefix, after, limit);
    std::lock_guard lock(state_->mu);
    for (auto it = state_->blobs.upper_bound(after); it != state_->blobs.end(); ++it) {
      if (!page.wants(it->first)) continue;
      page.add(BlobEntry{it->first, it->second.data->size(), it->second.modified_at});
    }
    return std::move(page).finish();
  }

  // storage::BlobStore
  Result<uint64_t> remove_stale_temporaries(UnixMs) override {
    // Uncommitted data lives in writers and dies with them; nothing is left over.
    return uint64_t{0};
  }

 private:
  Result<BlobReaderPtr> open_now(std::string_view locator, uint64_t offset, uint64_t length) {
    UP_TRY(check_locator(locator));
    std::lock_guard lock(state_->mu);
    auto it = state_->blobs.find(locator);
    if (it == state_->blobs.end()) return fail(Errc::kObjectNotFound);
    return make_buffer_reader(it->second.data, offset, length);
  }

  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

BlobStorePtr make_memory_blob_store() { return std::make_unique<MemoryBlobStore>(); }

}  // namespace up::storage
