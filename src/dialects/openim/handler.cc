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

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <optional>
#include <span>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/openim/errors.h"
#include "dialects/openim/openim.h"
#include "dialects/openim/post_policy.h"
#include "dialects/openim/settings.h"
#include "dialects/openim/wire_ids.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/multipart.h"

namespace up::dialects::openim {
namespace {

namespace json = boost::json;
namespace net = boost::asio;
using http::blocking;
using http::Exchange;

constexpr const char* kDialect = "openim";
constexpr uint64_t kJsonLimit = 64 * 1024;
constexpr UnixMs kDefaultFormMs = 10 * 60'000;  // OpenIM's form duration for non-admins
constexpr size_t kMaxNameBytes = 1024;
constexpr size_t kMaxFieldBytes = 64 * 1024;          // one form text field
constexpr size_t kMaxFieldsBytes = 256 * 1024;        // all of them
constexpr size_t kMaxPendingBytes = 4 * 1024 * 1024;  // file bytes seen before the upload is open

// An authenticated OpenIM request.
struct Context {
  App app;
  Settings settings;
  TokenClaims claims;  // user_id empty for /auth/get_admin_token
};

std::string token_signing_key(const core::Services& s, std::string_view tenant,
                              std::string_view app) {
  return s.secrets.derive("openim-token/" + std::string(tenant) + "/" + std::string(app));
}

std::string s3_secret(const core::Services& s, std::string_view tenant, std::string_view app) {
  return crypto::base64url(
      s.secrets.derive("s3-sk/" + std::string(tenant) + "/" + std::string(app) + "/v1"), false);
}

// checkUploadName (OpenIM tool.go).
Status check_name(std::string_view name, const TokenClaims& user) {
  if (name.empty()) return fail(Errc::kInvalidArgument, "name is empty");
  if (name.front() == '/') return fail(Errc::kInvalidArgument, "name cannot start with `/`");
  if (name.size() > kMaxNameBytes) return fail(Errc::kInvalidArgument, "name too long");
  if (!valid_utf8(name)) return fail(Errc::kInvalidArgument, "name is not valid UTF-8");
  // Names end up in URLs and keys clients show; upgate's names never hold
  // control characters (OpenIM's own check does not look).
  if (has_control_characters(name))
    return fail(Errc::kInvalidArgument, "name has control characters");
  if (!user.admin && !name.starts_with(user.user_id + "/"))
    return fail(Errc::kPermissionDenied, "name must start with `" + user.user_id + "/`");
  return ok();
}

// path.Ext: the suffix from the last '.' of the last path element.
std::string_view extension(std::string_view name) {
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : base.substr(dot);
}

std::string yyyymmdd(UnixMs t) { return s3::amz_date(t).substr(0, 8); }

// Whether `key` is one initiate_form_data makes for a user:
// openim/direct/<yyyymmdd>/<user>/<file>.
bool direct_key_of(std::string_view key, std::string_view user_id) {
  constexpr std::string_view kPrefix = "openim/direct/";
  if (!key.starts_with(kPrefix)) return false;
  key.remove_prefix(kPrefix.size());
  const size_t slash = key.find('/');
  if (slash != 8) return false;
  key.remove_prefix(slash + 1);
  return key.size() > user_id.size() + 1 && key.starts_with(user_id) && key[user_id.size()] == '/';
}

// ---- JSON bodies (plain functions: no JSON literals inside coroutines) ----

Result<json::object> parse_body(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return fail(Errc::kBadJson, "request body is not a JSON object");
  return std::move(v.as_object());
}

Result<std::string> string_field(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return fail(Errc::kInvalidArgument, std::string(name) + " must be a string");
  return std::string(v->as_string());
}

Result<int64_t> int_field(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  if (!v || v->is_null()) return int64_t{0};
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v->as_uint64());
  return fail(Errc::kInvalidArgument, std::string(name) + " must be an integer");
}

bool bool_field(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_bool() && v->as_bool();
}

std::string token_data(const std::string& token, int64_t expire_seconds) {
  json::object o;
  o["token"] = token;
  o["expireTimeSeconds"] = expire_seconds;
  return json::serialize(o);
}

std::string url_data(const std::string& url) {
  json::object o;
  o["url"] = url;
  return json::serialize(o);
}

std::string access_url_data(const std::string& url, UnixMs expire_time) {
  json::object o;
  o["url"] = url;
  o["expireTime"] = expire_time;
  return json::serialize(o);
}

std::string form_data(const std::string& id, const std::string& url,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      UnixMs expires) {
  json::object form;
  for (const auto& [k, v] : fields) form[k] = v;
  json::object o;
  o["id"] = id;
  o["url"] = url;
  o["file"] = "file";
  o["header"] = nullptr;  // a nil Go slice, for every OpenIM backend
  o["formData"] = std::move(form);
  o["expires"] = expires;
  o["successCodes"] = json::array{200};
  return json::serialize(o);
}

std::string part_limit_data() {
  json::object o;
  o["minPartSize"] = 5242880;
  o["maxPartSize"] = int64_t{5368709120};
  o["maxNumSize"] = 10000;
  return json::serialize(o);
}

std::string size_data(int64_t size) {
  json::object o;
  o["size"] = size;
  return json::serialize(o);
}

std::string alias_meta(const std::string& key) {
  json::object o;
  o["openim_key"] = key;
  return json::serialize(o);
}

std::string alias_target(const Object& alias) {
  boost::system::error_code ec;
  json::value v = json::parse(alias.meta_json, ec);
  if (ec || !v.is_object()) return {};
  const auto* k = v.as_object().if_contains("openim_key");
  return k && k->is_string() ? std::string(k->as_string()) : std::string();
}

std::string post_response_xml(const std::string& location, const std::string& bucket,
                              const std::string& key, const std::string& etag) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>" +
         xml_escape(location) + "</Location><Bucket>" + xml_escape(bucket) + "</Bucket><Key>" +
         xml_escape(key) + "</Key><ETag>" + xml_escape(etag) + "</ETag></PostResponse>";
}

