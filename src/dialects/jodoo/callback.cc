#include "dialects/jodoo/callback.h"

namespace up::dialects::jodoo {
namespace {

namespace net = boost::asio;
constexpr uint64_t kMaxResponseBytes = 64 * 1024;

Error callback_failed(const std::string& why) {
  return Error(Errc::kCallbackFailed, "callback failed: " + why);
}

}  // namespace

Result<CallbackUrl> parse_callback_url(std::string_view url) {
  auto parsed = http::parse_http_url(url);
  if (!parsed) return fail(Errc::kInvalidArgument, "callbackUrl " + parsed.error().message);
  return parsed;
}

bool CallbackClient::allowed(const CallbackUrl& url) const {
  const std::string target =
      (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) + ":" + url.port;
  for (const auto& a : allow_)
    if (a == target) return true;
  return false;
}

net::awaitable<Result<std::string>> CallbackClient::post(CallbackRequest request) const {
  auto url = parse_callback_url(request.url);
  if (!url) co_return fail(callback_failed(url.error().message));
  if (!allowed(*url))
    co_return fail(callback_failed("target not allowed (--jodoo-callback-allow)"));
  http::ClientRequest req;
  req.method = "POST";
  req.url = request.url;
  // One emplace_back each: g++ 12 miscompiles initializer lists of string
  // literals inside coroutines.
  req.headers.emplace_back("Host", request.host_header.empty() ? url->host : request.host_header);
  req.headers.emplace_back("Content-Type", request.content_type);
  req.headers.emplace_back("Authorization", request.authorization);
  req.headers.emplace_back("User-Agent", "upgate-callback");
  req.body = std::move(request.body);
  req.timeout = timeout_;
  req.max_response_bytes = kMaxResponseBytes;
  auto res = co_await http::send_request(std::move(req));
  if (!res) co_return fail(callback_failed(res.error().message));
  if (res->status != 200) co_return fail(callback_failed("status " + std::to_string(res->status)));
  co_return std::move(res->body);
}

}  // namespace up::dialects::jodoo
