#include "core/object_reader.h"

#include <utility>

#include "storage/blob_store.h"

namespace up::core {

ObjectReader::ObjectReader(std::unique_ptr<storage::BlobReader> reader)
    : reader_(std::move(reader)) {}
ObjectReader::~ObjectReader() = default;
ObjectReader::ObjectReader(ObjectReader&&) noexcept = default;
ObjectReader& ObjectReader::operator=(ObjectReader&&) noexcept = default;

uint64_t ObjectReader::size() const { return reader_->size(); }

net::awaitable<Result<size_t>> ObjectReader::read(std::span<char> out) {
  co_return co_await reader_->read(out);
}

ObjectReader::File ObjectReader::file() const {
  const storage::FileRange range = reader_->file_range();
  return File{range.fd, range.offset};
}

}  // namespace up::core
