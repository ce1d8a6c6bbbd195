#pragma once
// The outgoing upload callback (spec/jodoo.md §2.6): POSTs through the
// server's HTTP client (http/client.h) to allow-listed targets only, so a put
// policy can never make the server reach a host the operator did not name (no SSRF).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/result.h"
#include "http/client.h"

namespace up::dialects::jodoo {

// "http://host[:port]/path?query" split up; only plain http is supported.
using CallbackUrl = http::Url;
// kInvalidArgument for anything but a well-formed http:// URL.
Result<CallbackUrl> parse_callback_url(std::string_view url);

struct CallbackRequest {
  std::string url;
  std::string host_header;  // the policy's callbackHost; the URL's host when empty
  std::string content_type;
  std::string authorization;
  std::string body;
};

// Thread-safe (immutable).
class CallbackClient {
 public:
  // `allow` holds "host:port" entries (the URL's host as written, port
  // explicit); empty refuses every callback.
  CallbackClient(std::vector<std::string> allow, std::chrono::milliseconds timeout)
      : allow_(std::move(allow)), timeout_(timeout) {}

  bool allowed(const CallbackUrl& url) const;

  // Connects, sends, reads the answer, all within the timeout, on the calling
  // coroutine's executor (no thread waits). Returns the response body of a
  // 200; kCallbackFailed for anything else (refused target, network error,
  // timeout, other status, a body over 64 KiB).
  boost::asio::awaitable<Result<std::string>> post(CallbackRequest request) const;

 private:
  std::vector<std::string> allow_;
  std::chrono::milliseconds timeout_;
};

}  // namespace up::dialects::jodoo
