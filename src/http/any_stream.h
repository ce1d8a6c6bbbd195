#pragma once
// The server's connection stream, plain TCP or TLS, behind two virtual calls.
// Beast's parser, serializer and composed reads and writes are templates over
// the stream type; over this one type they are compiled once instead of once
// per transport (server.cc was the costliest unit of every build). What only
// one transport does (the TLS handshake, sendfile on plain TCP) stays outside.
// Includes Beast: http/server.cc only.

#include <array>
#include <cstddef>
#include <memory>
#include <span>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace boost::asio::ssl {
template <class Stream>
class stream;
}

namespace up::http {

namespace net = boost::asio;

// A read or write's completion handler, type-erased, with the executor it is
// bound to (the connection's strand). Boost 1.81's any_completion_handler
// would do, but its executor lacks the blocking.never that Beast's tcp_stream
// requires of it.
class IoHandler {
 public:
  using executor_type = net::any_io_executor;

  template <class Handler>
  IoHandler(Handler&& handler, const executor_type& fallback)
      : executor_(net::get_associated_executor(handler, fallback)),
        call_(std::make_unique<Call<std::decay_t<Handler>>>(std::forward<Handler>(handler))) {}

  executor_type get_executor() const noexcept { return executor_; }
  void operator()(boost::beast::error_code ec, std::size_t n) {
    auto call = std::move(call_);  // once; the handler may start the next operation
    call->run(ec, n);
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void run(boost::beast::error_code ec, std::size_t n) = 0;
  };
  template <class Handler>
  struct Call final : Base {
    explicit Call(Handler&& h) : handler(std::move(h)) {}
    void run(boost::beast::error_code ec, std::size_t n) override { std::move(handler)(ec, n); }
    Handler handler;
  };
  executor_type executor_;
  std::unique_ptr<Base> call_;
};

class AnyStream {
 public:
  using executor_type = net::any_io_executor;

  virtual ~AnyStream() = default;
  AnyStream() = default;
  AnyStream(const AnyStream&) = delete;
  AnyStream& operator=(const AnyStream&) = delete;

  executor_type get_executor() { return tcp().get_executor(); }
  // The TCP stream underneath: timeouts, shutdown, lingering reads.
  virtual boost::beast::tcp_stream& tcp() = 0;
  // Whether bytes written to tcp() reach the peer as they are (no TLS).
  virtual bool plain() const = 0;

  // AsyncReadStream. Reads into the first non-empty buffer only: a read may
  // always return less than asked (Beast reads into one buffer anyway).
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    net::mutable_buffer into;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      into = net::mutable_buffer(*it);
      if (into.size() > 0) break;
    }
    return net::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, net::mutable_buffer b) {
          read_some(b, IoHandler(std::move(handler), get_executor()));
        },
        token, into);
  }

  // AsyncWriteStream. Writes at most kMaxGather buffers in one call: a write
  // may always write less than asked, and async_write loops.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    std::size_t n = 0;
    for (auto it = net::buffer_sequence_begin(buffers);
         it != net::buffer_sequence_end(buffers) && n < kMaxGather; ++it) {
      net::const_buffer b(*it);
      if (b.size() > 0) gather_[n++] = b;
    }
    return net::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, std::size_t count) {
          write_some(std::span<const net::const_buffer>(gather_.data(), count),
                     IoHandler(std::move(handler), get_executor()));
        },
        token, n);
  }

 protected:
  virtual void read_some(net::mutable_buffer into, IoHandler handler) = 0;
  // `from` stays valid until the handler runs (one write at a time).
  virtual void write_some(std::span<const net::const_buffer> from, IoHandler handler) = 0;

 private:
  static constexpr std::size_t kMaxGather = 16;
  std::array<net::const_buffer, kMaxGather> gather_{};
};

// Views of a stream the caller owns and keeps alive longer.
std::unique_ptr<AnyStream> any_stream(boost::beast::tcp_stream& stream);
std::unique_ptr<AnyStream> any_stream(net::ssl::stream<boost::beast::tcp_stream>& stream);

}  // namespace up::http
