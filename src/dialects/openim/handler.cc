// Routes of the OpenIM dialect (spec/openim.md).
//
// Identity mapping: an upgate app with dialect "openim" is one OpenIM instance,
// reached at the API address <public url>/openim/<tenant>/<app>. The OpenIM
// `secret` of /auth/get_admin_token is an upgate API key bound to that app (or
// an admin key of its tenant); the tokens are stateless JWTs signed with a key
// derived for the app and carry the id of that API key, so disabling the key
// (`upgate keys disable`) revokes every token it obtained (1506), deleting it
// too (1507). Objects are keyed by their S3 key; a completed form upload whose
// OpenIM name differs from its key gets a small alias object keyed "/<name>"
// (a key no S3 upload can have) so GET /object/<name> and access_url find it.
//
// This file routes and serves /auth and object access; the two upload
// protocols are in form_upload.cc and multipart_upload.cc.

#include <optional>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/services.h"
#include "dialects/openim/common.h"
#include "dialects/openim/errors.h"
#include "dialects/openim/openim.h"
#include "dialects/openim/settings.h"
#include "dialects/openim/uploads.h"
#include "dialects/openim/wire_ids.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::openim {
namespace {

constexpr uint64_t kJsonLimit = 64 * 1024;

std::string token_signing_key(const core::Services& s, std::string_view tenant,
                              std::string_view app) {
  return s.secrets.derive("openim-token/" + std::string(tenant) + "/" + std::string(app));
}

Result<json::object> parse_body(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return fail(Errc::kBadJson, "request body is not a JSON object");
  return std::move(v.as_object());
}

std::string token_data(const std::string& token, int64_t expire_seconds) {
  json::object o;
  o["token"] = token;
  o["expireTimeSeconds"] = expire_seconds;
  return json::serialize(o);
}

std::string access_url_data(const std::string& url, UnixMs expire_time) {
  json::object o;
  o["url"] = url;
  o["expireTime"] = expire_time;
  return json::serialize(o);
}

// Trims the trailing slashes of the S3 prefix.
Options normalized(Options options) {
  while (!options.s3_prefix.empty() && options.s3_prefix.back() == '/')
    options.s3_prefix.pop_back();
  return options;
}

class OpenImHandler final : public http::Handler {
 public:
  OpenImHandler(core::Services& services, Options options)
      : s_(services), opts_(normalized(std::move(options))), forms_(services, opts_),
        multipart_(services, opts_) {}

