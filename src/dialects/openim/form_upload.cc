// The S3 POST-form upload of the OpenIM dialect (uploads.h).

#include "dialects/openim/uploads.h"

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/services.h"
#include "core/sigv4.h"
#include "core/text.h"
#include "dialects/openim/errors.h"
#include "dialects/openim/post_policy.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::openim {
namespace {

constexpr UnixMs kDefaultFormMs = 10 * 60'000;  // OpenIM's form duration for non-admins
constexpr size_t kMaxFieldBytes = 64 * 1024;    // one form text field
constexpr size_t kMaxFieldsBytes = 256 * 1024;  // all of them

// path.Ext: the suffix from the last '.' of the last path element.
std::string_view extension(std::string_view name) {
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : base.substr(dot);
}

std::string yyyymmdd(UnixMs t) { return sigv4::amz_date(t).substr(0, 8); }

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

std::string post_response_xml(const std::string& location, const std::string& bucket,
                              const std::string& key, const std::string& etag) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>" +
         xml_escape(location) + "</Location><Bucket>" + xml_escape(bucket) + "</Bucket><Key>" +
         xml_escape(key) + "</Key><ETag>" + xml_escape(etag) + "</ETag></PostResponse>";
}

// The blob store's own POST form for `id` (form_data_direct): the bytes go
// to the object store under a fresh locator, which the id carries, signed,
// to complete_form_data. kUnimplemented when the store has no such form.
Result<std::string> direct_form(core::Services& s, const Context& ctx, FormId& id, UnixMs now,
                                UnixMs expires_at) {
  // As on the form endpoint: content there is found by its md5 chain, so
  // only an assembled multipart upload may be recorded under it.
  if (id.key.starts_with(hash_key("")))
    return fail(Errc::kGrantScope,
                "keys under " + hash_key("") + " are written by multipart uploads only");
  storage::DirectPostLimits limits;
  limits.max_bytes = static_cast<uint64_t>(id.size);
  limits.content_type = id.content_type;
  limits.now = now;
  limits.expires_at = expires_at;
  auto direct = s.uploads.direct_post(limits);
  if (!direct) return fail(direct.error());
  id.blob = direct->locator;
  id.blob_signature = direct_form_signature(s3_secret(s, ctx.app.tenant_id, ctx.app.id), id);
  return form_data(encode_form_id(id), direct->post.url, direct->post.fields, expires_at);
}

// Records the blob a direct form stored, as the form endpoint records an
// upload: under the form's key, hashed, within the app's limits. Done on the
// first completion; a second finds the row, as the form endpoint's are found.
net::awaitable<Status> record_direct(Exchange& ex, core::Services& s, const Context& ctx,
                                     const FormId& id) {
  const std::string expected =
      direct_form_signature(s3_secret(s, ctx.app.tenant_id, ctx.app.id), id);
  if (!crypto::equal_constant_time(expected, id.blob_signature))
    co_return fail(Errc::kInvalidArgument, "invalid id");
  auto found = co_await blocking(ex, [&]() -> Status {
    auto o = s.files.get_by_key(ctx.app.tenant_id, ctx.app.id, id.key);
    return o ? ok() : fail(o.error());
  });
  if (found || found.error().code != Errc::kObjectNotFound) co_return found;
  core::UploadSpec spec;
  spec.tenant_id = ctx.app.tenant_id;
  spec.app_id = ctx.app.id;
  spec.key = id.key;
  const size_t slash = id.key.rfind('/');
  spec.name = id.key.substr(slash == std::string::npos ? 0 : slash + 1);
  if (!acceptable_file_name(spec.name)) spec.name = "file";
  if (!id.content_type.empty()) spec.content_type = id.content_type;
  spec.declared_size = static_cast<uint64_t>(id.size);
  spec.want_md5 = true;
  auto object = co_await s.uploads.adopt(std::move(spec), id.blob);
  if (object) co_return ok();
  if (object.error().code == Errc::kObjectNotFound)
    co_return fail(Errc::kObjectNotFound, "object not found: the form was not posted");
  if (object.error().code == Errc::kSizeMismatch)
    co_return fail(Errc::kSizeMismatch, "file size mismatch");
  co_return fail(object.error());
}

// What the file part needs before its bytes may be stored.
struct FormTarget {
  App app;
  Settings settings;
  s3::VerifiedForm form;
};

