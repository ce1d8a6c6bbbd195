#include "http/downloads.h"

#include <optional>
#include <string>
#include <utility>

#include "core/files.h"
#include "core/text.h"
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

// Whether a header value `v` (If-None-Match, If-Range) holds the ETag of a
// blob with this SHA-256, `"<sha256>"`, anywhere (`exact`: is just that), the
// ETag not built.
bool names_etag(std::string_view v, std::string_view sha256, bool exact) {
  if (exact)
    return v.size() == sha256.size() + 2 && v.front() == '"' && v.back() == '"' &&
           v.substr(1, sha256.size()) == sha256;
  for (size_t at = v.find(sha256); at != std::string_view::npos; at = v.find(sha256, at + 1))
    if (at > 0 && v[at - 1] == '"' && at + sha256.size() < v.size() && v[at + sha256.size()] == '"')
      return true;
  return false;
}

}  // namespace

// Not a coroutine: what it awaits is the response's send (or open_and_send),
// returned as is, so a download of a blob in memory costs no frame here.
net::awaitable<void> send_object(Exchange& ex, core::FileService& files, const Object& o,
                                 std::function<Response(const Error&)> error_response,
                                 std::string_view disposition) {
  const std::string_view sha256 = o.sha256;
  if (auto inm = ex.header("If-None-Match");
      inm && (*inm == "*" || names_etag(*inm, sha256, false))) {
    Response head;
    head.status = 304;
    head.header("ETag", "\"" + o.sha256 + "\"");
    head.header("Accept-Ranges", "bytes");
    head.header("Cache-Control", "private, no-cache");
    return ex.send(std::move(head));
  }
  std::optional<ByteRange> range;
  auto range_header = ex.header("Range");
  auto if_range = ex.header("If-Range");
  if (range_header && (!if_range || names_etag(*if_range, sha256, true))) {
    auto r = parse_range(*range_header, o.size);
    if (!r) {
      auto res = error_response(r.error());
      res.header("Content-Range", "bytes */" + std::to_string(o.size));
      return ex.send(std::move(res));
    }
    range = *r;
  }
  const std::string_view type =
      o.content_type.empty() ? std::string_view("application/octet-stream") : o.content_type;
  uint64_t first = 0, length = o.size;
  Response head;
  head.status = 200;
  // The fields as one string (Response::lines). The stored values are checked
  // here; one that fails goes to `headers` instead, where the server refuses
  // it (500), as it refuses any unsafe header.
  std::string& lines = head.lines;
  lines.reserve(320 + o.name.size() * 4);  // room for a name that is all escapes
  const bool safe_sha = safe_header_value(sha256), safe_type = safe_header_value(type);
  if (safe_sha) append_all(lines, "ETag: \"", sha256, "\"\r\n");
  else head.header("ETag", "\"" + o.sha256 + "\"");
  append_all(lines, "Accept-Ranges: bytes\r\nCache-Control: private, no-cache\r\n");
  if (safe_type) append_all(lines, "Content-Type: ", type, "\r\n");
  else head.header("Content-Type", std::string(type));
  lines += "Content-Disposition: ";
  append_content_disposition(lines, disposition, o.name);  // safe for any name
  append_all(lines, "\r\nX-Content-Type-Options: nosniff\r\n");
  if (range) {
    first = range->first;
    length = range->length();
    head.status = 206;
    DecimalDigits a{}, b{}, n{};
    append_all(lines, "Content-Range: bytes ", format_decimal(a, range->first), "-",
               format_decimal(b, range->last), "/", format_decimal(n, o.size), "\r\n");
  }
  // A blob in memory is opened here, without a coroutine of the store's.
  if (auto reader = files.open_blob_in_memory(o, first, length)) {
    if (reader->size() != length) return ex.send(error_response(shorter_than_recorded(o)));
    return ex.send_blob(std::move(head), std::move(*reader));
  }
  return open_and_send(ex, files, o, std::move(head), first, length, std::move(error_response));
}

}  // namespace up::http
