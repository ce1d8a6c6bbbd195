#pragma once
// The bytes of one range of a stored object, as a download sends them. This is
// the core type http sees; the blob store behind it stays out of its headers.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "core/result.h"

namespace up::storage {
class BlobReader;
}  // namespace up::storage

namespace up::core {

namespace net = boost::asio;

// Not thread-safe: one coroutine reads it.
class ObjectReader {
 public:
  explicit ObjectReader(std::unique_ptr<storage::BlobReader> reader);
  // The range [offset, offset + length) of a blob held in memory, clipped to
  // its end: no store reader behind it.
  ObjectReader(std::shared_ptr<const std::string> blob, uint64_t offset, uint64_t length);
  ~ObjectReader();
  ObjectReader(ObjectReader&&) noexcept;
  ObjectReader& operator=(ObjectReader&&) noexcept;

  // The length of the range.
  uint64_t size() const;
  // The next bytes of the range, up to out.size(); 0 once it is all read.
  net::awaitable<Result<size_t>> read(std::span<char> out);

  // What read() would still give, when the range is in memory: a download
  // sends it from there without reading. Valid while this lives; nullopt when
  // the range must be read.
  std::optional<std::string_view> bytes() const;

  // Where the whole range can be sent from without copying (sendfile), when
  // the store keeps it in a local file; fd -1 otherwise. Valid while this lives.
  struct File {
    int fd = -1;
    uint64_t offset = 0;
  };
  File file() const;

 private:
  std::unique_ptr<storage::BlobReader> reader_;  // null for a blob in memory
  std::shared_ptr<const std::string> blob_;
  std::string_view range_;  // of *blob_: what read() has not given out yet
  uint64_t size_ = 0;
};

}  // namespace up::core