// Blocking: finds the app from the signed credential and verifies the form
// as far as the fields sent before the file allow.
Result<FormTarget> verify_form(const core::Services& s, const s3::FormFields& fields,
                               const std::string& bucket, const std::string& filename) {
  const std::string* credential_text = fields.find("x-amz-credential");
  if (!credential_text) return fail(Errc::kGrantScope, "form field x-amz-credential is missing");
  auto credential = s3::parse_credential(*credential_text);
  if (!credential) return fail(Errc::kGrantScope, credential.error().message);
  std::string tenant, app_id;
  if (!parse_access_key_id(credential->access_key_id, tenant, app_id))
    return fail(Errc::kGrantScope,
                "The AWS Access Key Id you provided does not exist in our records.");
  auto app = openim_app(s, tenant, app_id);
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
    return fail(Errc::kGrantScope,
                "the credential's region is not this bucket's region (" + t.settings.region + ")");
  auto form = s3::verify_signature(fields, s3_secret(s, tenant, app_id), s.clock.now());
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

// The form: text fields around the one `file` part. The upload opens when
// the file part begins, once the fields before it verify (the signature and
// the conditions they can meet); fields after it are checked at the end.
class FormPost final : public http::UploadHooks {
 public:
  FormPost(const Exchange& ex, const core::Services& s, std::string bucket, std::string location)
      : ex_(ex), s_(s), bucket_(std::move(bucket)), location_(std::move(location)) {}

  // http::UploadHooks
  bool ready(const http::FilePart& file) const override { return file.seen; }
  Result<core::UploadSpec> spec(const http::FilePart& file) override {
    auto verified = verify_form(s_, fields_, bucket_, file.filename);
    if (!verified) return fail(verified.error());
    target_ = std::move(*verified);
    core::UploadSpec spec;
    spec.tenant_id = target_->app.tenant_id;
    spec.app_id = target_->app.id;
    spec.key = target_->form.key;
    const size_t slash = spec.key.rfind('/');
    spec.name = file.filename.empty() ? spec.key.substr(slash == std::string::npos ? 0 : slash + 1)
                                      : file.filename;
    if (!acceptable_file_name(spec.name)) spec.name = "file";
    if (!file.content_type.empty()) spec.content_type = file.content_type;
    spec.max_bytes = target_->form.max_size;
    spec.want_md5 = true;
    return spec;
  }
  bool is_file_part(const http::PartHeaders& part) const override {
    return http::to_lower_ascii(part.name) == "file";
  }
  Error second_file_part() const override {
    return Error(Errc::kInvalidArgument, "POST requires exactly one file upload per request");
  }
  std::optional<size_t> field_limit(const http::PartHeaders&) const override {
    return kMaxFieldBytes;
  }
  size_t max_fields_bytes() const override { return kMaxFieldsBytes; }
  Error field_too_large(const std::string& name) const override {
    return Error(Errc::kInvalidArgument, "form field " + name + " is too long");
  }
  Status on_field(const std::string& name, std::string&& value) override {
    if (name.empty()) return fail(Errc::kBadMultipart, "a form part without a name");
    return fields_.add(name, std::move(value));
  }
  Error missing_file() const override {
    return Error(Errc::kInvalidArgument, "POST requires exactly one file upload per request.");
  }
  Error append_error(const Error& e, const core::Upload&) const override {
    if (e.code != Errc::kTooLarge) return e;
    return Error(Errc::kTooLarge, "Your proposed upload exceeds the maximum allowed size");
  }
  Status finish(core::Upload& upload, const http::FilePart& file) override {
    // Fields sent after the file must be covered too, and the size is known now.
    UP_TRY(s3::check_conditions(target_->form.policy, fields_, bucket_, file.filename, true));
    UP_TRY(s3::check_size(target_->form.policy, upload.size()));
    if (const std::string* ct = fields_.find("content-type"); ct && !ct->empty())
      upload.spec().content_type = *ct;
    return ok();
  }
  net::awaitable<Result<http::Response>> answer(Exchange&, const Object& object) override;
  http::Response error_response(const Error& e) const override {
    return s3_error_response(e, bucket_, target_ ? target_->form.key : std::string(), ex_.path(),
                             ex_.request_id());
  }

 private:
  const Exchange& ex_;
  const core::Services& s_;
  std::string bucket_;
  std::string location_;  // the bucket's URL
  s3::FormFields fields_;
  std::optional<FormTarget> target_;
};

net::awaitable<Result<http::Response>> FormPost::answer(Exchange&, const Object& object) {
  const std::string& key = target_->form.key;
  const std::string etag = "\"" + object.md5 + "\"";
  const std::string* status_field = fields_.find("success_action_status");
  const std::string status = status_field ? *status_field : "";
  http::Response r;
  if (status == "201") {
    r.status = 201;
    r.body = post_response_xml(location_ + "/" + key, bucket_, key, etag);
    r.header("Content-Type", "application/xml");
  } else {
    r.status = status == "200" ? 200 : 204;
  }
  r.header("ETag", etag);
  r.header("Location", location_ + "/" + key);
  co_return r;
}

}  // namespace

