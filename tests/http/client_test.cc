#include "http/client.h"

#include <memory>
#include <optional>
#include <tuple>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace up::http {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
constexpr auto kTok = net::as_tuple(net::use_awaitable);

// A one-connection peer on 127.0.0.1: records the request, then sends
// `answer` (or, when empty, nothing, holding the connection open).
class Peer {
 public:
  Peer(net::io_context& ioc, std::string answer)
      : acceptor_(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)), socket_(ioc),
        answer_(std::move(answer)) {
    net::co_spawn(ioc, serve(), net::detached);
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
           std::string(path);
  }
  const std::string& request() const { return request_; }

 private:
  net::awaitable<void> serve() {
    auto [aec] = co_await acceptor_.async_accept(socket_, kTok);
    if (aec) co_return;
    std::string buf;
    auto [rec, n] =
        co_await net::async_read_until(socket_, net::dynamic_buffer(buf), "\r\n\r\n", kTok);
    if (rec) co_return;
    const size_t cl = buf.find("Content-Length: ");
    const size_t body = cl == std::string::npos ? 0 : std::stoul(buf.substr(cl + 16));
    if (buf.size() < n + body) {
      auto [bec, m] = co_await net::async_read(socket_, net::dynamic_buffer(buf),
                                               net::transfer_exactly(n + body - buf.size()), kTok);
      if (bec) co_return;
    }
    request_ = buf;
    if (answer_.empty()) co_return;  // the socket stays open, silent
    co_await net::async_write(socket_, net::buffer(answer_), kTok);
    socket_.close();
  }

  tcp::acceptor acceptor_;
  tcp::socket socket_;
  std::string answer_;
  std::string request_;
};

Result<ClientResponse> run(net::io_context& ioc, ClientRequest req) {
  std::optional<Result<ClientResponse>> out;
  net::co_spawn(ioc, send_request(std::move(req)),
                [&](const std::exception_ptr&, Result<ClientResponse> r) {
                  out.emplace(std::move(r));
                  ioc.stop();
                });
  ioc.run();
  if (!out) return fail(Errc::kInternal, "did not finish");
  return std::move(*out);
}

TEST(HttpClientTest, ParsesHttpUrls) {
  struct Case {
    const char* url;
    Url want;
  };
  for (const Case& c : {Case{"http://127.0.0.1:8080/cb?x=1", {"127.0.0.1", "8080", "/cb?x=1"}},
                        Case{"http://example.com", {"example.com", "80", "/"}},
                        Case{"http://[::1]:9000?q", {"::1", "9000", "/?q"}}}) {
    auto u = parse_http_url(c.url);
    ASSERT_TRUE(u) << c.url;
    EXPECT_EQ(std::tie(u->host, u->port, u->path_and_query),
              std::tie(c.want.host, c.want.port, c.want.path_and_query))
        << c.url;
  }
  for (const char* bad : {"https://a/", "ftp://a/", "http://", "http://user@a/", "http://a:x/",
                          "http://a:123456/", "http://a/b c", "http://[::1/"})
    EXPECT_FALSE(parse_http_url(bad)) << bad;
}

TEST(HttpClientTest, SendsTheRequestAndReadsTheAnswer) {
  net::io_context ioc;
  Peer peer(ioc, "HTTP/1.1 201 Created\r\nX-A: b\r\nContent-Length: 2\r\n\r\nok");
  ClientRequest req;
  req.method = "POST";
  req.url = peer.url("/cb?x=1");
  req.headers = {{"Content-Type", "application/json"}};
  req.body = "{}";
  auto res = run(ioc, req);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "ok");
  ASSERT_FALSE(res->headers.empty());
  EXPECT_EQ(res->headers[0].first, "X-A");
  EXPECT_TRUE(peer.request().starts_with("POST /cb?x=1 HTTP/1.1\r\n")) << peer.request();
  EXPECT_NE(peer.request().find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_TRUE(peer.request().ends_with("\r\n\r\n{}"));
}

TEST(HttpClientTest, RefusesAnAnswerOverTheCap) {
  net::io_context ioc;
  Peer peer(ioc, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
  ClientRequest req;
  req.url = peer.url("/");
  req.max_response_bytes = 9;
  auto res = run(ioc, req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::kTooLarge);
}

TEST(HttpClientTest, GivesUpWhenTheBudgetRunsOut) {
  net::io_context ioc;
  Peer peer(ioc, "");
  ClientRequest req;
  req.url = peer.url("/");
  req.timeout = std::chrono::milliseconds(200);
  auto res = run(ioc, req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::kTimeout) << res.error().message;
}

TEST(HttpClientTest, ARefusedConnectionIsUnavailable) {
  net::io_context ioc;
  std::string url;
  {
    tcp::acceptor closed(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    url = "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port()) + "/";
  }
  ClientRequest req;
  req.url = url;
  auto res = run(ioc, req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::kUnavailable);
  EXPECT_TRUE(res.error().message.starts_with("cannot connect")) << res.error().message;
}

TEST(HttpClientTest, RefusesHeadersThatWouldSplitTheRequest) {
  net::io_context ioc;
  ClientRequest req;
  req.url = "http://127.0.0.1:1/";
  req.headers = {{"X-A", "b\r\nX-Evil: 1"}};
  auto res = run(ioc, req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace up::http
