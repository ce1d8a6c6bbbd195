#include "http/exchange.h"

#include "core/text.h"
#include "core/uploads.h"

namespace up::http {

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.header("Content-Type", "application/json; charset=utf-8");
  // boost::json::serialize copies the bytes of a string as they are, so a
  // stored value with invalid UTF-8 (from before upgate refused such input, or
  // a message quoting a client's bytes) would make the whole answer invalid
  // JSON. Outside strings JSON is ASCII, so replacing invalid sequences
  // anywhere only ever touches string contents.
  if (!valid_utf8(body)) body = to_valid_utf8(body);
  r.body = std::move(body);
  return r;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  return r;
}

net::awaitable<Result<Object>> commit_upload(Exchange& ex, core::UploadService& uploads,
                                             core::Upload& upload) {
  if (!upload.batchable()) co_return co_await blocking(ex, [&] { return upload.commit(); });
  std::optional<Result<Object>> result;
  const std::function<void(Exchange::Resume)> start = [&](const Exchange::Resume& resume) {
    uploads.commit_batched(upload, [&result, resume](Result<Object> r) {
      result.emplace(std::move(r));
      resume();
    });
  };
  co_await ex.suspend(start);
  co_return std::move(*result);
}

}  // namespace up::http
