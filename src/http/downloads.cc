#include "http/downloads.h"

#include <optional>
#include <string>
#include <utility>

#include "core/files.h"
#include "http/header_params.h"

namespace up::http {
namespace {

// A blob that holds fewer bytes than its object's row says.
Error shorter_than_recorded(const Object& o) {
  return Error{Errc::kStorageIo, "blob shorter than recorded for object " + o.id};
}

// The rest of send_object when the blob must be opened from the store: a
// coroutine of its own, holding its own copy of what it needs from the object
// (send_object's caller need not keep it).
net::awaitable<void> open_and_send(Exchange& ex, core::FileService& files, Object o, Response head,
                                   uint64_t first, uint64_t length,
                                   std::function<Response(const Error&)> error_response) {
  auto reader = co_await files.open_blob(o, first, length);
  if (reader && reader->size() != length) reader = fail(shorter_than_recorded(o));
  if (!reader) co_return co_await ex.send(error_response(reader.error()));
  co_await ex.send_blob(std::move(head), std::move(*reader));
}

}  // namespace

// Not a coroutine: what it awaits is the response's send (or open_and_send),
// returned as is, so a download of a blob in memory costs no frame here.
net::awaitable<void> send_object(Exchange& ex, core::FileService& files, const Object& o,
                                 std::function<Response(const Error&)> error_response,
                                 std::string_view disposition) {
  Response head;
  head.headers.reserve(8);  // all a download's headers, without regrowing
  head.header("ETag", "\"" + o.sha256 + "\"");
  const std::string& etag = head.headers.front().second;  // stays put: reserved
  head.header("Accept-Ranges", "bytes");
  head.header("Cache-Control", "private, no-cache");
  if (auto inm = ex.header("If-None-Match");
      inm && (*inm == "*" || inm->find(etag) != std::string_view::npos)) {
    head.status = 304;
    return ex.send(std::move(head));
  }
  std::optional<ByteRange> range;
  auto range_header = ex.header("Range");
  auto if_range = ex.header("If-Range");
  if (range_header && (!if_range || *if_range == etag)) {
    auto r = parse_range(*range_header, o.size);
    if (!r) {
      auto res = error_response(r.error());
      res.header("Content-Range", "bytes */" + std::to_string(o.size));
      return ex.send(std::move(res));
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
  // A blob in memory is opened here, without a coroutine of the store's.
  if (auto reader = files.open_blob_in_memory(o, first, length)) {
    if (reader->size() != length) return ex.send(error_response(shorter_than_recorded(o)));
    return ex.send_blob(std::move(head), std::move(*reader));
  }
  return open_and_send(ex, files, o, std::move(head), first, length, std::move(error_response));
}

}  // namespace up::http
