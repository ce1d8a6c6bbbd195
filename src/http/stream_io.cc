#include "http/stream_io.h"

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace up::http {
namespace {

namespace beast = boost::beast;

constexpr auto kTok = net::as_tuple(net::use_awaitable);
// One sendfile call at most: a slow client then still gets its deadline checked.
constexpr uint64_t kSendfileStep = 4ull << 20;

}  // namespace

ReadDeadline::ReadDeadline(beast::tcp_stream& stream, std::chrono::milliseconds timeout)
    : timer_(stream.get_executor()), state_(std::make_shared<State>()) {
  stream.expires_never();
  timer_.expires_after(timeout);
  // Runs on the connection's strand; `stream` is touched only while armed,
  // that is while this object (and so the operation) still lives.
  timer_.async_wait([&stream, state = state_](const beast::error_code& ec) {
    if (ec || !state->armed) return;
    state->passed = true;
    stream.cancel();
  });
}

ReadDeadline::~ReadDeadline() {
  state_->armed = false;
  timer_.cancel();
}

beast::error_code ReadDeadline::result(beast::error_code ec) const {
  return state_->passed ? beast::error_code(beast::error::timeout) : ec;
}

net::awaitable<beast::error_code> send_file(beast::tcp_stream& stream, int fd, uint64_t offset,
                                            uint64_t length, std::chrono::milliseconds timeout,
                                            uint64_t& sent) {
  auto& socket = stream.socket();
  beast::error_code ec;
  // Asio keeps its sockets non-blocking underneath; say so explicitly, since
  // a blocking sendfile here would stall the I/O thread.
  socket.native_non_blocking(true, ec);
  if (ec) co_return ec;
  while (length > 0) {
    auto off = static_cast<off_t>(offset);
    const ssize_t n = ::sendfile(socket.native_handle(), fd, &off,
                                 static_cast<size_t>(std::min(length, kSendfileStep)));
    if (n > 0) {
      offset += static_cast<uint64_t>(n);
      length -= static_cast<uint64_t>(n);
      sent += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) co_return beast::error_code(net::error::eof);  // the file got shorter
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return beast::error_code(errno, beast::system_category());
    ReadDeadline deadline(stream, timeout);
    auto [wec] = co_await socket.async_wait(net::socket_base::wait_write, kTok);
    if (auto err = deadline.result(wec)) co_return err;
  }
  co_return beast::error_code{};
}

net::awaitable<std::pair<beast::error_code, size_t>> receive_some(
    beast::tcp_stream& stream, char* into, size_t size, std::chrono::milliseconds timeout) {
  auto& socket = stream.socket();
  for (;;) {
    // MSG_DONTWAIT: this must never block the I/O thread, whatever the
    // socket's mode.
    const ssize_t n = ::recv(socket.native_handle(), into, size, MSG_DONTWAIT);
    if (n > 0) co_return std::pair{beast::error_code{}, static_cast<size_t>(n)};
    if (n == 0) co_return std::pair{beast::error_code(net::error::eof), size_t{0}};
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      co_return std::pair{beast::error_code(errno, beast::system_category()), size_t{0}};
    ReadDeadline deadline(stream, timeout);
    auto [wec] = co_await socket.async_wait(net::socket_base::wait_read, kTok);
    if (auto err = deadline.result(wec)) co_return std::pair{err, size_t{0}};
  }
}

}  // namespace up::http
