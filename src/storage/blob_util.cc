#include "storage/blob_util.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace up::storage {
namespace {

class BufferReader final : public BlobReader {
 public:
  BufferReader(std::shared_ptr<const std::string> data, uint64_t offset, uint64_t length)
      : data_(std::move(data)) {
    next_ = std::min<uint64_t>(offset, data_->size());
    end_ = next_ + std::min<uint64_t>(length, data_->size() - next_);
  }

  // storage::BlobReader
  uint64_t size() const override { return end_ - next_ + done_; }

  // storage::BlobReader
  net::awaitable<Result<size_t>> read(std::span<char> out) override {
    const size_t n = std::min<uint64_t>(out.size(), end_ - next_);
    if (n > 0) std::memcpy(out.data(), data_->data() + next_, n);  // an empty span may be null
    next_ += n;
    done_ += n;
    co_return n;
  }

 private:
  std::shared_ptr<const std::string> data_;
  uint64_t next_ = 0;
  uint64_t end_ = 0;
  uint64_t done_ = 0;
};

}  // namespace

BlobReaderPtr make_buffer_reader(std::shared_ptr<const std::string> data, uint64_t offset,
                                 uint64_t length) {
  return std::make_unique<BufferReader>(std::move(data), offset, length);
}

PageCollector::PageCollector(std::string_view prefix, std::string_view after, size_t limit)
    : prefix_(prefix), after_(after), limit_(std::max<size_t>(limit, 1)) {}

bool PageCollector::wants(std::string_view locator) const {
  if (locator.substr(0, prefix_.size()) != prefix_ || locator <= after_) return false;
  return kept_.size() < limit_ || locator < std::prev(kept_.end())->locator;
}

void PageCollector::add(BlobEntry entry) {
  kept_.insert(std::move(entry));
  if (kept_.size() > limit_) kept_.erase(std::prev(kept_.end()));
}

BlobPage PageCollector::finish() && {
  BlobPage page;
  const bool full = kept_.size() == limit_;
  page.entries.reserve(kept_.size());
  while (!kept_.empty()) page.entries.push_back(std::move(kept_.extract(kept_.begin()).value()));
  if (full) page.next_after = page.entries.back().locator;
  return page;
}

}  // namespace up::storage
