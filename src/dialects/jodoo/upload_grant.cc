// The rules of a Qiniu upload token, shared by the form upload and the
// resumable uploads (upload_grant.h).

#include "dialects/jodoo/upload_grant.h"

#include <boost/json.hpp>

#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/dialect_prelude.h"
#include "dialects/jodoo/callback.h"
#include "dialects/jodoo/errors.h"
#include "dialects/jodoo/keys.h"
#include "dialects/jodoo/settings.h"

namespace up::dialects::jodoo {
namespace {

constexpr UnixMs kRateWindowMs = 1000;

std::string default_body(const Object& o, const std::string& etag) {
  json::object b;
  b["key"] = o.key;
  b["hash"] = etag;
  return json::serialize(b);
}

BodyEscape escape_for(std::string_view body_type) {
  if (body_type.starts_with("application/json")) return BodyEscape::kJsonString;
  return BodyEscape::kFormUrlEncoded;  // Qiniu's default callback body type
}

// The policy's callback request for a committed object (kCallbackFailed
// when the policy cannot make one).
Result<CallbackRequest> callback_request(const Grant& g, const Object& o,
                                         const std::map<std::string, std::string>& vars,
                                         const std::string& etag) {
  const PutPolicy& p = g.token.policy;
  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "key") return o.key;
    if (name == "etag") return etag;
    if (name == "fname") return o.name;
    if (name == "fsize") return std::to_string(o.size);
    if (name == "mimeType") return o.content_type;
    if (name == "bucket") return p.bucket();
    if (name.starts_with("x:")) {
      auto it = vars.find(std::string(name));
      if (it != vars.end()) return it->second;
    }
    return std::nullopt;
  };
  const std::string body_type =
      p.callback_body_type.empty() ? "application/x-www-form-urlencoded" : p.callback_body_type;
  // Both become request headers of the callback: no CR/LF may reach them.
  if (!valid_media_type(body_type) || has_control_characters(p.callback_host))
    return fail(Errc::kCallbackFailed, "callback failed: invalid callbackBodyType or callbackHost");
  auto body = substitute_magic_variables(p.callback_body, lookup, escape_for(body_type));
  if (!body) return fail(Errc::kCallbackFailed, "callback failed: " + body.error().message);
  auto url = parse_callback_url(p.callback_url);
  if (!url) return fail(Errc::kCallbackFailed, "callback failed: " + url.error().message);
  CallbackRequest req;
  req.url = p.callback_url;
  req.host_header = p.callback_host;
  req.content_type = body_type;
  req.authorization =
      qbox_authorization(g.token.access_key, g.secret_key, url->path_and_query, *body);
  req.body = std::move(*body);
  return req;
}

// Posts the policy's callback for a committed object and returns the
// callback's answer, which must be JSON: the uploader gets it, and anything
// else is not something a Qiniu client can parse.
net::awaitable<Result<std::string>> call_back(const CallbackClient& callbacks, const Grant& g,
                                              const Object& o,
                                              const std::map<std::string, std::string>& vars,
                                              const std::string& etag) {
  auto req = callback_request(g, o, vars, etag);
  if (!req) co_return fail(req.error());
  auto answer = co_await callbacks.post(std::move(*req));
  if (!answer) co_return answer;
  boost::system::error_code ec;
  json::parse(*answer, ec);
  if (ec) co_return fail(Errc::kCallbackFailed, "callback failed: the answer is not JSON");
  co_return answer;
}

}  // namespace

Result<Grant> verify_grant(core::Services& s, std::string_view token_text, bool count_rate) {
  auto token = parse_upload_token(token_text);
  if (!token) return fail(token.error());
  const auto ak = parse_access_key(token->access_key);
  if (!ak) return fail(Errc::kGrantInvalid, "bad token");
  auto tenant = s.directory.tenant(ak->tenant_id);
  if (!tenant) {
    if (tenant.error().kind() == Kind::kNotFound) return fail(Errc::kGrantInvalid, "bad token");
    return fail(tenant.error());
  }
  const TenantSettings settings = parse_tenant_settings(tenant->settings_json);
  if (!version_accepted(ak->version, settings.key_version))
    return fail(Errc::kGrantInvalid, "bad token");
  Grant g;
  g.secret_key = secret_key(s.secrets, ak->tenant_id, ak->version);
  if (!signature_matches(*token, g.secret_key)) return fail(Errc::kGrantInvalid, "bad token");
  if (token->policy.deadline * 1000 < s.clock.now())
    return fail(Errc::kGrantExpired, "token out of date");

  const auto app_id = app_of_bucket(token->policy.bucket(), ak->tenant_id);
  if (!app_id) return fail(Errc::kGrantScope, "key doesn't match scope");
  auto app = s.directory.app(ak->tenant_id, *app_id);
  if (!app || app->dialect != "jodoo") {
    if (app || app.error().kind() == Kind::kNotFound)
      return fail(Errc::kAppNotFound, "no such bucket");
    return fail(app.error());
  }
  const std::string prefix = "jodoo:" + ak->tenant_id;
  if (count_rate)
    for (const auto& [key, api] :
         {std::pair(prefix, "global"), std::pair(prefix + ":upload", "upload")}) {
      auto rate = s.rate_limiter.hit(key, settings.rate_limit(api), kRateWindowMs);
      if (!rate) return fail(rate.error());  // not counted: not allowed
      if (!rate->allowed) return fail(Errc::kRateLimited, "too many requests");
    }
  g.token = std::move(*token);
  g.app = std::move(*app);
  return g;
}

