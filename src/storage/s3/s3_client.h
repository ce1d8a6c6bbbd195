#pragma once
// A blocking S3 REST client over libcurl: builds the URL (path-style or
// virtual-host), signs with SigV4, retries idempotent calls, maps failures to
// Errors. Every call blocks its thread: the store runs them on the blocking
// pool, never on an I/O thread. Thread-safe; each thread reuses its own curl
// handle, so connections stay open between calls (keep-alive).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "storage/s3/sigv4.h"

namespace up::storage::s3 {

struct Endpoint {
  std::string scheme = "https";  // http | https
  std::string host;              // name or IP (an IPv6 literal in brackets)
  std::string port;              // empty: the scheme's default
  std::string bucket;
  std::string region = "us-east-1";
  bool path_style = false;
  std::string access_key;
  std::string secret_key;
  // Connect budget per attempt; a transfer that moves less than 1 KiB/s for
  // `stall` fails (no total cap: a 1 GiB part may take a while).
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds stall{15000};
  // Attempts of an idempotent call on kUnavailable (backoff 100 ms, x4).
  int attempts = 3;
};

struct Request {
  std::string method = "GET";
  std::string key;  // object key; empty: the bucket itself
  Fields query;     // unencoded
  Fields headers;   // extra signed headers, names lower case
  std::string_view body;
  // Instead of `body` (a PUT): a body of `source_size` bytes produced while it
  // is sent. Fills the span and returns how many bytes it put there (0 only at
  // the end), or nullopt to abort the transfer (the store gets fewer bytes than
  // announced and keeps nothing). May block waiting for bytes: a body that
  // comes at its client's pace is not a stall until nothing moved for 2 minutes.
  std::function<std::optional<size_t>(std::span<char>)> source;
  uint64_t source_size = 0;
  // Receives the body of a 2xx answer piece by piece (returns false to stop);
  // null: the body is kept in Response::body, up to 4 MiB.
  std::function<bool(std::string_view)> sink;
  // Called before each attempt (a retry starts the sink's data over).
  std::function<void()> restart;
  // GET, HEAD, DELETE and listings: retried with backoff on kUnavailable.
  bool idempotent = false;
};

// A request to build on (avoids designated initializers that skip members).
inline Request make_request(std::string method, std::string key = {}, bool idempotent = false) {
  Request r;
  r.method = std::move(method);
  r.key = std::move(key);
  r.idempotent = idempotent;
  return r;
}

struct Response {
  int status = 0;
  Fields headers;  // names lower case
  std::string body;
  std::string header(std::string_view lower_name) const;
  // <Code> of an S3 error document ("" when none).
  std::string error_code() const;
};

class Client {
 public:
  explicit Client(Endpoint endpoint);

  // Sends `request`; any HTTP status is a Response. kUnavailable when the
  // store cannot be reached, a transfer stalls, or it answers 5xx (after the
  // retries of an idempotent call); the message names the endpoint.
  Result<Response> send(const Request& request) const;
  const Endpoint& endpoint() const { return endpoint_; }
  // "http://127.0.0.1:7480/bucket" for messages.
  std::string describe() const;

 private:
  Result<Response> send_once(const Request& request) const;
  // Logs the start and the end of an outage once each, so the 503s clients get
  // meanwhile (whose bodies hide the store's address) can be explained.
  void note_reachable(const Result<Response>& r) const;

  Endpoint endpoint_;
  std::string host_header_;  // host[:port] as sent and signed
  std::unique_ptr<std::atomic<bool>> down_ = std::make_unique<std::atomic<bool>>(false);
};

// The Error for a non-2xx answer to `what` (e.g. "PUT key"): 404 NoSuchKey ->
// kObjectNotFound, 412 -> kAlreadyExists, 5xx -> kUnavailable, the rest
// kStorageIo with the S3 code.
Error error_from(const Response& response, std::string_view what);

// The text of the first <tag>...</tag> in `xml` at or after `from`, entities
// decoded; "" when absent. `next` (if set) gets the offset after the close tag.
std::string xml_text(std::string_view xml, std::string_view tag, size_t from = 0,
                     size_t* next = nullptr);

}  // namespace up::storage::s3
