#include "http/downloads.h"

#include <optional>
#include <string>

#include "core/files.h"
#include "http/header_params.h"

namespace up::http {

net::awaitable<void> send_object(Exchange& ex, core::FileService& files, const Object& o,
                                 std::function<Response(const Error&)> error_response,
                                 std::string_view disposition) {
  const std::string etag = "\"" + o.sha256 + "\"";
  Response head;
  head.headers.reserve(8);  // all a download's headers, without regrowing
  head.header("ETag", etag);
  head.header("Accept-Ranges", "bytes");
  head.header("Cache-Control", "private, no-cache");
  if (auto inm = ex.header("If-None-Match");
      inm && (*inm == "*" || inm->find(etag) != std::string_view::npos)) {
    head.status = 304;
    co_return co_await ex.send(std::move(head));
  }
  std::optional<ByteRange> range;
  auto range_header = ex.header("Range");
  auto if_range = ex.header("If-Range");
  if (range_header && (!if_range || *if_range == etag)) {
    auto r = parse_range(*range_header, o.size);
    if (!r) {
      auto res = error_response(r.error());
      res.header("Content-Range", "bytes */" + std::to_string(o.size));
      co_return co_await ex.send(std::move(res));
    }
    range = *r;
  }
  head.header("Content-Type", o.content_type.empty() ? "application/octet-stream" : o.content_type);
  head.header("Content-Disposition", format_content_disposition(disposition, o.name));
  head.header("X-Content-Type-Options", "nosniff");
  uint64_t first = 0, length = o.size;
  head.status = 200;
  if (range) {
    first = range->first;
    length = range->length();
    head.status = 206;
    head.header("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                     std::to_string(range->last) + "/" + std::to_string(o.size));
  }
  // A blob in memory is opened in place: no coroutine of the store's.
  // (Not a co_await inside ?: : built so by GCC 12, it jumped to address 0.)
  std::optional<core::ObjectReader> in_memory = files.open_blob_in_memory(o, first, length);
  Result<core::ObjectReader> reader = fail(Errc::kStorageIo);
  if (in_memory) reader = std::move(*in_memory);
  else reader = co_await files.open_blob(o, first, length);
  if (reader && reader->size() != length)
    reader = fail(Errc::kStorageIo, "blob shorter than recorded for object " + o.id);
  if (!reader) co_return co_await ex.send(error_response(reader.error()));
  co_await ex.send_blob(std::move(head), std::move(*reader));
}

}  // namespace up::http
