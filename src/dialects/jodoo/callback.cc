#include "dialects/jodoo/callback.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace up::dialects::jodoo {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
constexpr auto kTok = net::as_tuple(net::use_awaitable);
constexpr uint64_t kMaxResponseBytes = 64 * 1024;

Error callback_failed(const std::string& why) {
  return Error(Errc::kCallbackFailed, "callback failed: " + why);
}

net::awaitable<Result<std::string>> exchange(CallbackUrl url, const CallbackRequest& request,
                                             std::chrono::milliseconds timeout) {
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, kTok);
  if (rec) co_return fail(callback_failed("cannot resolve " + url.host));
  beast::tcp_stream stream(ex);
  stream.expires_after(timeout);  // one budget for the whole exchange
  auto [cec, ep] = co_await stream.async_connect(endpoints, kTok);
  if (cec) co_return fail(callback_failed("cannot connect: " + cec.message()));

  bhttp::request<bhttp::string_body> req;
  req.method(bhttp::verb::post);
  req.target(url.path_and_query);
  req.version(11);
  req.set(bhttp::field::host, request.host_header.empty() ? url.host : request.host_header);
  req.set(bhttp::field::content_type, request.content_type);
  req.set(bhttp::field::authorization, request.authorization);
  req.set(bhttp::field::user_agent, "upgate-callback");
  req.keep_alive(false);
  req.body() = request.body;
  req.prepare_payload();
  auto [wec, wn] = co_await bhttp::async_write(stream, req, kTok);
  if (wec) co_return fail(callback_failed("cannot send: " + wec.message()));

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  auto [rec2, rn] = co_await bhttp::async_read(stream, buffer, parser, kTok);
  if (rec2) co_return fail(callback_failed("no answer: " + rec2.message()));
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  const auto& res = parser.get();
  if (res.result_int() != 200)
    co_return fail(callback_failed("status " + std::to_string(res.result_int())));
  co_return res.body();
}

}  // namespace

Result<CallbackUrl> parse_callback_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() > 2048 || !url.starts_with(kScheme))
    return fail(Errc::kInvalidArgument, "callbackUrl must be an http:// URL");
  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  CallbackUrl out;
  out.path_and_query = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.path_and_query.front() == '?') out.path_and_query.insert(0, "/");
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return fail(Errc::kInvalidArgument, "callbackUrl has no host");
  std::string_view port = "80";
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return fail(Errc::kInvalidArgument, "callbackUrl has a bad host");
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return fail(Errc::kInvalidArgument, "callbackUrl has a bad host");
      port = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos)
    return fail(Errc::kInvalidArgument, "callbackUrl has a bad host or port");
  out.port = std::string(port);
  for (char c : out.path_and_query)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return fail(Errc::kInvalidArgument, "callbackUrl has a bad path");
  return out;
}

bool CallbackClient::allowed(const CallbackUrl& url) const {
  const std::string target =
      (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) + ":" + url.port;
  for (const auto& a : allow_)
    if (a == target) return true;
  return false;
}

Result<std::string> CallbackClient::post(const CallbackRequest& request) const {
  auto url = parse_callback_url(request.url);
  if (!url) return fail(callback_failed(url.error().message));
  if (!allowed(*url)) return fail(callback_failed("target not allowed (--jodoo-callback-allow)"));
  net::io_context ioc;
  Result<std::string> result = fail(callback_failed("not run"));
  net::co_spawn(ioc, exchange(std::move(*url), request, timeout_),
                [&result](const std::exception_ptr& e, Result<std::string> r) {
                  if (e) result = fail(callback_failed("unexpected error"));
                  else result = std::move(r);
                });
  ioc.run();
  return result;
}

}  // namespace up::dialects::jodoo
