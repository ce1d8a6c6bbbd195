#pragma once
// Socket-level pieces of the server (http/server.cc only): a cancelling
// deadline for one wait, and zero-copy file sends. Includes Beast: keep it out
// of every other header.

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace up::http {

namespace net = boost::asio;

// A deadline for one read or wait. Unlike tcp_stream's own expiry, which
// closes the socket, it only cancels the operation, so the client can still
// be told 408.
class ReadDeadline {
 public:
  ReadDeadline(boost::beast::tcp_stream& stream, std::chrono::milliseconds timeout);
  ~ReadDeadline();
  ReadDeadline(const ReadDeadline&) = delete;
  ReadDeadline& operator=(const ReadDeadline&) = delete;

  // The operation's error as the caller should see it.
  boost::beast::error_code result(boost::beast::error_code ec) const;

 private:
  struct State {
    bool armed = true;
    bool passed = false;
  };
  net::steady_timer timer_;
  std::shared_ptr<State> state_;
};

// Sends `length` bytes of the file `fd` from `offset` over the stream's socket
// with sendfile(2): the bytes go from the page cache to the socket without a
// copy through user space. Waits for the socket between calls; `timeout` is
// time without progress. Adds what went out to `sent`. A file shorter than
// the range is an error (the response is then cut short).
net::awaitable<boost::beast::error_code> send_file(boost::beast::tcp_stream& stream, int fd,
                                                   uint64_t offset, uint64_t length,
                                                   std::chrono::milliseconds timeout,
                                                   uint64_t& sent);

// Reads at most `size` bytes of what has arrived on the stream's socket into
// `into`, straight from the socket: no copy through Beast's buffer, and as
// much as is there (Beast reads 64 KiB at most). Returns at once when bytes
// are there (the caller lets the thread's other work run between reads);
// waits for the socket, and arms the deadline, only when none are. `timeout`
// is time without progress. The peer's close is net::error::eof, never 0
// bytes without an error.
net::awaitable<std::pair<boost::beast::error_code, size_t>> receive_some(
    boost::beast::tcp_stream& stream, char* into, size_t size, std::chrono::milliseconds timeout);

}  // namespace up::http
