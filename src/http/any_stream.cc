#include "http/any_stream.h"

#include <boost/asio/ssl/stream.hpp>

namespace up::http {
namespace {

namespace beast = boost::beast;
using TlsStream = net::ssl::stream<beast::tcp_stream>;

class PlainStream final : public AnyStream {
 public:
  explicit PlainStream(beast::tcp_stream& s) : s_(s) {}
  beast::tcp_stream& tcp() override { return s_; }
  bool plain() const override { return true; }

 protected:
  void read_some(net::mutable_buffer into, IoHandler handler) override {
    s_.async_read_some(into, std::move(handler));
  }
  void write_some(std::span<const net::const_buffer> from, IoHandler handler) override {
    s_.async_write_some(from, std::move(handler));
  }

 private:
  beast::tcp_stream& s_;
};

class SecureStream final : public AnyStream {
 public:
  explicit SecureStream(TlsStream& s) : s_(s) {}
  beast::tcp_stream& tcp() override { return s_.next_layer(); }
  bool plain() const override { return false; }

 protected:
  void read_some(net::mutable_buffer into, IoHandler handler) override {
    s_.async_read_some(into, std::move(handler));
  }
  void write_some(std::span<const net::const_buffer> from, IoHandler handler) override {
    s_.async_write_some(from, std::move(handler));
  }

 private:
  TlsStream& s_;
};

}  // namespace

std::unique_ptr<AnyStream> any_stream(beast::tcp_stream& stream) {
  return std::make_unique<PlainStream>(stream);
}

std::unique_ptr<AnyStream> any_stream(TlsStream& stream) {
  return std::make_unique<SecureStream>(stream);
}

}  // namespace up::http