  // http::Handler
  bool matches(std::string_view, std::string_view path) const override {
    // Asked of every request to any dialect: no string built for the prefix + "/".
    const std::string_view prefix = opts_.s3_prefix;
    return path.starts_with("/openim/") ||
           (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
  }

  net::awaitable<void> handle(Exchange& ex) override {
    if (ex.path().starts_with("/openim/")) co_return co_await api(ex);
    co_await s3_endpoint(ex);
  }

 private:
  // ---- the OpenIM API -------------------------------------------------------

  // Blocking: the token's check that needs the store, the key that obtained it
  // (nullopt: still enabled).
  Result<std::optional<TokenFault>> revoked(const TokenClaims& claims) {
    auto key = s_.auth.get_key(claims.key_id);
    if (!key) {
      if (key.error().code == Errc::kKeyNotFound) return TokenFault::kNotExist;
      return fail(key.error());
    }
    if (!key->enabled) return TokenFault::kKicked;
    return std::nullopt;
  }

  net::awaitable<void> api(Exchange& ex) {
    const auto parts = http::split_path(ex.path());  // openim, tenant, app, group, route...
    if (parts.size() < 5) co_return co_await plain(ex, 404, "not found");
    const std::string tenant(parts[1]), app_id(parts[2]), group(parts[3]);
    ex.log_field("tenant", tenant);
    ex.log_field("app", app_id);

    if (ex.method() == "GET" && group == "object")
      co_return co_await redirect(ex, tenant, app_id, parts);
    if (ex.method() != "POST") co_return co_await plain(ex, 404, "not found");
    // OpenIM's middleware checks the headers before routing (mw/gin.go).
    auto operation_id = ex.header("operationID");
    if (!operation_id || operation_id->empty())
      co_return co_await fail_with(ex, Error(Errc::kMissingField, "header must have operationID"));
    const std::string route = group + "/" + std::string(parts[4]);
    if (parts.size() != 5) co_return co_await ex.send(plain_response(404, "404 page not found"));

    auto body = co_await ex.read_all(kJsonLimit);
    if (!body) co_return co_await fail_with(ex, body.error());
    auto req = parse_body(*body);
    if (!req) co_return co_await fail_with(ex, req.error());

    auto app = co_await blocking(ex, [&] { return openim_app(s_, tenant, app_id); });
    if (!app) co_return co_await fail_with(ex, app.error());
    Context ctx;
    ctx.settings = parse_settings(app->settings_json);
    ctx.app = std::move(*app);

    if (route == "auth/get_admin_token") co_return co_await get_admin_token(ex, ctx, *req);

    auto token = ex.header("token");
    if (!token || token->empty())
      co_return co_await fail_with(ex, Error(Errc::kMissingField, "header must have token"));
    auto claims = read_token(*token);
    if (!claims) co_return co_await ex.send(token_error_response(claims.error()));
    if (claims->tenant_id != ctx.app.tenant_id || claims->app_id != ctx.app.id)
      co_return co_await ex.send(token_error_response(TokenFault::kUnknown));
    if (auto v =
            verify_token(*token, *claims, token_signing_key(s_, tenant, app_id), s_.clock.now());
        !v)
      co_return co_await ex.send(token_error_response(v.error()));
    auto fault = co_await blocking(ex, [&] { return revoked(*claims); });
    if (!fault) co_return co_await fail_with(ex, fault.error());
    if (*fault) co_return co_await ex.send(token_error_response(**fault));
    ctx.claims = std::move(*claims);
    ex.log_field("user", ctx.claims.user_id);

    if (route == "auth/get_user_token") co_return co_await get_user_token(ex, ctx, *req);
    if (route == "object/initiate_form_data") co_return co_await forms_.initiate(ex, ctx, *req);
    if (route == "object/complete_form_data") co_return co_await forms_.complete(ex, ctx, *req);
    if (route == "object/access_url") co_return co_await access_url(ex, ctx, *req);
    if (route == "object/part_limit") co_return co_await multipart_.part_limit(ex);
    if (route == "object/initiate_multipart_upload")
      co_return co_await multipart_.initiate(ex, ctx, *req);
    if (route == "object/auth_sign") co_return co_await multipart_.auth_sign(ex, ctx, *req);
    if (route == "object/complete_multipart_upload")
      co_return co_await multipart_.complete(ex, ctx, *req);
    if (route == "object/part_size") co_return co_await multipart_.part_size(ex, *req);
    co_await ex.send(plain_response(404, "404 page not found"));
  }

  static http::Response plain_response(int status, std::string_view text) {
    http::Response r;
    r.status = status;
    r.body = std::string(text);
    r.header("Content-Type", "text/plain; charset=utf-8");
    return r;
  }
  net::awaitable<void> plain(Exchange& ex, int status, std::string_view text) {
    co_await ex.send(plain_response(status, text));
  }

  Result<std::string> issue(const Context& ctx, const std::string& user_id, int platform_id,
                            const std::string& key_id, bool admin) {
    TokenClaims c;
    c.user_id = user_id;
    c.platform_id = platform_id;
    c.tenant_id = ctx.app.tenant_id;
    c.app_id = ctx.app.id;
    c.key_id = key_id;
    c.admin = admin;
    c.issued_at = s_.clock.now() / 1000;
    c.not_before = c.issued_at;
    c.expires_at = c.issued_at + ctx.settings.token_expire_days * 86400;
    return issue_token(c, token_signing_key(s_, ctx.app.tenant_id, ctx.app.id));
  }

  // POST /auth/get_admin_token {secret, userID}
  net::awaitable<void> get_admin_token(Exchange& ex, const Context& ctx, const json::object& req) {
    auto secret = string_field(req, "secret");
    auto user_id = string_field(req, "userID");
    if (!secret) co_return co_await fail_with(ex, secret.error());
    if (!user_id) co_return co_await fail_with(ex, user_id.error());
    if (secret->empty() || user_id->empty())
      co_return co_await fail_with(ex,
                                   Error(Errc::kInvalidArgument, "secret and userID are required"));
    auto principal = co_await blocking(ex, [&] { return s_.auth.authenticate(*secret); });
    const bool fits =
        principal && principal->tenant_id == ctx.app.tenant_id &&
        (principal->app_id == ctx.app.id || (principal->app_id.empty() && principal->is_admin()));
    if (!fits) {
      if (!principal && principal.error().kind() == Kind::kInternal)
        co_return co_await fail_with(ex, principal.error());
      co_return co_await fail_with(ex, Error(Errc::kPermissionDenied, "secret invalid"));
    }
    if (!ctx.settings.is_admin(*user_id))
      co_return co_await fail_with(
          ex, Error(Errc::kInvalidArgument, "userID is not an admin of this OpenIM app"));
    auto token = issue(ctx, *user_id, 0, principal->key_id, true);
    if (!token) co_return co_await fail_with(ex, token.error());
    co_await ex.send(ok_response(token_data(*token, ctx.settings.token_expire_days * 86400)));
  }

  // POST /auth/get_user_token {platformID, userID} (admin token)
  net::awaitable<void> get_user_token(Exchange& ex, const Context& ctx, const json::object& req) {
    if (!ctx.claims.admin)
      co_return co_await fail_with(
          ex, Error(Errc::kPermissionDenied, "only an admin may get user tokens"));
    auto user_id = string_field(req, "userID");
    auto platform = int_field(req, "platformID");
    if (!user_id) co_return co_await fail_with(ex, user_id.error());
    if (!platform) co_return co_await fail_with(ex, platform.error());
    if (user_id->empty() || user_id->find('/') != std::string::npos || user_id->size() > 64)
      co_return co_await fail_with(
          ex, Error(Errc::kInvalidArgument, "userID is required (at most 64 bytes, no '/')"));
    if (ctx.settings.is_admin(*user_id))
      co_return co_await fail_with(
          ex, Error(Errc::kPermissionDenied, "get_user_token cannot make admin tokens"));
    auto token = issue(ctx, *user_id, static_cast<int>(*platform), ctx.claims.key_id, false);
    if (!token) co_return co_await fail_with(ex, token.error());
    co_await ex.send(ok_response(token_data(*token, ctx.settings.token_expire_days * 86400)));
  }

  Result<std::pair<std::string, UnixMs>> signed_url(const Context& ctx, const std::string& name) {
    auto o = resolve_name(s_, ctx.app, name);
    if (!o) return fail(o.error());
    const UnixMs expires = s_.clock.now() + ctx.settings.access_url_expire_seconds * 1000;
    return std::make_pair(s_.public_url + s_.links.path_for(ctx.app.tenant_id, o->id, expires),
                          expires);
  }

  // POST /object/access_url {name, query:{type, format, width, height}}
  net::awaitable<void> access_url(Exchange& ex, const Context& ctx, const json::object& req) {
    auto name = string_field(req, "name");
    if (!name) co_return co_await fail_with(ex, name.error());
    if (name->empty())
      co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "name is empty"));
    if (const auto* q = req.if_contains("query"); q && q->is_object()) {
      auto type = string_field(q->as_object(), "type");
      // Thumbnails are not made: an image is served as it is.
      if (!type || (!type->empty() && *type != "image"))
        co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "invalid query type"));
    }
    auto url = co_await blocking(ex, [&] { return signed_url(ctx, *name); });
    if (!url) co_return co_await fail_with(ex, url.error());
    co_await ex.send(ok_response(access_url_data(url->first, url->second)));
  }

  // GET /object/<name>: no token (OpenIM checks tokens on POSTs only); 302 to a signed link.
  net::awaitable<void> redirect(Exchange& ex, const std::string& tenant, const std::string& app_id,
                                const std::vector<std::string_view>& parts) {
    std::string name;
    for (size_t i = 4; i < parts.size(); ++i) {
      auto seg = http::percent_decode(parts[i]);
      if (!seg) co_return co_await plain(ex, 400, "bad object name");
      if (!name.empty()) name += '/';
      name += *seg;
    }
    const std::string type = ex.query("type").value_or("");
    if (name.empty() || (!type.empty() && type != "image"))
      co_return co_await plain(ex, 400, "bad request");
    auto url = co_await blocking(ex, [&]() -> Result<std::pair<std::string, UnixMs>> {
      auto app = openim_app(s_, tenant, app_id);
      if (!app) return fail(app.error());
      Context ctx;
      ctx.settings = parse_settings(app->settings_json);
      ctx.app = std::move(*app);
      return signed_url(ctx, name);
    });
    if (!url) {
      http::log_if_internal(ex, url.error());
      if (url.error().kind() == Kind::kNotFound) co_return co_await plain(ex, 404, "not found");
      co_return co_await plain(ex, 500, "internal error");
    }
    http::Response r;
    r.status = 302;
    r.header("Location", url->first);
    co_await ex.send(std::move(r));
  }

  // ---- the S3-compatible endpoint ----------------------------------------------

  net::awaitable<void> s3_endpoint(Exchange& ex) {
    const auto parts = http::split_path(ex.path().substr(opts_.s3_prefix.size()));
    const std::string bucket = parts.empty() ? std::string() : std::string(parts[0]);
    if (parts.size() == 2 && parts[1] == "multipart" && ex.method() == "PUT")
      co_return co_await multipart_.put_part(ex, bucket);
    if (parts.size() != 1)
      co_return co_await fail_s3(ex, Error(Errc::kRouteNotFound, "no such route"), bucket);
    if (ex.method() != "POST")
      co_return co_await fail_s3(
          ex,
          Error(Errc::kMethodNotAllowed,
                "The specified method is not allowed against this resource."),
          bucket);
    co_await forms_.post(ex, bucket);
  }

  core::Services& s_;
  Options opts_;
  FormUploads forms_;
  MultipartUploads multipart_;
};

}  // namespace

http::HandlerPtr make_handler(core::Services& services, Options options) {
  return std::make_unique<OpenImHandler>(services, std::move(options));
}

S3Credentials s3_credentials(const core::Services& services, std::string_view tenant_id,
                             std::string_view app_id, std::string_view settings_json) {
  const Settings settings = parse_settings(settings_json);
  return {access_key_id(tenant_id, app_id), s3_secret(services, tenant_id, app_id), settings.region,
          settings.bucket};
}

}  // namespace up::dialects::openim
