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
#include "core/log.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/jodoo/callback.h"
#include "dialects/jodoo/errors.h"
#include "dialects/jodoo/keys.h"
#include "dialects/jodoo/qiniu.h"
#include "dialects/jodoo/settings.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/multipart.h"

namespace up::dialects::jodoo {
namespace {

namespace json = boost::json;
namespace net = boost::asio;
using http::blocking;
using http::Exchange;

constexpr size_t kMaxFieldBytes = 4096;
constexpr size_t kMaxFieldsBytes = 64 * 1024;  // all small fields together
constexpr UnixMs kRateWindowMs = 1000;

// What a verified token allows.
struct Grant {
  UploadToken token;
  std::string secret_key;
  App app;
};

// Collects the small fields and streams the file part. File bytes that arrive
// before the upload is open (in the same read as the token's end) wait in
// `pending_`: at most one read's worth, since the upload opens right after it.
class FormSink final : public http::MultipartSink {
 public:
  Status on_part_begin(const http::PartHeaders& part) override {
    if (part.name == "file") {
      if (saw_file_) return fail(Errc::kBadMultipart, "more than one file part");
      if (!token_complete_)
        return fail(Errc::kBadMultipart, "the token field must come before the file part");
      saw_file_ = in_file_ = true;
      filename_ = part.filename;
      content_type_ = part.content_type;
      return ok();
    }
    if (fields_.count(part.name))
      return fail(Errc::kBadMultipart, "field sent twice: " + part.name);
    field_ = &fields_[part.name];
    in_token_ = part.name == "token";
    fields_bytes_ += part.name.size();
    return ok();
  }

  Status on_part_data(std::string_view data) override {
    if (in_file_) {
      if (upload_) return append(data);
      pending_.append(data);
      return ok();
    }
    const size_t limit = in_token_ ? kMaxTokenBytes : kMaxFieldBytes;
    fields_bytes_ += data.size();
    if (field_->size() + data.size() > limit || fields_bytes_ > kMaxFieldsBytes)
      return fail(Errc::kInvalidArgument, "form field too large");
    field_->append(data);
    return ok();
  }

  Status on_part_end() override {
    if (in_token_) token_complete_ = true;
    in_file_ = in_token_ = false;
    field_ = nullptr;
    return ok();
  }

  // Opens the file stream into `upload`, writing what already arrived.
  Status attach(core::Upload& upload) {
    upload_ = &upload;
    std::string pending = std::move(pending_);
    return pending.empty() ? ok() : append(pending);
  }

  bool token_complete() const { return token_complete_; }
  bool saw_file() const { return saw_file_; }
  const std::string& filename() const { return filename_; }
  const std::string& content_type() const { return content_type_; }
  const std::map<std::string, std::string>& fields() const { return fields_; }
  const std::string* field(const std::string& name) const {
    auto it = fields_.find(name);
    return it == fields_.end() ? nullptr : &it->second;
  }

 private:
  Status append(std::string_view data) {
    if (auto st = upload_->stage(data); !st) {
      if (st.error().code == Errc::kTooLarge)
        return fail(Errc::kTooLarge,
                    "exceeded fsizeLimit: at most " + std::to_string(upload_->limit()) + " bytes");
      return st;
    }
    return ok();
  }

