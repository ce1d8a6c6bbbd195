#include "http/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "core/text.h"

namespace up::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
constexpr auto kTok = net::as_tuple(net::use_awaitable);

// A failed step: kTimeout once the budget is spent, else kUnavailable.
Error step_failed(const char* what, const beast::error_code& ec) {
  if (ec == beast::error::timeout) return Error(Errc::kTimeout, std::string(what) + ": timed out");
  return Error(Errc::kUnavailable, std::string(what) + ": " + ec.message());
}

Result<bhttp::request<bhttp::string_body>> build(const ClientRequest& r, const Url& url) {
  const bhttp::verb verb = bhttp::string_to_verb(r.method);
  if (verb == bhttp::verb::unknown) return fail(Errc::kInvalidArgument, "unknown method");
  bhttp::request<bhttp::string_body> req;
  req.method(verb);
  req.target(url.path_and_query);
  req.version(11);
  const bool v6 = url.host.find(':') != std::string::npos;
  req.set(bhttp::field::host,
          (v6 ? "[" + url.host + "]" : url.host) + (url.port == "80" ? "" : ":" + url.port));
  for (const auto& [name, value] : r.headers) {
    // Names and values become request lines: no CR/LF may reach them.
    if (!is_token(name) || has_control_characters(value))
      return fail(Errc::kInvalidArgument, "bad header " + name);
    req.set(name, value);
  }
  req.keep_alive(false);
  req.body() = r.body;
  req.prepare_payload();
  return req;
}

}  // namespace

Result<Url> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() > 2048 || !url.starts_with(kScheme))
    return fail(Errc::kInvalidArgument, "must be an http:// URL");
  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  Url out;
  out.path_and_query = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.path_and_query.front() == '?') out.path_and_query.insert(0, "/");
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return fail(Errc::kInvalidArgument, "has no host");
  std::string_view port = "80";
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(Errc::kInvalidArgument, "has a bad host");
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return fail(Errc::kInvalidArgument, "has a bad host");
      port = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos)
    return fail(Errc::kInvalidArgument, "has a bad host or port");
  out.port = std::string(port);
  for (char c : out.path_and_query)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return fail(Errc::kInvalidArgument, "has a bad path");
  return out;
}

net::awaitable<Result<ClientResponse>> send_request(ClientRequest request) {
  auto url = parse_http_url(request.url);
  if (!url) co_return fail(Errc::kInvalidArgument, "the URL " + url.error().message);
  auto req = build(request, *url);
  if (!req) co_return fail(req.error());

  auto ex = co_await net::this_coro::executor;
  beast::tcp_stream stream(ex);
  stream.expires_after(request.timeout);
  // The resolver has no timeout of its own: a timer on the stream cannot
  // stop it, so a slow DNS answer is bounded by the resolver's own limits.
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(url->host, url->port, kTok);
  if (rec) co_return fail(Errc::kUnavailable, "cannot resolve " + url->host);
  auto [cec, ep] = co_await stream.async_connect(endpoints, kTok);
  if (cec) co_return fail(step_failed("cannot connect", cec));
  auto [wec, wn] = co_await bhttp::async_write(stream, *req, kTok);
  if (wec) co_return fail(step_failed("cannot send", wec));

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(request.max_response_bytes);
  auto [ren, rn] = co_await bhttp::async_read(stream, buffer, parser, kTok);
  if (ren == bhttp::error::body_limit)
    co_return fail(Errc::kTooLarge,
                   "the answer is over " + std::to_string(request.max_response_bytes) + " bytes");
  if (ren) co_return fail(step_failed("no answer", ren));
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  auto res = parser.release();
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res)
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(res.body());
  co_return out;
}

}  // namespace up::http