net::awaitable<void> FormUploads::initiate(Exchange& ex, const Context& ctx,
                                           const json::object& req) const {
  FormId id;
  int64_t millisecond = 0;
  if (auto st = Members(req)
                    .text("name", id.name)
                    .integer("size", id.size)
                    .text("contentType", id.content_type)
                    .text("group", id.group)
                    .integer("millisecond", millisecond)
                    .status();
      !st)
    co_return co_await fail_with(ex, st.error());
  if (auto st = check_name(id.name, ctx.claims); !st) co_return co_await fail_with(ex, st.error());
  // The type goes into the signed form and from there into the stored
  // object and its downloads' Content-Type: refused now, not after the
  // client has sent the bytes.
  if (!id.content_type.empty() && !valid_media_type(id.content_type))
    co_return co_await fail_with(
        ex, Error(Errc::kBadContentType, "contentType must be a media type (type/subtype)"));
  if (id.size <= 0)
    co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "size must be greater than 0"));
  if (static_cast<uint64_t>(id.size) > s_.directory.default_max_object_bytes())
    co_return co_await fail_with(
        ex, Error(Errc::kTooLarge, "size exceeds the largest file this server accepts"));

  const UnixMs now = s_.clock.now();
  const UnixMs duration = ctx.claims.admin && millisecond > 0 ? millisecond : kDefaultFormMs;
  if (ctx.claims.admin && bool_field(req, "absolute")) id.key = id.name;
  else
    id.key = "openim/direct/" + yyyymmdd(now) + "/" + ctx.claims.user_id + "/" + random_hex(16) +
             std::string(extension(id.name));

  if (ctx.settings.form_data_direct) {
    auto direct = direct_form(s_, ctx, id, now, now + duration);
    if (direct) co_return co_await ex.send(ok_response(*direct));
    // A store without direct uploads (local disk) keeps upgate's own form.
    if (direct.error().code != Errc::kUnimplemented)
      co_return co_await fail_with(ex, direct.error());
  }
  sigv4::PostFormRequest fr;
  fr.bucket = ctx.settings.bucket;
  fr.key = id.key;
  fr.content_type = id.content_type;
  fr.max_size = static_cast<uint64_t>(id.size);
  fr.now = now;
  fr.expires_at = now + duration;
  fr.access_key_id = access_key_id(ctx.app.tenant_id, ctx.app.id);
  fr.secret_key = s3_secret(s_, ctx.app.tenant_id, ctx.app.id);
  fr.region = ctx.settings.region;
  co_await ex.send(ok_response(
      form_data(encode_form_id(id), s_.public_url + opts_.s3_prefix + "/" + ctx.settings.bucket,
                sigv4::post_form(fr), fr.expires_at)));
}

net::awaitable<void> FormUploads::complete(Exchange& ex, const Context& ctx,
                                           const json::object& req) const {
  auto id_text = string_field(req, "id");
  auto url_prefix = string_field(req, "urlPrefix");
  if (!id_text) co_return co_await fail_with(ex, id_text.error());
  if (!url_prefix) co_return co_await fail_with(ex, url_prefix.error());
  auto id = decode_form_id(*id_text);
  if (!id) co_return co_await fail_with(ex, id.error());
  if (auto st = check_name(id->name, ctx.claims); !st) co_return co_await fail_with(ex, st.error());
  // A non-admin may only confirm what a form of its own could have uploaded.
  if (!ctx.claims.admin && !direct_key_of(id->key, ctx.claims.user_id))
    co_return co_await fail_with(ex, Error(Errc::kPermissionDenied, "this upload is not yours"));
  if (!id->blob.empty()) {
    if (auto st = co_await record_direct(ex, s_, ctx, *id); !st)
      co_return co_await fail_with(ex, st.error());
  }
  auto done = co_await blocking(ex, [&]() -> Status {
    auto o = s_.files.get_by_key(ctx.app.tenant_id, ctx.app.id, id->key);
    if (!o) {
      if (o.error().code == Errc::kObjectNotFound)
        return fail(Errc::kObjectNotFound, "object not found: the form was not posted");
      return fail(o.error());
    }
    if (o->size != static_cast<uint64_t>(id->size))
      return fail(Errc::kSizeMismatch, "file size mismatch");
    return bind_name(s_, ctx.app, id->name, id->key);
  });
  if (!done) co_return co_await fail_with(ex, done.error());
  co_await ex.send(ok_response(url_data(*url_prefix + id->name)));
}

net::awaitable<void> FormUploads::post(Exchange& ex, const std::string& bucket) const {
  FormPost form(ex, s_, bucket, s_.public_url + opts_.s3_prefix + "/" + bucket);
  const std::string content_type(ex.header("Content-Type").value_or(""));
  auto boundary = http::multipart_boundary(content_type);
  if (!boundary) {
    const Error e(Errc::kBadMultipart,
                  "The body of your POST request is not well-formed multipart/form-data.");
    co_return co_await ex.send(form.error_response(e));
  }
  co_await http::receive_upload(ex, s_.uploads, form, std::move(*boundary));
}

}  // namespace up::dialects::openim
