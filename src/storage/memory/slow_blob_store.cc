#include "storage/memory/slow_blob_store.h"

#include <thread>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace up::storage {
namespace {

using Latency = std::chrono::milliseconds;

net::awaitable<void> delay(Latency latency) {
  net::steady_timer timer(co_await net::this_coro::executor, latency);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

// What each wrapper holds: the wrapped object and the latency it adds.
template <class T>
class Slowed {
 public:
  Slowed(std::unique_ptr<T> inner, Latency latency) : inner_(std::move(inner)), latency_(latency) {}

 protected:
  std::unique_ptr<T> inner_;
  Latency latency_;
};

class SlowBlobWriter final : public BlobWriter, Slowed<BlobWriter> {
 public:
  using Slowed::Slowed;

  // storage::BlobWriter
  net::awaitable<Status> append(std::string_view data) override {
    co_await delay(latency_);
    co_return co_await inner_->append(data);
  }

  // storage::BlobWriter
  net::awaitable<Status> commit() override {
    co_await delay(latency_);
    co_return co_await inner_->commit();
  }

  // storage::BlobWriter
  uint64_t bytes_written() const override { return inner_->bytes_written(); }
};

class SlowBlobReader final : public BlobReader, Slowed<BlobReader> {
 public:
  using Slowed::Slowed;

  // storage::BlobReader
  uint64_t size() const override { return inner_->size(); }

  // storage::BlobReader
  net::awaitable<Result<size_t>> read(std::span<char> out) override {
    co_await delay(latency_);
    co_return co_await inner_->read(out);
  }
};

class SlowBlobStore final : public BlobStore, Slowed<BlobStore> {
 public:
  using Slowed::Slowed;

  // storage::BlobStore
  Result<BlobWriterPtr> create(std::string_view locator,
                               std::optional<uint64_t> size_hint = {}) override {
    auto w = inner_->create(locator, size_hint);
    if (!w) return fail(w.error());
    return std::make_unique<SlowBlobWriter>(std::move(*w), latency_);
  }

  // storage::BlobStore
  net::awaitable<Result<BlobReaderPtr>> open(std::string_view locator, uint64_t offset,
                                             uint64_t length) override {
    co_await delay(latency_);
    auto r = co_await inner_->open(locator, offset, length);
    if (!r) co_return fail(r.error());
    co_return std::make_unique<SlowBlobReader>(std::move(*r), latency_);
  }

  // storage::BlobStore
  Status remove(std::string_view locator) override {
    std::this_thread::sleep_for(latency_);
    return inner_->remove(locator);
  }

  // storage::BlobStore
  Result<BlobPage> list(std::string_view prefix, std::string_view after, size_t limit) override {
    std::this_thread::sleep_for(latency_);
    return inner_->list(prefix, after, limit);
  }

  // storage::BlobStore
  Result<uint64_t> remove_stale_temporaries(UnixMs older_than) override {
    std::this_thread::sleep_for(latency_);
    return inner_->remove_stale_temporaries(older_than);
  }
};

}  // namespace

BlobStorePtr make_slow_blob_store(BlobStorePtr inner, std::chrono::milliseconds latency) {
  return std::make_unique<SlowBlobStore>(std::move(inner), latency);
}

}  // namespace up::storage
