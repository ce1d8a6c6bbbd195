#pragma once
// The outgoing upload callback (spec/jodoo.md §2.6): a small blocking HTTP/1.1
// client that POSTs to allow-listed targets only, so a put policy can never
// make the server reach a host the operator did not name (no SSRF).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace up::dialects::jodoo {

// "http://host[:port]/path?query" split up; only plain http is supported.
struct CallbackUrl {
  std::string host;
  std::string port;            // "80" when absent
  std::string path_and_query;  // "/" when absent
};
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

  // Blocking: connect, send, read the answer, all within the timeout. Returns
  // the response body of a 200; kCallbackFailed for anything else (refused
  // target, network error, timeout, other status, a body over 64 KiB).
  Result<std::string> post(const CallbackRequest& request) const;

 private:
  std::vector<std::string> allow_;
  std::chrono::milliseconds timeout_;
};

}  // namespace up::dialects::jodoo
