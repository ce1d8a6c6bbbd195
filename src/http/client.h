#pragma once
// A small outgoing HTTP/1.1 client for the server's own coroutines: one
// request per connection, awaited on the calling coroutine's executor (the
// server's io_context), so waiting for a slow peer holds no thread. Plain
// http:// only (no TLS yet). Dialect-free: Jodoo's upload callbacks use it
// today, an S3 store will tomorrow. This header keeps Beast out.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/result.h"

namespace up::http {

// "http://host[:port][/path][?query]" split up.
struct Url {
  std::string host;            // an IPv6 literal without its brackets
  std::string port;            // "80" when absent
  std::string path_and_query;  // "/" when absent
};
// kInvalidArgument for anything but a well-formed http:// URL (no user info,
// no control characters or spaces); the message completes "the URL ...",
// e.g. "must be an http:// URL".
Result<Url> parse_http_url(std::string_view url);

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // as parse_http_url takes it
  // Sent as given; Host defaults to the URL's authority, Content-Length is set.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // One budget for the whole exchange: resolve, connect, send and read.
  std::chrono::milliseconds timeout{5000};
  uint64_t max_response_bytes = 64 * 1024;  // body cap; more fails the request
};

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Sends `request` and reads the whole answer (whatever its status). Errors:
// kInvalidArgument (bad URL, method or header), kTimeout (the budget ran out),
// kTooLarge (the answer's body is over the cap), kUnavailable (cannot resolve,
// connect, send or read; the message says which, starting with "cannot").
// Must be awaited from a coroutine on an io_context executor.
boost::asio::awaitable<Result<ClientResponse>> send_request(ClientRequest request);

}  // namespace up::http