// part_size (OpenIM s3/cont controller.go over MinIO's limits).
Result<int64_t> part_size_for(int64_t size) {
  constexpr int64_t kMin = 5242880, kMax = 5368709120, kNum = 10000;
  if (size <= 0) return fail(Errc::kInvalidArgument, "size must be greater than 0");
  if (size > kMax * kNum)
    return fail(Errc::kInvalidArgument, "size must be less than the maximum allowed limit");
  if (size <= kMin * kNum) return kMin;
  return (size + kNum - 1) / kNum;
}

// ---- multipart uploads ---------------------------------------------------------

constexpr UnixMs kMultipartMs = 24 * 3'600'000;  // an uploadID (and its parts) lives a day
constexpr UnixMs kPartUrlMs = 3'600'000;         // a part URL, until auth_sign renews it

std::string upload_signing_key(const core::Services& s, std::string_view tenant,
                               std::string_view app) {
  return s.secrets.derive("openim-multipart/" + std::string(tenant) + "/" + std::string(app));
}

// Where OpenIM keeps content by hash (s3/cont: openim/data/hash/<hash>).
std::string hash_key(const std::string& hash) { return "openim/data/hash/" + hash; }

// A staged part. Keys starting with "//" cannot be S3 keys (refused) nor name
// aliases ("/" + a name that never starts with '/').
std::string part_key(std::string_view upload_id, int64_t n) {
  return "//parts/" + crypto::to_hex(crypto::sha256(upload_id)).substr(0, 32) + "/" +
         std::to_string(n);
}

