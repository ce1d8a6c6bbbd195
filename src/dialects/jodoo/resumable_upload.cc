// What the two resumable protocols share (resumable_upload.h).

#include "dialects/jodoo/resumable_upload.h"

#include <boost/json.hpp>

#include "core/services.h"
#include "core/text.h"
#include "dialects/dialect_prelude.h"
#include "dialects/jodoo/errors.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::jodoo {

bool is_resumable_path(std::string_view path) {
  return path.starts_with("/mkblk/") || path.starts_with("/bput/") ||
         path.starts_with("/mkfile/") || path.starts_with("/buckets/");
}

net::awaitable<void> serve_resumable(Exchange& ex, const ResumableContext& ctx) {
  if (ex.path().starts_with("/buckets/")) co_return co_await resumable::serve_v2(ex, ctx);
  co_await resumable::serve_v1(ex, ctx);
}

namespace resumable {

Error stale(std::string message) { return Error(Errc::kFailedPrecondition, std::move(message)); }

http::Response error_response(const Exchange& ex, const Error& e, Version v) {
  if (e.code != Errc::kFailedPrecondition) return upload_error_response(ex, e);
  json::object body;
  body["error"] = e.message;
  http::Response r = http::json_response(v == Version::kV1 ? 701 : 612, json::serialize(body));
  r.header("X-Reqid", std::string(ex.request_id()));
  return r;
}

net::awaitable<void> fail_with(Exchange& ex, const Error& e, Version v) {
  http::log_if_internal(ex, e);
  co_await ex.send(error_response(ex, e, v));
}

Result<Grant> authorize(core::Services& s, const Exchange& ex, bool count_rate) {
  constexpr std::string_view kScheme = "UpToken ";
  const auto header = ex.header("Authorization");
  if (!header || !header->starts_with(kScheme))
    return fail(Errc::kGrantInvalid, "token not specified");
  return verify_grant(s, http::trim_ows(header->substr(kScheme.size())), count_rate);
}

int64_t now_s(const core::Services& s) { return s.clock.now() / 1000; }

namespace {
std::string signing_key(const core::Services& s, std::string_view tenant_id) {
  return s.secrets.derive("qiniu-resumable/" + std::string(tenant_id));
}
}  // namespace

std::string encode_token(const core::Services& s, const ResumableToken& t) {
  return encode_resumable_token(t, signing_key(s, t.tenant_id));
}

Result<ResumableToken> read_token(const core::Services& s, const Grant& g, std::string_view text,
                                  ResumableToken::Kind kind) {
  const char* what = kind == ResumableToken::Kind::kBlock ? "ctx" : "uploadId";
  // Another tenant's or app's ctx reads as a forged one: nothing about it is told.
  const auto tenant = resumable_token_tenant(text);
  if (!tenant || *tenant != g.app.tenant_id)
    return fail(stale(std::string("decode ") + what + " failed"));
  auto t = decode_resumable_token(text, signing_key(s, *tenant), kind, now_s(s));
  if (!t) return fail(t.error());
  if (t->app_id != g.app.id) return fail(stale(std::string("decode ") + what + " failed"));
  return t;
}

core::ResumableRef ref_of(const ResumableToken& t) { return {t.tenant_id, t.app_id, t.id}; }

namespace {

class PieceHooks final : public http::UploadHooks {
 public:
  PieceHooks(const Exchange& ex, core::Services& s, Version v, PieceRequest request)
      : ex_(ex), s_(s), v_(v), req_(std::move(request)) {}

  // http::UploadHooks
  Result<core::UploadSpec> spec(const http::FilePart&) override {
    return s_.resumable.piece_upload_spec(req_.ref, req_.spec);
  }
  Status on_file_data(std::string_view data) override { return req_.on_data(data); }
  Error append_error(const Error& e, const core::Upload& upload) const override {
    if (e.code != Errc::kTooLarge) return e;
    return Error(Errc::kTooLarge, "the body is larger than its block or part: at most " +
                                      std::to_string(upload.limit()) + " bytes");
  }
  Status finish(core::Upload& upload, const http::FilePart&) override {
    upload_ = &upload;
    return req_.before_commit(upload);
  }
  net::awaitable<Result<http::Response>> answer(Exchange&, const Object& piece) override {
    co_return http::json_response(200, req_.answer(*upload_, piece));
  }
  http::Response error_response(const Error& e) const override {
    return resumable::error_response(ex_, e, v_);
  }

 private:
  const Exchange& ex_;
  core::Services& s_;
  Version v_;
  PieceRequest req_;
  core::Upload* upload_ = nullptr;
};

}  // namespace

net::awaitable<void> receive_piece(Exchange& ex, core::Services& s, Version v,
                                   PieceRequest request) {
  PieceHooks hooks(ex, s, v, std::move(request));
  co_await http::receive_upload(ex, s.uploads, hooks, std::nullopt);
}

Status check_final_size(const Grant& g, uint64_t size) {
  const PutPolicy& p = g.token.policy;
  if (size < p.fsize_min)
    return fail(Errc::kTooSmall, "file size " + std::to_string(size) + " is under fsizeMin " +
                                     std::to_string(p.fsize_min));
  if (p.fsize_limit && size > *p.fsize_limit)
    return fail(Errc::kTooLarge,
                "exceeded fsizeLimit: at most " + std::to_string(*p.fsize_limit) + " bytes");
  return ok();
}

Result<core::UploadSpec> final_spec(const Grant& g, const std::string* requested_key,
                                    const std::string& fname, const std::string& mime_type,
                                    const std::map<std::string, std::string>& vars) {
  auto key = resolve_key(g.token.policy, requested_key);
  if (!key) return fail(key.error());
  std::string name = fname.empty() ? *key : fname;
  if (!acceptable_file_name(name)) return fail(Errc::kBadName, "invalid file name");
  core::UploadSpec spec = grant_upload_spec(g);
  spec.want_crc32 = false;
  spec.key = std::move(*key);
  spec.name = std::move(name);
  if (!mime_type.empty()) {
    if (!valid_media_type(mime_type)) return fail(Errc::kBadContentType, "invalid mimeType");
    spec.content_type = mime_type;
  }
  spec.meta_json = upload_meta_json(vars);
  return spec;
}

}  // namespace resumable
}  // namespace up::dialects::jodoo
