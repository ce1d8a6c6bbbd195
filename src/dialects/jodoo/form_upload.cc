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
#include "dialects/jodoo/upload_grant.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::jodoo {
namespace {

constexpr size_t kMaxFieldBytes = 4096;
constexpr size_t kMaxFieldsBytes = 64 * 1024;  // all small fields together

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
    auto g = verify_grant(s_, fields_.at("token"));
    if (!g) return fail(g.error());
    grant_.emplace(std::move(*g));
    return grant_upload_spec(*grant_);
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
    return upload_error_response(ex_, e);
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
  const std::string* fname = field("fname");
  std::string name = fname && !fname->empty() ? *fname : file.filename;
  if (name.empty()) name = *key;
  if (!acceptable_file_name(name)) return fail(Errc::kBadName, "invalid file name");
  core::UploadSpec& spec = upload.spec();
  spec.key = std::move(*key);
  spec.name = std::move(name);
  if (!file.content_type.empty()) spec.content_type = file.content_type;
  spec.meta_json = upload_meta_json(fields_);
  return ok();
}

net::awaitable<Result<http::Response>> FormUpload::answer(Exchange& ex, const Object& object) {
  return final_answer(ex, s_, callbacks_, *grant_, object, fields_, object.qetag,
                      content_type_for(field("accept")));
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