  core::Upload* upload_ = nullptr;
  std::map<std::string, std::string> fields_;
  std::string* field_ = nullptr;
  size_t fields_bytes_ = 0;
  bool token_complete_ = false, saw_file_ = false, in_file_ = false, in_token_ = false;
  std::string filename_, content_type_, pending_;
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
  if (!s.rate_limiter.hit(prefix, settings.rate_limit("global"), kRateWindowMs).allowed ||
      !s.rate_limiter.hit(prefix + ":upload", settings.rate_limit("upload"), kRateWindowMs).allowed)
    return fail(Errc::kRateLimited, "too many requests");
  g.token = std::move(*token);
  g.app = std::move(*app);
  return g;
}

// Blocking: opens the upload the grant allows. Its key is settled at the end,
// when every field has arrived.
Result<core::UploadPtr> begin_upload(core::Services& s, const Grant& g) {
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
  return s.uploads.begin(std::move(spec));
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

// Blocking: posts the policy's callback for a committed object and returns
// the callback's answer. On failure the object is removed (nothing is kept
// for a 579).
Result<std::string> run_callback(core::Services& s, const CallbackClient& callbacks, const Grant& g,
                                 const Object& o,
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
  if (!valid_media_type(body_type) || has_control_characters(p.callback_host)) {
    if (auto st = s.files.remove(o.tenant_id, o.id); !st) return fail(st.error());
    return fail(Errc::kCallbackFailed, "callback failed: invalid callbackBodyType or callbackHost");
  }
  auto answer = [&]() -> Result<std::string> {
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
    return callbacks.post(req);
  }();
  if (!answer) {
    if (auto st = s.files.remove(o.tenant_id, o.id); !st) return fail(st.error());
    return answer;
  }
  // The uploader gets the callback's JSON; anything else is not something a
  // Qiniu client can parse.
  boost::system::error_code ec;
  json::parse(*answer, ec);
  if (ec) {
    if (auto st = s.files.remove(o.tenant_id, o.id); !st) return fail(st.error());
    return fail(Errc::kCallbackFailed, "callback failed: the answer is not JSON");
  }
  return answer;
}

// `accept` asks for the response's Content-Type (old IE form posts want text/plain).
std::string content_type_for(const std::string* accept) {
  if (!accept || accept->empty() || accept->size() > 128) return "application/json";
  for (char c : *accept)
    if (c < 0x20 || c > 0x7e) return "application/json";
  return *accept;
}

net::awaitable<void> reply(Exchange& ex, http::Response r) {
  r.header("X-Reqid", std::string(ex.request_id()));
  co_await ex.send(std::move(r));
}

net::awaitable<void> fail_with(Exchange& ex, const Error& e) {
  if (e.kind() == Kind::kInternal) log::request_error(ex.request_id(), e.message);
  co_await reply(ex, qiniu_error_response(e));
}

}  // namespace

net::awaitable<void> serve_form_upload(Exchange& ex, core::Services& s,
                                       const CallbackClient& callbacks) {
  if (ex.method() != "POST")
    co_return co_await fail_with(ex, Error(Errc::kMethodNotAllowed, "method not allowed"));
  const std::string content_type(ex.header("Content-Type").value_or(""));
  auto boundary = http::multipart_boundary(content_type);
  if (!boundary)
    co_return co_await fail_with(ex, Error(Errc::kBadMultipart, "invalid multipart format"));

  http::MultipartParser parser(*boundary);
  FormSink sink;
  std::optional<Grant> grant;
  core::UploadPtr upload;
  for (;;) {
    auto chunk = co_await ex.read_chunk();
    if (!chunk) co_return co_await fail_with(ex, chunk.error());
    if (chunk->empty()) break;
    if (auto st = parser.feed(*chunk, sink); !st) co_return co_await fail_with(ex, st.error());
    if (!upload && sink.token_complete()) {
      const std::string token_text = *sink.field("token");
      auto opened = co_await blocking(ex, [&]() -> Result<core::UploadPtr> {
        auto g = verify(s, token_text);
        if (!g) return fail(g.error());
        grant.emplace(std::move(*g));
        return begin_upload(s, *grant);
      });
      if (!opened) co_return co_await fail_with(ex, opened.error());
      upload = std::move(*opened);
      ex.log_field("tenant", grant->app.tenant_id);
      if (auto st = sink.attach(*upload); !st) co_return co_await fail_with(ex, st.error());
    }
    if (upload)
      if (auto st = co_await upload->flush(); !st) co_return co_await fail_with(ex, st.error());
  }
  if (auto st = parser.finish(sink); !st) co_return co_await fail_with(ex, st.error());
  if (!upload) co_return co_await fail_with(ex, Error(Errc::kGrantInvalid, "token not specified"));
  if (!sink.saw_file())
    co_return co_await fail_with(ex, Error(Errc::kMissingField, "file not specified"));

  const PutPolicy& policy = grant->token.policy;
  if (policy.deadline * 1000 < s.clock.now())
    co_return co_await fail_with(ex, Error(Errc::kGrantExpired, "token out of date"));
  if (const std::string* crc = sink.field("crc32")) {
    const auto want = parse_crc32_field(*crc);
    if (!want) co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "invalid crc32"));
    if (*want != upload->crc32())
      co_return co_await fail_with(ex, Error(Errc::kChecksumMismatch, "crc32 not match"));
  }
  auto key = resolve_key(policy, sink.field("key"));
  if (!key) co_return co_await fail_with(ex, key.error());
  if (key->empty() || key->size() > 750 || !valid_utf8(*key) || has_control_characters(*key))
    co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "invalid key"));
  const std::string* fname = sink.field("fname");
  std::string name = fname && !fname->empty() ? *fname : sink.filename();
  if (name.empty()) name = *key;
  if (!acceptable_file_name(name))
    co_return co_await fail_with(ex, Error(Errc::kBadName, "invalid file name"));
  core::UploadSpec& spec = upload->spec();
  spec.key = std::move(*key);
  spec.name = std::move(name);
  if (!sink.content_type().empty()) spec.content_type = sink.content_type();
  spec.meta_json = meta_json(sink.fields());

  auto object = co_await upload->commit();
  if (!object) {
    if (object.error().code == Errc::kGrantUsed)
      co_return co_await fail_with(ex, Error(Errc::kGrantUsed, "file exists"));
    if (object.error().code == Errc::kObjectKeyExists)
      co_return co_await fail_with(ex, Error(Errc::kObjectKeyExists, "file exists"));
    co_return co_await fail_with(ex, object.error());
  }

  std::string body;
  if (!policy.callback_url.empty()) {
    auto answer = co_await blocking(
        ex, [&] { return run_callback(s, callbacks, *grant, *object, sink.fields()); });
    if (!answer) co_return co_await fail_with(ex, answer.error());
    body = std::move(*answer);
  } else {
    body = default_body(*object);
  }
  http::Response r = http::empty_response(200);
  r.header("Content-Type", content_type_for(sink.field("accept")));
  r.body = std::move(body);
  co_await reply(ex, std::move(r));
}

}  // namespace up::dialects::jodoo
