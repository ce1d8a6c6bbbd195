#include "http/any_stream.h"

#include <type_traits>

#include <boost/asio/ssl/stream.hpp>

namespace up::http {
namespace {

namespace beast = boost::beast;

// Plain TCP or TLS over it: the only two instantiations, in this unit.
template <class Stream>
class StreamView final : public AnyStream {
 public:
  explicit StreamView(Stream& s) : s_(s) {}
  beast::tcp_stream& tcp() override { return beast::get_lowest_layer(s_); }
  bool plain() const override { return std::is_same_v<Stream, beast::tcp_stream>; }

 protected:
  void read_some(net::mutable_buffer into, IoHandler handler) override {
    s_.async_read_some(into, std::move(handler));
  }
  void write_some(std::span<const net::const_buffer> from, IoHandler handler) override {
    s_.async_write_some(from, std::move(handler));
  }

 private:
  Stream& s_;
};

}  // namespace

std::unique_ptr<AnyStream> any_stream(beast::tcp_stream& stream) {
  return std::make_unique<StreamView<beast::tcp_stream>>(stream);
}

std::unique_ptr<AnyStream> any_stream(net::ssl::stream<beast::tcp_stream>& stream) {
  return std::make_unique<StreamView<net::ssl::stream<beast::tcp_stream>>>(stream);
}

}  // namespace up::http
