#include "core/object_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "storage/blob_store.h"

namespace up::core {

ObjectReader::ObjectReader(std::unique_ptr<storage::BlobReader> reader)
    : reader_(std::move(reader)) {}
ObjectReader::ObjectReader(std::shared_ptr<const std::string> blob, uint64_t offset,
                           uint64_t length)
    : blob_(std::move(blob)) {
  const std::string_view all(*blob_);
  const size_t first = static_cast<size_t>(std::min<uint64_t>(offset, all.size()));
  range_ = all.substr(first, static_cast<size_t>(std::min<uint64_t>(length, all.size() - first)));
  size_ = range_.size();
}
ObjectReader::~ObjectReader() = default;
ObjectReader::ObjectReader(ObjectReader&&) noexcept = default;
ObjectReader& ObjectReader::operator=(ObjectReader&&) noexcept = default;

uint64_t ObjectReader::size() const { return reader_ ? reader_->size() : size_; }

net::awaitable<Result<size_t>> ObjectReader::read(std::span<char> out) {
  if (reader_) co_return co_await reader_->read(out);
  const size_t n = std::min(out.size(), range_.size());
  if (n > 0) std::memcpy(out.data(), range_.data(), n);  // an empty span may be null
  range_.remove_prefix(n);
  co_return n;
}

std::optional<std::string_view> ObjectReader::bytes() const {
  if (reader_) return std::nullopt;
  return range_;
}

ObjectReader::File ObjectReader::file() const {
  if (!reader_) return File{};
  const storage::FileRange range = reader_->file_range();
  return File{range.fd, range.offset};
}

}  // namespace up::core
