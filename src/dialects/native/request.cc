#include "dialects/native/request.h"

#include <boost/json/parse.hpp>

#include "core/directory.h"
#include "core/text.h"
#include "http/header_params.h"

namespace up::dialects::native {

namespace {

// Whether `h` starts with "Bearer " in any case of its letters: a letter's
// case bit set makes it lower case, and only that letter's two cases match.
bool starts_with_bearer(std::string_view h) {
  constexpr std::string_view kLower = "bearer";
  if (h.size() < 7 || h[6] != ' ') return false;
  for (size_t i = 0; i < kLower.size(); ++i)
    if ((h[i] | 0x20) != kLower[i]) return false;
  return true;
}

// The key in `Authorization: Bearer <key>`, or why there is none.
Result<std::string_view> bearer_token(const Exchange& ex) {
  auto h = ex.header("Authorization");
  if (!h || !starts_with_bearer(*h))
    return fail(Errc::kUnauthenticated, "send Authorization: Bearer <api key>");
  std::string_view token = h->substr(7);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

std::optional<Result<core::Principal>> authenticate_cached(const Exchange& ex,
                                                           core::AuthService& auth) {
  auto token = bearer_token(ex);
  if (!token) return fail(token.error());
  return auth.authenticate_cached(*token);
}

net::awaitable<Result<core::Principal>> authenticate(Exchange& ex, core::AuthService& auth) {
  if (auto cached = authenticate_cached(ex, auth)) co_return std::move(*cached);
  auto token = bearer_token(ex);  // well formed: authenticate_cached answered otherwise
  co_return co_await blocking(ex, [&] { return auth.authenticate(*token); });
}

Result<std::string> app_of(const Exchange& ex, const core::Principal& p) {
  auto asked = ex.query("app");
  if (!p.app_id.empty()) {
    if (asked && *asked != p.app_id)
      return fail(Errc::kPermissionDenied, "this key is bound to another app");
    return p.app_id;
  }
  if (!asked || asked->empty()) return std::string(core::Directory::kDefaultApp);
  if (!http::plain_token(*asked)) return fail(Errc::kAppNotFound);
  return *asked;
}

net::awaitable<Result<json::object>> read_json_object(Exchange& ex) {
  constexpr uint64_t kJsonBodyLimit = 64 * 1024;
  auto body = co_await ex.read_all(kJsonBodyLimit);
  if (!body) co_return fail(body.error());
  if (body->empty()) co_return json::object{};
  boost::system::error_code ec;
  json::value v = json::parse(*body, ec);
  if (ec || !v.is_object()) co_return fail(Errc::kBadJson, "body must be a JSON object");
  co_return std::move(v.as_object());
}

}  // namespace up::dialects::native
