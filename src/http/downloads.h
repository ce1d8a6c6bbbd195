#pragma once
// Answering a GET for a stored object, the same way for every dialect:
// ETag + If-None-Match (304), Range + If-Range (206, or 416 with
// Content-Range), Content-Type, Content-Disposition, streamed from the blob.

#include <functional>
#include <string_view>

#include "core/types.h"
#include "http/exchange.h"

namespace up::core {
class FileService;
}

namespace up::http {

// `error_response` shapes a failure (an unsatisfiable range, a missing blob)
// in the calling dialect's envelope. `disposition` is "attachment" or "inline".
// Keeps nothing of `object` (nor of `disposition`) past its return: a caller
// that needs no frame of its own may return what it gives without awaiting.
net::awaitable<void> send_object(Exchange& ex, core::FileService& files, const Object& object,
                                 std::function<Response(const Error&)> error_response,
                                 std::string_view disposition = "attachment");

}  // namespace up::http