bool md5_hex(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

json::object key_values(std::string_view key, std::string_view value) {
  json::object o;
  o["key"] = key;
  o["values"] = json::array{json::value(value)};
  return o;
}

// AuthSignResult: {url, query[], header[], parts[{partNumber, url, query[], header[]}]}.
json::object auth_sign_json(const std::string& url, const std::string& upload_id,
                            const std::vector<int64_t>& numbers, const std::string& key,
                            UnixMs expires_at) {
  json::array parts;
  const int64_t expires_s = expires_at / 1000;
  for (int64_t n : numbers) {
    json::array query;
    query.push_back(key_values("partNumber", std::to_string(n)));
    query.push_back(key_values("X-Upgate-Expires", std::to_string(expires_s)));
    query.push_back(key_values("X-Upgate-Signature", part_signature(key, upload_id, n, expires_s)));
    json::object part;
    part["partNumber"] = n;
    part["url"] = "";
    part["query"] = std::move(query);
    part["header"] = nullptr;
    parts.push_back(std::move(part));
  }
  json::object o;
  o["url"] = url;
  o["query"] = json::array{key_values("uploadId", upload_id)};
  o["header"] = nullptr;
  o["parts"] = std::move(parts);
  return o;
}

std::string initiate_multipart_data(const std::string& upload_id, int64_t part_size,
                                    json::object sign, UnixMs expire_time) {
  json::object upload;
  upload["uploadID"] = upload_id;
  upload["partSize"] = part_size;
  upload["sign"] = std::move(sign);
  upload["expireTime"] = expire_time;
  json::object o;
  o["url"] = "";
  o["upload"] = std::move(upload);
  return json::serialize(o);
}

Result<std::vector<std::string>> string_list(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  std::vector<std::string> out;
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return fail(Errc::kInvalidArgument, std::string(name) + " must be an array");
  for (const auto& e : v->as_array()) {
    if (!e.is_string())
      return fail(Errc::kInvalidArgument, std::string(name) + " must hold strings");
    out.emplace_back(e.as_string());
  }
  return out;
}

Result<std::vector<int64_t>> int_list(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  std::vector<int64_t> out;
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return fail(Errc::kInvalidArgument, std::string(name) + " must be an array");
  for (const auto& e : v->as_array()) {
    if (!e.is_int64())
      return fail(Errc::kInvalidArgument, std::string(name) + " must hold integers");
    out.push_back(e.as_int64());
  }
  return out;
}

struct CompleteRequest {
  std::string upload_id;
  std::vector<std::string> md5s;
  std::string name, content_type, url_prefix;
};

Result<CompleteRequest> parse_complete(const json::object& req) {
  CompleteRequest c;
  auto upload_id = string_field(req, "uploadID");
  if (!upload_id) return fail(upload_id.error());
  auto md5s = string_list(req, "parts");
  if (!md5s) return fail(md5s.error());
  auto name = string_field(req, "name");
  if (!name) return fail(name.error());
  auto content_type = string_field(req, "contentType");
  if (!content_type) return fail(content_type.error());
  auto url_prefix = string_field(req, "urlPrefix");
  if (!url_prefix) return fail(url_prefix.error());
  c.upload_id = std::move(*upload_id);
  c.md5s = std::move(*md5s);
  c.name = std::move(*name);
  c.content_type = std::move(*content_type);
  c.url_prefix = std::move(*url_prefix);
  return c;
}

// The parts' md5s (lower-cased in place) against the upload: one per part, and
// the md5 of their comma-joined hex is the upload's hash (OpenIM's rule).
Status check_md5_chain(std::vector<std::string>& md5s, const MultipartUpload& u) {
  if (static_cast<int64_t>(md5s.size()) != u.part_count())
    return fail(Errc::kInvalidArgument, "parts must list the md5 of every part");
  std::string joined;
  for (auto& m : md5s) {
    for (char& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!joined.empty()) joined += ',';
    joined += m;
  }
  if (crypto::to_hex(crypto::md5(joined)) != u.hash)
    return fail(Errc::kInvalidArgument, "md5 mismatching");
  return ok();
}

// ---- the S3 form --------------------------------------------------------------

// Collects the text fields and streams the `file` part. Until the coroutine
// has verified the policy and opened the upload (after the feed() that met the
// file part), file bytes wait in `pending_`, at most one network read of them.
class FormSink final : public http::MultipartSink {
 public:
  Status on_part_begin(const http::PartHeaders& part) override {
    const std::string name = http::to_lower_ascii(part.name);
    if (name == "file") {
      if (saw_file_)
        return fail(Errc::kInvalidArgument, "POST requires exactly one file upload per request");
      saw_file_ = in_file_ = true;
      filename_ = part.filename;
      file_content_type_ = part.content_type;
      return ok();
    }
    if (in_field_ || name.empty()) return fail(Errc::kBadMultipart, "a form part without a name");
    field_name_ = part.name;
    field_value_.clear();
    in_field_ = true;
    return ok();
  }
  Status on_part_data(std::string_view data) override {
    if (in_file_) {
      if (upload_) return append(data);
      if (pending_.size() + data.size() > kMaxPendingBytes)
        return fail(Errc::kInvalidArgument, "file part arrived too fast to verify");
      pending_.append(data);
      return ok();
    }
    if (field_value_.size() + data.size() > kMaxFieldBytes ||
        fields_bytes_ + data.size() > kMaxFieldsBytes)
      return fail(Errc::kInvalidArgument, "form field " + field_name_ + " is too long");
    fields_bytes_ += data.size();
    field_value_.append(data);
    return ok();
  }
  Status on_part_end() override {
    if (in_file_) {
      in_file_ = false;
      return ok();
    }
    in_field_ = false;
    return fields_.add(field_name_, std::move(field_value_));
  }

  // The file part has begun but no upload takes its bytes yet.
  bool needs_upload() const { return saw_file_ && !upload_; }
  Status attach(core::Upload& upload) {
    upload_ = &upload;
    std::string pending = std::move(pending_);
    return pending.empty() ? ok() : append(pending);
  }

  bool saw_file() const { return saw_file_; }
  const std::string& filename() const { return filename_; }
  const std::string& file_content_type() const { return file_content_type_; }
  const s3::FormFields& fields() const { return fields_; }

 private:
  Status append(std::string_view data) {
    if (auto st = upload_->stage(data); !st) {
      if (st.error().code == Errc::kTooLarge)
        return fail(Errc::kTooLarge, "Your proposed upload exceeds the maximum allowed size");
      return st;
    }
    return ok();
  }

  s3::FormFields fields_;
  std::string field_name_, field_value_;
  size_t fields_bytes_ = 0;
  bool in_field_ = false, in_file_ = false, saw_file_ = false;
  std::string filename_, file_content_type_;
  std::string pending_;
  core::Upload* upload_ = nullptr;
};

// What the file part needs before its bytes may be stored.
struct FormTarget {
  App app;
  Settings settings;
  s3::VerifiedForm form;
};

class OpenImHandler final : public http::Handler {
 public:
  OpenImHandler(core::Services& services, Options options)
      : s_(services), opts_(std::move(options)) {
    while (!opts_.s3_prefix.empty() && opts_.s3_prefix.back() == '/') opts_.s3_prefix.pop_back();
  }

  // http::Handler
  bool matches(std::string_view, std::string_view path) const override {
    return path.starts_with("/openim/") || path.starts_with(opts_.s3_prefix + "/");
  }

  net::awaitable<void> handle(Exchange& ex) override {
    if (ex.path().starts_with("/openim/")) co_return co_await api(ex);
    co_await form_endpoint(ex);
  }

 private:
  static void log_internal(Exchange& ex, const Error& e) {
    if (e.kind() == Kind::kInternal) log::request_error(ex.request_id(), e.message);
  }

  net::awaitable<void> fail_with(Exchange& ex, const Error& e) {
    log_internal(ex, e);
    co_await ex.send(error_response(e));
  }

  // ---- the OpenIM API -------------------------------------------------------

  // Blocking: the app named by the API address, if it is an OpenIM app.
  Result<App> openim_app(const std::string& tenant, const std::string& app_id) {
    auto app = s_.directory.app(tenant, app_id);
    if (!app) {
      if (app.error().kind() == Kind::kNotFound)
        return fail(Errc::kAppNotFound, "no OpenIM app at this address");
      return fail(app.error());
    }
    if (app->dialect != kDialect) return fail(Errc::kAppNotFound, "no OpenIM app at this address");
    return app;
  }

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

    auto app = co_await blocking(ex, [&] { return openim_app(tenant, app_id); });
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
    if (route == "object/initiate_form_data") co_return co_await initiate_form_data(ex, ctx, *req);
    if (route == "object/complete_form_data") co_return co_await complete_form_data(ex, ctx, *req);
    if (route == "object/access_url") co_return co_await access_url(ex, ctx, *req);
    if (route == "object/part_limit") co_return co_await ex.send(ok_response(part_limit_data()));
    if (route == "object/initiate_multipart_upload")
      co_return co_await initiate_multipart(ex, ctx, *req);
    if (route == "object/auth_sign") co_return co_await auth_sign(ex, ctx, *req);
    if (route == "object/complete_multipart_upload")
      co_return co_await complete_multipart(ex, ctx, *req);
    if (route == "object/part_size") {
      auto size = int_field(*req, "size");
      if (!size) co_return co_await fail_with(ex, size.error());
      auto part = part_size_for(*size);
      if (!part) co_return co_await fail_with(ex, part.error());
      co_return co_await ex.send(ok_response(size_data(*part)));
    }
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

  std::string form_url(const Settings& settings) const {
    return s_.public_url + opts_.s3_prefix + "/" + settings.bucket;
  }

  // POST /object/initiate_form_data {name, size, contentType, group, millisecond, absolute}
  net::awaitable<void> initiate_form_data(Exchange& ex, const Context& ctx,
                                          const json::object& req) {
    auto name = string_field(req, "name");
    auto size = int_field(req, "size");
    auto content_type = string_field(req, "contentType");
    auto group = string_field(req, "group");
    auto millisecond = int_field(req, "millisecond");
    if (!name) co_return co_await fail_with(ex, name.error());
    if (!size) co_return co_await fail_with(ex, size.error());
    if (!content_type) co_return co_await fail_with(ex, content_type.error());
    if (!group) co_return co_await fail_with(ex, group.error());
    if (!millisecond) co_return co_await fail_with(ex, millisecond.error());
    if (auto st = check_name(*name, ctx.claims); !st) co_return co_await fail_with(ex, st.error());
    // The type goes into the signed form and from there into the stored
    // object and its downloads' Content-Type: refused now, not after the
    // client has sent the bytes.
    if (!content_type->empty() && !valid_media_type(*content_type))
      co_return co_await fail_with(
          ex, Error(Errc::kBadContentType, "contentType must be a media type (type/subtype)"));
    if (*size <= 0)
      co_return co_await fail_with(ex,
                                   Error(Errc::kInvalidArgument, "size must be greater than 0"));
    if (static_cast<uint64_t>(*size) > s_.directory.default_max_object_bytes())
      co_return co_await fail_with(
          ex, Error(Errc::kTooLarge, "size exceeds the largest file this server accepts"));

    const UnixMs now = s_.clock.now();
    const UnixMs duration = ctx.claims.admin && *millisecond > 0 ? *millisecond : kDefaultFormMs;
    std::string key;
    if (ctx.claims.admin && bool_field(req, "absolute")) key = *name;
    else
      key = "openim/direct/" + yyyymmdd(now) + "/" + ctx.claims.user_id + "/" + random_hex(16) +
            std::string(extension(*name));

    s3::FormRequest fr;
    fr.bucket = ctx.settings.bucket;
    fr.key = key;
    fr.content_type = *content_type;
    fr.max_size = static_cast<uint64_t>(*size);
    fr.now = now;
    fr.expires_at = now + duration;
    fr.access_key_id = access_key_id(ctx.app.tenant_id, ctx.app.id);
    fr.secret_key = s3_secret(s_, ctx.app.tenant_id, ctx.app.id);
    fr.region = ctx.settings.region;
    FormId id;
    id.name = *name;
    id.size = *size;
    id.content_type = *content_type;
    id.group = *group;
    id.key = key;
    co_await ex.send(ok_response(
        form_data(encode_form_id(id), form_url(ctx.settings), s3::make_form(fr), fr.expires_at)));
  }

  // Blocking: the object an OpenIM name stands for (through its alias, if any).
  Result<Object> resolve_name(const App& app, const std::string& name) {
    auto alias = s_.files.get_by_key(app.tenant_id, app.id, "/" + name);
    if (alias) {
      const std::string target = alias_target(*alias);
      if (!target.empty()) return s_.files.get_by_key(app.tenant_id, app.id, target);
    } else if (alias.error().code != Errc::kObjectNotFound) {
      return fail(alias.error());
    }
    return s_.files.get_by_key(app.tenant_id, app.id, name);
  }

  // Blocking: makes `name` stand for the object keyed `key`, replacing an
  // earlier alias of the name (OpenIM lets a name be uploaded again).
  Status bind_name(const App& app, const std::string& name, const std::string& key) {
    if (name == key) return ok();
    auto old = s_.files.get_by_key(app.tenant_id, app.id, "/" + name);
    if (old) {
      if (alias_target(*old) == key) return ok();
      UP_TRY(s_.files.remove(app.tenant_id, old->id));
    } else if (old.error().code != Errc::kObjectNotFound) {
      return fail(old.error());
    }
    core::UploadSpec spec;
    spec.tenant_id = app.tenant_id;
    spec.app_id = app.id;
    spec.key = "/" + name;
    spec.name = name;
    spec.meta_json = alias_meta(key);
    auto up = s_.uploads.begin(std::move(spec));
    if (!up) return fail(up.error());
    auto committed = (*up)->commit_blocking();
    if (!committed) return fail(committed.error());
    return ok();
  }

  // POST /object/complete_form_data {id, urlPrefix}
  net::awaitable<void> complete_form_data(Exchange& ex, const Context& ctx,
                                          const json::object& req) {
    auto id_text = string_field(req, "id");
    auto url_prefix = string_field(req, "urlPrefix");
    if (!id_text) co_return co_await fail_with(ex, id_text.error());
    if (!url_prefix) co_return co_await fail_with(ex, url_prefix.error());
    auto id = decode_form_id(*id_text);
    if (!id) co_return co_await fail_with(ex, id.error());
    if (auto st = check_name(id->name, ctx.claims); !st)
      co_return co_await fail_with(ex, st.error());
    // A non-admin may only confirm what a form of its own could have uploaded.
    if (!ctx.claims.admin && !direct_key_of(id->key, ctx.claims.user_id))
      co_return co_await fail_with(ex, Error(Errc::kPermissionDenied, "this upload is not yours"));
    auto done = co_await blocking(ex, [&]() -> Status {
      auto o = s_.files.get_by_key(ctx.app.tenant_id, ctx.app.id, id->key);
      if (!o) {
        if (o.error().code == Errc::kObjectNotFound)
          return fail(Errc::kObjectNotFound, "object not found: the form was not posted");
        return fail(o.error());
      }
      if (o->size != static_cast<uint64_t>(id->size))
        return fail(Errc::kSizeMismatch, "file size mismatch");
      return bind_name(ctx.app, id->name, id->key);
    });
    if (!done) co_return co_await fail_with(ex, done.error());
    co_await ex.send(ok_response(url_data(*url_prefix + id->name)));
  }

  Result<std::pair<std::string, UnixMs>> signed_url(const Context& ctx, const std::string& name) {
    auto o = resolve_name(ctx.app, name);
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
      auto app = openim_app(tenant, app_id);
      if (!app) return fail(app.error());
      Context ctx;
      ctx.settings = parse_settings(app->settings_json);
      ctx.app = std::move(*app);
      return signed_url(ctx, name);
    });
    if (!url) {
      log_internal(ex, url.error());
      if (url.error().kind() == Kind::kNotFound) co_return co_await plain(ex, 404, "not found");
      co_return co_await plain(ex, 500, "internal error");
    }
    http::Response r;
    r.status = 302;
    r.header("Location", url->first);
    co_await ex.send(std::move(r));
  }

  // ---- multipart uploads --------------------------------------------------------

  std::string part_url(const Settings& settings) const {
    return s_.public_url + opts_.s3_prefix + "/" + settings.bucket + "/multipart";
  }

  // POST /object/initiate_multipart_upload {hash, size, partSize, maxParts, cause, name,
  // contentType, urlPrefix}
  net::awaitable<void> initiate_multipart(Exchange& ex, const Context& ctx,
                                          const json::object& req) {
    auto hash = string_field(req, "hash");
    auto size = int_field(req, "size");
    auto max_parts = int_field(req, "maxParts");
    auto name = string_field(req, "name");
    auto url_prefix = string_field(req, "urlPrefix");
    if (!hash) co_return co_await fail_with(ex, hash.error());
    if (!size) co_return co_await fail_with(ex, size.error());
    if (!max_parts) co_return co_await fail_with(ex, max_parts.error());
    if (!name) co_return co_await fail_with(ex, name.error());
    if (!url_prefix) co_return co_await fail_with(ex, url_prefix.error());
    if (auto st = check_name(*name, ctx.claims); !st) co_return co_await fail_with(ex, st.error());
    if (!md5_hex(*hash))
      co_return co_await fail_with(
          ex, Error(Errc::kInvalidArgument, "hash must be a lower-case hex md5"));
    auto part_size = part_size_for(*size);
    if (!part_size) co_return co_await fail_with(ex, part_size.error());
    if (static_cast<uint64_t>(*size) > s_.directory.default_max_object_bytes())
      co_return co_await fail_with(
          ex, Error(Errc::kTooLarge, "size exceeds the largest file this server accepts"));

    // Content already stored under its hash: no upload, just the name.
    auto existing = co_await blocking(ex, [&]() -> Result<bool> {
      auto o = s_.files.get_by_key(ctx.app.tenant_id, ctx.app.id, hash_key(*hash));
      if (!o) {
        if (o.error().code == Errc::kObjectNotFound) return false;
        return fail(o.error());
      }
      if (o->size != static_cast<uint64_t>(*size)) return false;
      UP_TRY(bind_name(ctx.app, *name, hash_key(*hash)));
      return true;
    });
    if (!existing) co_return co_await fail_with(ex, existing.error());
    if (*existing) co_return co_await ex.send(ok_response(url_data(*url_prefix + *name)));

    MultipartUpload u;
    u.tenant_id = ctx.app.tenant_id;
    u.app_id = ctx.app.id;
    u.user_id = ctx.claims.user_id;
    u.hash = *hash;
    u.size = *size;
    u.part_size = *part_size;
    u.expires_at = s_.clock.now() + kMultipartMs;
    u.nonce = random_hex(8);
    if (*max_parts > 0 && u.part_count() > *max_parts)
      co_return co_await fail_with(ex,
                                   Error(Errc::kInvalidArgument, "too many parts for maxParts"));
    const std::string key = upload_signing_key(s_, ctx.app.tenant_id, ctx.app.id);
    const std::string upload_id = encode_upload_id(u, key);
    std::vector<int64_t> numbers;
    for (int64_t n = 1; n <= u.part_count(); ++n) numbers.push_back(n);
    const UnixMs urls_expire = std::min(u.expires_at, s_.clock.now() + kPartUrlMs);
    http::Response answer = ok_response(initiate_multipart_data(
        upload_id, u.part_size,
        auth_sign_json(part_url(ctx.settings), upload_id, numbers, key, urls_expire),
        u.expires_at));
    co_await ex.send(std::move(answer));
  }

  // The upload an uploadID of this app names, unexpired.
  Result<MultipartUpload> own_upload(const Context& ctx, const std::string& upload_id) {
    auto u = read_upload_id(upload_id);
    if (!u) return fail(u.error());
    if (u->tenant_id != ctx.app.tenant_id || u->app_id != ctx.app.id)
      return fail(Errc::kInvalidArgument, "invalid uploadID");
    UP_TRY(verify_upload_id(upload_id, upload_signing_key(s_, u->tenant_id, u->app_id))
               .map_error(
                   [](const Error&) { return Error(Errc::kInvalidArgument, "invalid uploadID"); }));
    if (u->expires_at <= s_.clock.now()) return fail(Errc::kInvalidArgument, "upload expired");
    if (!ctx.claims.admin && u->user_id != ctx.claims.user_id)
      return fail(Errc::kPermissionDenied, "this upload is not yours");
    return u;
  }

  // POST /object/auth_sign {uploadID, partNumbers[]}
  net::awaitable<void> auth_sign(Exchange& ex, const Context& ctx, const json::object& req) {
    auto upload_id = string_field(req, "uploadID");
    auto numbers = int_list(req, "partNumbers");
    if (!upload_id) co_return co_await fail_with(ex, upload_id.error());
    if (!numbers) co_return co_await fail_with(ex, numbers.error());
    auto u = own_upload(ctx, *upload_id);
    if (!u) co_return co_await fail_with(ex, u.error());
    for (int64_t n : *numbers)
      if (n < 1 || n > u->part_count())
        co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "part number out of range"));
    const UnixMs urls_expire = std::min(u->expires_at, s_.clock.now() + kPartUrlMs);
    http::Response answer = ok_response(json::serialize(
        auth_sign_json(part_url(ctx.settings), *upload_id, *numbers,
                       upload_signing_key(s_, u->tenant_id, u->app_id), urls_expire)));
    co_await ex.send(std::move(answer));
  }

  // Blocking: streams the parts in order into one new object (never whole in
  // memory), checks each part's md5, then drops the parts.
  Status assemble(const Context& ctx, const std::string& upload_id, const MultipartUpload& u,
                  const std::vector<std::string>& md5s, const std::string& content_type) {
    std::vector<Object> parts;
    for (int64_t n = 1; n <= u.part_count(); ++n) {
      auto o = s_.files.get_by_key(ctx.app.tenant_id, ctx.app.id, part_key(upload_id, n));
      if (!o) {
        if (o.error().code == Errc::kObjectNotFound)
          return fail(Errc::kInvalidArgument, "part " + std::to_string(n) + " was not uploaded");
        return fail(o.error());
      }
      if (o->md5 != md5s[n - 1])
        return fail(Errc::kInvalidArgument, "part " + std::to_string(n) + " md5 mismatching");
      parts.push_back(std::move(*o));
    }
    core::UploadSpec spec;
    spec.tenant_id = ctx.app.tenant_id;
    spec.app_id = ctx.app.id;
    spec.key = hash_key(u.hash);
    spec.name = u.hash;
    if (!content_type.empty()) spec.content_type = content_type;
    spec.declared_size = static_cast<uint64_t>(u.size);
    spec.owner = u.user_id;
    spec.key_id = ctx.claims.key_id;
    spec.want_md5 = true;
    auto up = s_.uploads.begin(std::move(spec));
    if (!up) return fail(up.error());
    for (const Object& part : parts) {
      UP_TRY((*up)->append_object(part));
    }
    if ((*up)->size() != static_cast<uint64_t>(u.size))
      return fail(Errc::kSizeMismatch, "file size mismatch");
    auto committed = (*up)->commit_blocking();
    // The same content completed by someone else meanwhile is as good.
    if (!committed && committed.error().code != Errc::kObjectKeyExists)
      return fail(committed.error());
    for (const Object& part : parts) UP_TRY(s_.files.remove(ctx.app.tenant_id, part.id));
    return ok();
  }

  // POST /object/complete_multipart_upload {uploadID, parts[], name, contentType, cause, urlPrefix}
  net::awaitable<void> complete_multipart(Exchange& ex, const Context& ctx,
                                          const json::object& req) {
    auto c = parse_complete(req);
    if (!c) co_return co_await fail_with(ex, c.error());
    if (auto st = check_name(c->name, ctx.claims); !st)
      co_return co_await fail_with(ex, st.error());
    if (!c->content_type.empty() && !valid_media_type(c->content_type))
      co_return co_await fail_with(
          ex, Error(Errc::kBadContentType, "contentType must be a media type (type/subtype)"));
    auto u = own_upload(ctx, c->upload_id);
    if (!u) co_return co_await fail_with(ex, u.error());
    if (auto st = check_md5_chain(c->md5s, *u); !st) co_return co_await fail_with(ex, st.error());
    auto done = co_await blocking(ex, [&]() -> Status {
      UP_TRY(assemble(ctx, c->upload_id, *u, c->md5s, c->content_type));
      return bind_name(ctx.app, c->name, hash_key(u->hash));
    });
    if (!done) co_return co_await fail_with(ex, done.error());
    co_await ex.send(ok_response(url_data(c->url_prefix + c->name)));
  }

  // Blocking: checks a part PUT's signed query; the upload it belongs to.
  Result<std::pair<MultipartUpload, App>> verify_part(const std::string& upload_id,
                                                      const std::string& bucket, int64_t n,
                                                      const std::string& expires,
                                                      const std::string& signature) {
    auto u = read_upload_id(upload_id);
    if (!u) return fail(Errc::kGrantScope, "invalid uploadId");
    auto app = openim_app(u->tenant_id, u->app_id);
    if (!app) {
      if (app.error().kind() == Kind::kInternal) return fail(app.error());
      return fail(Errc::kGrantScope, "invalid uploadId");
    }
    if (parse_settings(app->settings_json).bucket != bucket)
      return fail(Errc::kRouteNotFound, "The specified bucket does not exist");
    const std::string key = upload_signing_key(s_, u->tenant_id, u->app_id);
    if (!verify_upload_id(upload_id, key)) return fail(Errc::kGrantScope, "invalid uploadId");
    if (n < 1 || n > u->part_count())
      return fail(Errc::kInvalidArgument, "partNumber out of range");
    int64_t expires_s = 0;
    auto [end, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), expires_s);
    if (ec != std::errc() || end != expires.data() + expires.size() ||
        !crypto::equal_constant_time(part_signature(key, upload_id, n, expires_s), signature))
      return fail(Errc::kGrantInvalid,
                  "The request signature we calculated does not match the signature you provided.");
    if (expires_s * 1000 <= s_.clock.now() || u->expires_at <= s_.clock.now())
      return fail(Errc::kGrantExpired, "Request has expired");
    // A retried part replaces the earlier one.
    auto old = s_.files.get_by_key(u->tenant_id, u->app_id, part_key(upload_id, n));
    if (old) UP_TRY(s_.files.remove(u->tenant_id, old->id));
    else if (old.error().code != Errc::kObjectNotFound) return fail(old.error());
    return std::make_pair(std::move(*u), std::move(*app));
  }

  // PUT <prefix>/<bucket>/multipart?uploadId=&partNumber=&X-Upgate-Expires=&X-Upgate-Signature=
  net::awaitable<void> put_part(Exchange& ex, const std::string& bucket) {
    const std::string resource(ex.path());
    const std::string upload_id = ex.query("uploadId").value_or("");
    const std::string number = ex.query("partNumber").value_or("");
    int64_t n = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (ec != std::errc() || end != number.data() + number.size()) n = 0;
    const std::string expires = ex.query("X-Upgate-Expires").value_or("");
    const std::string signature = ex.query("X-Upgate-Signature").value_or("");
    auto verified = co_await blocking(
        ex, [&] { return verify_part(upload_id, bucket, n, expires, signature); });
    if (!verified) co_return co_await send_s3_error(ex, verified.error(), bucket, resource);
    const MultipartUpload& u = verified->first;
    const uint64_t length = static_cast<uint64_t>(u.part_length(n));
    if (ex.content_length() && *ex.content_length() != length)
      co_return co_await send_s3_error(
          ex,
          Error(Errc::kInvalidArgument, "part " + std::to_string(n) + " must be exactly " +
                                            std::to_string(length) + " bytes"),
          bucket, resource);
    core::UploadSpec spec;
    spec.tenant_id = u.tenant_id;
    spec.app_id = u.app_id;
    spec.key = part_key(upload_id, n);
    spec.name = "part-" + std::to_string(n);
    spec.min_bytes = length;
    spec.max_bytes = length;
    spec.declared_size = ex.content_length();
    spec.state = ObjectState::kTemporary;
    spec.expires_at = u.expires_at;
    spec.owner = u.user_id;
    spec.want_md5 = true;
    auto opened = co_await blocking(ex, [&] { return s_.uploads.begin(std::move(spec)); });
    if (!opened) co_return co_await send_s3_error(ex, opened.error(), bucket, resource);
    core::UploadPtr upload = std::move(*opened);
    std::optional<Error> refused;
    for (;;) {
      auto chunk = co_await ex.read_chunk();
      if (!chunk) {
        refused = chunk.error();
        break;
      }
      if (chunk->empty()) break;
      if (auto st = co_await upload->append(*chunk); !st) {
        refused = st.error();
        break;
      }
    }
    if (!refused && upload->size() != length)
      refused = Error(Errc::kTooSmall, "part " + std::to_string(n) + " must be exactly " +
                                           std::to_string(length) + " bytes");
    if (refused) {
      upload.reset();  // gone before the answer, like a refused form
      co_return co_await send_s3_error(ex, *refused, bucket, resource);
    }
    auto object = co_await upload->commit();
    if (!object) co_return co_await send_s3_error(ex, object.error(), bucket, resource);
    http::Response r;
    r.header("ETag", "\"" + object->md5 + "\"");
    co_await ex.send(std::move(r));
  }

  net::awaitable<void> send_s3_error(Exchange& ex, const Error& e, const std::string& bucket,
                                     const std::string& resource) {
    log_internal(ex, e);
    co_await ex.send(s3_error_response(e, bucket, "", resource, ex.request_id()));
  }

  // ---- the S3 form endpoint ----------------------------------------------------

  // Blocking: finds the app from the signed credential and verifies the form
  // as far as the fields sent before the file allow.
  Result<FormTarget> verify_form(const s3::FormFields& fields, const std::string& bucket,
                                 const std::string& filename) {
    const std::string* credential_text = fields.find("x-amz-credential");
    if (!credential_text) return fail(Errc::kGrantScope, "form field x-amz-credential is missing");
    auto credential = s3::parse_credential(*credential_text);
    if (!credential) return fail(Errc::kGrantScope, credential.error().message);
    std::string tenant, app_id;
    if (!parse_access_key_id(credential->access_key_id, tenant, app_id))
      return fail(Errc::kGrantScope,
                  "The AWS Access Key Id you provided does not exist in our records.");
    auto app = openim_app(tenant, app_id);
    if (!app) {
      if (app.error().kind() == Kind::kInternal) return fail(app.error());
      return fail(Errc::kGrantScope,
                  "The AWS Access Key Id you provided does not exist in our records.");
    }
    FormTarget t;
    t.settings = parse_settings(app->settings_json);
    if (t.settings.bucket != bucket)
      return fail(Errc::kRouteNotFound, "The specified bucket does not exist");
    if (credential->region != t.settings.region)
      return fail(Errc::kGrantScope, "the credential's region is not this bucket's region (" +
                                         t.settings.region + ")");
    auto form = s3::verify_signature(fields, s3_secret(s_, tenant, app_id), s_.clock.now());
    if (!form) {
      // A missing or malformed field is a policy failure to S3 too.
      if (form.error().kind() == Kind::kInvalidArgument)
        return fail(Errc::kGrantScope, form.error().message);
      return fail(form.error());
    }
    UP_TRY(s3::check_conditions(form->policy, fields, bucket, filename, false));
    form->key = s3::resolve_key(form->key, filename);
    // ${filename} brings the part's filename in, where form-data's "%0D%0A"
    // escapes stand for CR LF; the key goes into the Location header.
    if (form->key.empty() || form->key.front() == '/' || form->key.size() > kMaxNameBytes ||
        !valid_utf8(form->key) || has_control_characters(form->key))
      return fail(Errc::kInvalidArgument, "invalid object key");
    // Content there is found by its md5 chain (initiate_multipart_upload's
    // instant answer), so only an assembled multipart upload may write it.
    if (form->key.starts_with(hash_key("")))
      return fail(Errc::kGrantScope,
                  "keys under " + hash_key("") + " are written by multipart uploads only");
    t.form = std::move(*form);
    t.app = std::move(*app);
    return t;
  }

  net::awaitable<void> form_endpoint(Exchange& ex) {
    const auto parts = http::split_path(ex.path().substr(opts_.s3_prefix.size()));
    const std::string bucket = parts.empty() ? std::string() : std::string(parts[0]);
    const std::string resource(ex.path());
    core::UploadPtr upload;
    // A refused upload is dropped before the answer goes out, so a client
    // that sees the error never sees its bytes on disk.
    auto s3_fail = [&](const Error& e, const std::string& key) {
      upload.reset();
      log_internal(ex, e);
      return s3_error_response(e, bucket, key, resource, ex.request_id());
    };
    if (parts.size() == 2 && parts[1] == "multipart" && ex.method() == "PUT")
      co_return co_await put_part(ex, bucket);
    if (parts.size() != 1)
      co_return co_await ex.send(s3_fail(Error(Errc::kRouteNotFound, "no such route"), ""));
    if (ex.method() != "POST")
      co_return co_await ex.send(
          s3_fail(Error(Errc::kMethodNotAllowed,
                        "The specified method is not allowed against this resource."),
                  ""));
    const std::string content_type(ex.header("Content-Type").value_or(""));
    auto boundary = http::multipart_boundary(content_type);
    if (!boundary)
      co_return co_await ex.send(
          s3_fail(Error(Errc::kBadMultipart,
                        "The body of your POST request is not well-formed multipart/form-data."),
                  ""));

    http::MultipartParser parser(*boundary);
    FormSink sink;
    std::optional<FormTarget> target;
    for (;;) {
      auto chunk = co_await ex.read_chunk();
      if (!chunk) co_return co_await ex.send(s3_fail(chunk.error(), ""));
      if (chunk->empty()) break;
      if (auto st = parser.feed(*chunk, sink); !st) {
        // No temporaries of a conditional inside co_await: g++ 12 destroys them twice.
        std::string key;
        if (target) key = target->form.key;
        co_return co_await ex.send(s3_fail(st.error(), key));
      }
      if (upload)
        if (auto st = co_await upload->flush(); !st)
          co_return co_await ex.send(s3_fail(st.error(), target->form.key));
      if (!sink.needs_upload()) continue;
      auto verified = co_await blocking(
          ex, [&] { return verify_form(sink.fields(), bucket, sink.filename()); });
      if (!verified) co_return co_await ex.send(s3_fail(verified.error(), ""));
      target = std::move(*verified);
      core::UploadSpec spec;
      spec.tenant_id = target->app.tenant_id;
      spec.app_id = target->app.id;
      spec.key = target->form.key;
      const size_t slash = spec.key.rfind('/');
      spec.name = sink.filename().empty()
                      ? spec.key.substr(slash == std::string::npos ? 0 : slash + 1)
                      : sink.filename();
      if (!acceptable_file_name(spec.name)) spec.name = "file";
      spec.content_type =
          sink.file_content_type().empty() ? "application/octet-stream" : sink.file_content_type();
      spec.max_bytes = target->form.max_size;
      spec.want_md5 = true;
      auto opened = co_await blocking(ex, [&] { return s_.uploads.begin(std::move(spec)); });
      if (!opened) co_return co_await ex.send(s3_fail(opened.error(), target->form.key));
      upload = std::move(*opened);
      if (auto st = sink.attach(*upload); !st)
        co_return co_await ex.send(s3_fail(st.error(), target->form.key));
      if (auto st = co_await upload->flush(); !st)
        co_return co_await ex.send(s3_fail(st.error(), target->form.key));
    }
    if (auto st = parser.finish(sink); !st) co_return co_await ex.send(s3_fail(st.error(), ""));
    if (!sink.saw_file() || !target)
      co_return co_await ex.send(s3_fail(
          Error(Errc::kInvalidArgument, "POST requires exactly one file upload per request."), ""));
    const std::string& key = target->form.key;
    // Fields sent after the file must be covered too, and the size is known now.
    if (auto st =
            s3::check_conditions(target->form.policy, sink.fields(), bucket, sink.filename(), true);
        !st)
      co_return co_await ex.send(s3_fail(st.error(), key));
    if (auto st = s3::check_size(target->form.policy, upload->size()); !st)
      co_return co_await ex.send(s3_fail(st.error(), key));
    if (const std::string* ct = sink.fields().find("content-type"); ct && !ct->empty())
      upload->spec().content_type = *ct;

    auto object = co_await upload->commit();
    if (!object) co_return co_await ex.send(s3_fail(object.error(), key));

    const std::string etag = "\"" + object->md5 + "\"";
    const std::string* status_field = sink.fields().find("success_action_status");
    const std::string status = status_field ? *status_field : "";
    http::Response r;
    if (status == "201") {
      r.status = 201;
      r.body = post_response_xml(s_.public_url + opts_.s3_prefix + "/" + bucket + "/" + key, bucket,
                                 key, etag);
      r.header("Content-Type", "application/xml");
    } else {
      r.status = status == "200" ? 200 : 204;
    }
    r.header("ETag", etag);
    r.header("Location", s_.public_url + opts_.s3_prefix + "/" + bucket + "/" + key);
    co_await ex.send(std::move(r));
  }

  core::Services& s_;
  Options opts_;
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