core::UploadSpec grant_upload_spec(const Grant& g) {
  const PutPolicy& p = g.token.policy;
  core::UploadSpec spec;
  spec.tenant_id = g.app.tenant_id;
  spec.app_id = g.app.id;
  spec.min_bytes = p.fsize_min;
  spec.max_bytes = p.fsize_limit;
  if (!p.save_key.empty()) {
    // One file per token: the saveKey is single-use (kGrantUsed), for as long
    // as the token could be presented.
    spec.grant_id = "qiniu/" + g.app.tenant_id + "/" + p.save_key;
    spec.grant_expires_at = p.deadline * 1000;
  }
  if (!p.transaction_id.empty()) {
    // The token's deadline is its transaction's expiry (get_upload_token):
    // unbound uploads go with the transaction.
    spec.state = ObjectState::kTemporary;
    spec.expires_at = p.deadline * 1000;
    spec.transaction_id = p.transaction_id;
  }
  spec.owner = g.token.access_key;
  spec.want_qetag = true;
  spec.want_crc32 = true;
  return spec;
}

Result<std::string> resolve_key(const PutPolicy& p, const std::string* requested) {
  std::string key;
  if (auto pinned = p.scoped_key()) {
    if (requested && *requested != *pinned)
      return fail(Errc::kGrantScope, "key doesn't match scope");
    key = *pinned;
  } else if (!p.save_key.empty() && (p.force_save_key || !requested || requested->empty())) {
    key = p.save_key;
  } else if (requested && !requested->empty()) {
    key = *requested;
  } else {
    key = random_hex(16);
  }
  if (key.empty() || key.size() > 750 || !valid_utf8(key) || has_control_characters(key))
    return fail(Errc::kInvalidArgument, "invalid key");
  return key;
}

std::string upload_meta_json(const std::map<std::string, std::string>& vars) {
  json::object x, meta;
  for (const auto& [name, value] : vars) {
    if (name.starts_with("x:")) x[name] = value;
    else if (name.starts_with("x-qn-meta-")) meta[name.substr(10)] = value;
  }
  json::object o;
  if (!x.empty()) o["x"] = std::move(x);
  if (!meta.empty()) o["meta"] = std::move(meta);
  return json::serialize(o);
}

net::awaitable<Result<http::Response>> final_answer(Exchange& ex, core::Services& s,
                                                    const CallbackClient& callbacks, const Grant& g,
                                                    const Object& object,
                                                    const std::map<std::string, std::string>& vars,
                                                    const std::string& etag,
                                                    std::string content_type) {
  std::string body;
  if (!g.token.policy.callback_url.empty()) {
    auto answer = co_await call_back(callbacks, g, object, vars, etag);
    if (!answer) {
      // Nothing is kept for a failed callback (Qiniu's 579).
      auto removed =
          co_await blocking(ex, [&] { return s.files.remove(object.tenant_id, object.id); });
      if (!removed) co_return fail(removed.error());
      co_return fail(answer.error());
    }
    body = std::move(*answer);
  } else {
    body = default_body(object, etag);
  }
  http::Response r = http::empty_response(200);
  r.header("Content-Type", std::move(content_type));
  r.header("X-Reqid", std::string(ex.request_id()));
  r.body = std::move(body);
  co_return r;
}

http::Response upload_error_response(const Exchange& ex, const Error& e) {
  // A used single-use key or a taken one: Qiniu says the same for both.
  Error shown = e;
  if (e.code == Errc::kGrantUsed || e.code == Errc::kObjectKeyExists) shown.message = "file exists";
  http::Response r = qiniu_error_response(shown);
  r.header("X-Reqid", std::string(ex.request_id()));
  return r;
}

}  // namespace up::dialects::jodoo
