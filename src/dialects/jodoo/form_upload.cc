// The Qiniu form upload as the qiniu SDKs and Jodoo's clients send it
// (spec/jodoo.md §2.4-2.7, spec/http.md): multipart fields in any order around
// the one file part (the Node SDK sends crc32 last), chunked or not.
//
// The file part is streamed into core::Upload as it arrives; it may only
// follow the token (verifying comes first, so nothing is written for a bad
// token). Fields after the file are checked before commit().

#include "dialects/jodoo/form_upload.h"

#include <map>

#include <boost/json.hpp>

#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/dialect_prelude.h"
#include "dialects/jodoo/callback.h"
#include "dialects/jodoo/errors.h"
#include "dialects/jodoo/keys.h"
#include "dialects/jodoo/qiniu.h"
#include "dialects/jodoo/settings.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::jodoo {
namespace {

constexpr size_t kMaxFieldBytes = 4096;
constexpr size_t kMaxFieldsBytes = 64 * 1024;  // all small fields together
constexpr UnixMs kRateWindowMs = 1000;

// What a verified token allows.
struct Grant {
  UploadToken token;
  std::string secret_key;
  App app;
};

// Blocking (tenant and app reads on a cache miss). Checks the signature with
// the tenant's key of the token's version, the scope and the rate limits.
Result<Grant> verify(core::Services& s, std::string_view token_text) {
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

// The upload the grant allows. Its key is settled at the end, when every
// field has arrived.
core::UploadSpec upload_spec(const Grant& g) {
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

// The object key per Qiniu's rules: a "bucket:key" scope pins it; otherwise
// the saveKey wins when forced or when the form names none.
Result<std::string> resolve_key(const PutPolicy& p, const std::string* form_key) {
  if (auto pinned = p.scoped_key()) {
    if (form_key && *form_key != *pinned) return fail(Errc::kGrantScope, "key doesn't match scope");
    return *pinned;
  }
  if (!p.save_key.empty() && (p.force_save_key || !form_key || form_key->empty()))
    return p.save_key;
  if (form_key && !form_key->empty()) return *form_key;
  return random_hex(16);
}

std::string meta_json(const std::map<std::string, std::string>& fields) {
  json::object vars, meta;
  for (const auto& [name, value] : fields) {
    if (name.starts_with("x:")) vars[name] = value;
    else if (name.starts_with("x-qn-meta-")) meta[name.substr(10)] = value;
  }
  json::object o;
  if (!vars.empty()) o["x"] = std::move(vars);
  if (!meta.empty()) o["meta"] = std::move(meta);
  return json::serialize(o);
}

std::string default_body(const Object& o) {
  json::object b;
  b["key"] = o.key;
  b["hash"] = o.qetag;
  return json::serialize(b);
}

BodyEscape escape_for(std::string_view body_type) {
  if (body_type.starts_with("application/json")) return BodyEscape::kJsonString;
  return BodyEscape::kFormUrlEncoded;  // Qiniu's default callback body type
}

// The policy's callback request for a committed object (kCallbackFailed
// when the policy cannot make one).
Result<CallbackRequest> callback_request(const Grant& g, const Object& o,
                                         const std::map<std::string, std::string>& fields) {
  const PutPolicy& p = g.token.policy;
  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "key") return o.key;
    if (name == "etag") return o.qetag;
    if (name == "fname") return o.name;
    if (name == "fsize") return std::to_string(o.size);
    if (name == "mimeType") return o.content_type;
    if (name == "bucket") return p.bucket();
    if (name.starts_with("x:")) {
      auto it = fields.find(std::string(name));
      if (it != fields.end()) return it->second;
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
                                              const std::map<std::string, std::string>& fields) {
  auto req = callback_request(g, o, fields);
  if (!req) co_return fail(req.error());
  auto answer = co_await callbacks.post(std::move(*req));
  if (!answer) co_return answer;
  boost::system::error_code ec;
  json::parse(*answer, ec);
  if (ec) co_return fail(Errc::kCallbackFailed, "callback failed: the answer is not JSON");
  co_return answer;
}

// `accept` asks for the response's Content-Type (old IE form posts want text/plain).
std::string content_type_for(const std::string* accept) {
  if (!accept || accept->empty() || accept->size() > 128) return "application/json";
  for (char c : *accept)
    if (c < 0x20 || c > 0x7e) return "application/json";
  return *accept;
}

// The form: fields in any order around the one file part, which may only
// follow the token (the upload opens once the token is verified).
class FormUpload final : public http::UploadHooks {
 public:
  FormUpload(Exchange& ex, core::Services& s, const CallbackClient& callbacks)
      : ex_(ex), s_(s), callbacks_(callbacks) {}

  // http::UploadHooks
  bool ready(const http::FilePart&) const override { return fields_.count("token") > 0; }
  Result<core::UploadSpec> spec(const http::FilePart&) override {
    auto g = verify(s_, fields_.at("token"));
    if (!g) return fail(g.error());
    grant_.emplace(std::move(*g));
    return upload_spec(*grant_);
  }
  Status opened(core::Upload&) override {
    ex_.log_field("tenant", grant_->app.tenant_id);
    return ok();
  }
  Status on_file_part(const http::PartHeaders&) override {
    if (!fields_.count("token"))
      return fail(Errc::kBadMultipart, "the token field must come before the file part");
    return ok();
  }
  std::optional<size_t> field_limit(const http::PartHeaders& part) const override {
    return part.name == "token" ? kMaxTokenBytes : kMaxFieldBytes;
  }
  size_t max_fields_bytes() const override { return kMaxFieldsBytes; }
  Status on_field(const std::string& name, std::string&& value) override {
    if (fields_.count(name)) return fail(Errc::kBadMultipart, "field sent twice: " + name);
    fields_.emplace(name, std::move(value));
    return ok();
  }
  Error missing_file() const override {
    if (!grant_) return Error(Errc::kGrantInvalid, "token not specified");
    return Error(Errc::kMissingField, "file not specified");
  }
  Error append_error(const Error& e, const core::Upload& upload) const override {
    if (e.code != Errc::kTooLarge) return e;
    return Error(Errc::kTooLarge,
                 "exceeded fsizeLimit: at most " + std::to_string(upload.limit()) + " bytes");
  }
  Status finish(core::Upload& upload, const http::FilePart& file) override;
  net::awaitable<Result<http::Response>> answer(Exchange& ex, const Object& object) override;
  http::Response error_response(const Error& e) const override {
    // A used single-use key or a taken one: Qiniu says the same for both.
    Error shown = e;
    if (e.code == Errc::kGrantUsed || e.code == Errc::kObjectKeyExists)
      shown.message = "file exists";
    http::Response r = qiniu_error_response(shown);
    r.header("X-Reqid", std::string(ex_.request_id()));
    return r;
  }

 private:
  const std::string* field(const std::string& name) const {
    auto it = fields_.find(name);
    return it == fields_.end() ? nullptr : &it->second;
  }

  Exchange& ex_;
  core::Services& s_;
  const CallbackClient& callbacks_;
  std::map<std::string, std::string> fields_;
  std::optional<Grant> grant_;
};

Status FormUpload::finish(core::Upload& upload, const http::FilePart& file) {
  const PutPolicy& policy = grant_->token.policy;
  if (policy.deadline * 1000 < s_.clock.now())
    return fail(Errc::kGrantExpired, "token out of date");
  if (const std::string* crc = field("crc32")) {
    const auto want = parse_crc32_field(*crc);
    if (!want) return fail(Errc::kInvalidArgument, "invalid crc32");
    if (*want != upload.crc32()) return fail(Errc::kChecksumMismatch, "crc32 not match");
  }
  auto key = resolve_key(policy, field("key"));
  if (!key) return fail(key.error());
  if (key->empty() || key->size() > 750 || !valid_utf8(*key) || has_control_characters(*key))
    return fail(Errc::kInvalidArgument, "invalid key");
  const std::string* fname = field("fname");
  std::string name = fname && !fname->empty() ? *fname : file.filename;
  if (name.empty()) name = *key;
  if (!acceptable_file_name(name)) return fail(Errc::kBadName, "invalid file name");
  core::UploadSpec& spec = upload.spec();
  spec.key = std::move(*key);
  spec.name = std::move(name);
  if (!file.content_type.empty()) spec.content_type = file.content_type;
  spec.meta_json = meta_json(fields_);
  return ok();
}

net::awaitable<Result<http::Response>> FormUpload::answer(Exchange& ex, const Object& object) {
  std::string body;
  if (!grant_->token.policy.callback_url.empty()) {
    auto answer = co_await call_back(callbacks_, *grant_, object, fields_);
    if (!answer) {
      // Nothing is kept for a failed callback (Qiniu's 579).
      auto removed =
          co_await blocking(ex, [&] { return s_.files.remove(object.tenant_id, object.id); });
      if (!removed) co_return fail(removed.error());
      co_return fail(answer.error());
    }
    body = std::move(*answer);
  } else {
    body = default_body(object);
  }
  http::Response r = http::empty_response(200);
  r.header("Content-Type", content_type_for(field("accept")));
  r.header("X-Reqid", std::string(ex.request_id()));
  r.body = std::move(body);
  co_return r;
}

}  // namespace

net::awaitable<void> serve_form_upload(Exchange& ex, core::Services& s,
                                       const CallbackClient& callbacks) {
  FormUpload form(ex, s, callbacks);
  if (ex.method() != "POST") {
    const Error e(Errc::kMethodNotAllowed, "method not allowed");
    co_return co_await ex.send(form.error_response(e));
  }
  const std::string content_type(ex.header("Content-Type").value_or(""));
  auto boundary = http::multipart_boundary(content_type);
  if (!boundary) {
    const Error e(Errc::kBadMultipart, "invalid multipart format");
    co_return co_await ex.send(form.error_response(e));
  }
  co_await http::receive_upload(ex, s.uploads, form, std::move(*boundary));
}

}  // namespace up::dialects::jodoo
