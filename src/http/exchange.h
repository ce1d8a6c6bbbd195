#pragma once
// One HTTP request/response as dialects see it. Implemented by the server
// (http/server.cc) over Beast; this header keeps Beast out of dialect code, and
// only Asio's small awaitable header comes along.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/blocking.h"
#include "core/object_reader.h"
#include "core/result.h"
#include "core/types.h"

namespace up::http {

namespace net = boost::asio;

// A response header's name: a string literal, held as a view (names are
// constants; a std::string each cost an allocation past 15 characters, two
// per download). Only a constant array (a literal) compiles, and only a token
// (RFC 9110 section 5.6.2): the server need not check the name of any header
// it sends, per request.
class HeaderName {
 public:
  // Implicit, so `r.header("ETag", ...)` reads as before.
  template <size_t N>
  consteval HeaderName(const char (&literal)[N]) : name_(literal, N - 1) {  // NOLINT: implicit
    // A throw cannot be evaluated at compile time: a name that is not a token
    // does not compile.
    if (name_.empty()) throw "a header name is a token";
    for (const char c : name_)
      if (!token_char(c)) throw "a header name is a token";
  }
  operator std::string_view() const { return name_; }  // NOLINT: implicit

  static constexpr bool token_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  }

 private:
  std::string_view name_;
};

struct Response {
  int status = 200;
  std::vector<std::pair<HeaderName, std::string>> headers;
  // More header lines, "Name: value\r\n" each, sent after `headers` as they
  // are: a response whose fields are built in one piece (a download's, one
  // allocation rather than one per field; http/downloads.cc). REQUIRES: each
  // name a token, each value passing safe_header_value (http/header_params.h).
  std::string lines;
  std::string body;

  Response& header(HeaderName name, std::string value) {
    headers.emplace_back(name, std::move(value));
    return *this;
  }
};

// A JSON answer. The body is made valid UTF-8 (invalid bytes become U+FFFD),
// so every JSON answer is valid UTF-8 whatever bytes its strings held.
Response json_response(int status, std::string body);
Response empty_response(int status);

// Not thread-safe: used by the one coroutine serving the request.
class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual std::string_view method() const = 0;
  virtual std::string_view target() const = 0;  // as sent: path and query
  virtual std::string_view path() const = 0;    // target before '?', still percent-encoded
  // The first value of a query parameter, percent-decoded ('+' means space).
  virtual std::optional<std::string> query(std::string_view name) const = 0;
  // A request header (name case-insensitive); the first if repeated.
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
  virtual std::optional<uint64_t> content_length() const = 0;
  virtual std::string_view request_id() const = 0;
  virtual std::string_view remote_address() const = 0;

  // The next piece of the body, "" once it is all read. Sends "100 Continue"
  // first when the client asked for it. The view is valid until the next call.
  // Errors: kTimeout (idle past the limit), kInvalidArgument for broken body
  // framing (bad chunk sizes), kUnavailable when the peer went away.
  virtual net::awaitable<Result<std::string_view>> read_chunk() = 0;
  // Ends the body read in progress, if any: that read_chunk fails with
  // kUnavailable, and the connection closes after this request. For a
  // request that another one stops (a tus upload taken over by a newer
  // request, a tus chunk past its stall limit). Not thread-safe: call it on
  // the executor serving this request (net::post there from elsewhere).
  virtual void cancel_read() {}
  // The whole body, refused with kTooLarge past `limit` bytes (for JSON bodies).
  virtual net::awaitable<Result<std::string>> read_all(uint64_t limit) = 0;

  // Sends the response. REQUIRES: called once per request (send or send_blob).
  virtual net::awaitable<void> send(Response response) = 0;
  // Sends the reader's range as the body: from the file with sendfile(2) when
  // the store has one and the connection is plain TCP, else read and written
  // in fixed chunks. `head` carries status and headers (Content-Length is set
  // here, from reader.size()).
  virtual net::awaitable<void> send_blob(Response head, core::ObjectReader reader) = 0;

  // Runs blocking work (metadata, fsync) on the blocking pool and resumes here.
  virtual net::awaitable<void> offload(std::function<void()> work) = 0;
  // Calls `start(resume)` and suspends until `resume` is called, exactly once,
  // from any thread; then resumes here. For work that calls back when done.
  // By reference: g++ 12 destroys temporaries of a co_await expression twice.
  using Resume = std::function<void()>;
  virtual net::awaitable<void> suspend(const std::function<void(Resume)>& start) = 0;

  // Adds a field to this request's access-log line (e.g. the tenant).
  virtual void log_field(std::string_view name, std::string value) = 0;
};

// `auto r = co_await blocking(ex, [&] { return core.do_something(); });`
template <class F>
net::awaitable<std::invoke_result_t<F&>> blocking(Exchange& ex, F&& work) {
  return core::with_result([&ex](std::function<void()> w) { return ex.offload(std::move(w)); },
                           std::forward<F>(work));
}

}  // namespace up::http
