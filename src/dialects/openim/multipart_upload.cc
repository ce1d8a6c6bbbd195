// The multipart upload of the OpenIM dialect (uploads.h).

#include "dialects/openim/uploads.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <span>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/openim/errors.h"
#include "http/exchange.h"
#include "http/upload_receiver.h"

namespace up::dialects::openim {
namespace {

constexpr UnixMs kMultipartMs = 24 * 3'600'000;  // an uploadID (and its parts) lives a day
constexpr UnixMs kPartUrlMs = 3'600'000;         // a part URL, until auth_sign renews it

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

// part_size (OpenIM s3/cont controller.go over MinIO's limits).
Result<int64_t> part_size_for(int64_t size) {
  constexpr int64_t kMin = 5242880, kMax = 5368709120, kNum = 10000;
  if (size <= 0) return fail(Errc::kInvalidArgument, "size must be greater than 0");
  if (size > kMax * kNum)
    return fail(Errc::kInvalidArgument, "size must be less than the maximum allowed limit");
  if (size <= kMin * kNum) return kMin;
  return (size + kNum - 1) / kNum;
}

std::string upload_signing_key(const core::Services& s, std::string_view tenant,
                               std::string_view app) {
  return s.secrets.derive("openim-multipart/" + std::string(tenant) + "/" + std::string(app));
}

// The parts are the pieces of a core resumable upload (core/resumable.h)
// named by the uploadID's nonce.
core::ResumableRef resumable_ref(const MultipartUpload& u) {
  return {u.tenant_id, u.app_id, u.nonce};
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

struct CompleteRequest {
  std::string upload_id;
  std::vector<std::string> md5s;
  std::string name, content_type, url_prefix;
};

Result<CompleteRequest> parse_complete(const json::object& req) {
  CompleteRequest c;
  UP_TRY(Members(req)
             .text("uploadID", c.upload_id)
             .texts("parts", c.md5s)
             .text("name", c.name)
             .text("contentType", c.content_type)
             .text("urlPrefix", c.url_prefix)
             .status());
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

Error exact_size(int64_t n, uint64_t length) {
  return Error(Errc::kInvalidArgument, "part " + std::to_string(n) + " must be exactly " +
                                           std::to_string(length) + " bytes");
}

// A part PUT: the raw body is the part, exactly its length.
class PartPut final : public http::UploadHooks {
 public:
  PartPut(const Exchange& ex, core::UploadSpec spec, std::string bucket, int64_t n)
      : ex_(ex), spec_(std::move(spec)), bucket_(std::move(bucket)), n_(n) {}

  // http::UploadHooks
  Result<core::UploadSpec> spec(const http::FilePart&) override { return spec_; }
  Status finish(core::Upload& upload, const http::FilePart&) override {
    if (upload.size() == spec_.min_bytes) return ok();
    return fail(Errc::kTooSmall, "part " + std::to_string(n_) + " must be exactly " +
                                     std::to_string(spec_.min_bytes) + " bytes");
  }
  net::awaitable<Result<http::Response>> answer(Exchange&, const Object& object) override {
    http::Response r;
    r.header("ETag", "\"" + object.md5 + "\"");
    co_return r;
  }
  http::Response error_response(const Error& e) const override {
    return s3_error_response(e, bucket_, "", ex_.path(), ex_.request_id());
  }

 private:
  const Exchange& ex_;
  core::UploadSpec spec_;
  std::string bucket_;
  int64_t n_;
};

}  // namespace

net::awaitable<void> MultipartUploads::part_limit(Exchange& ex) const {
  co_await ex.send(ok_response(part_limit_data()));
}

net::awaitable<void> MultipartUploads::part_size(Exchange& ex, const json::object& req) const {
  auto size = int_field(req, "size");
  if (!size) co_return co_await fail_with(ex, size.error());
  auto part = part_size_for(*size);
  if (!part) co_return co_await fail_with(ex, part.error());
  co_await ex.send(ok_response(size_data(*part)));
}

std::string MultipartUploads::part_url(const Settings& settings) const {
  return s_.public_url + opts_.s3_prefix + "/" + settings.bucket + "/multipart";
}

net::awaitable<void> MultipartUploads::initiate(Exchange& ex, const Context& ctx,
                                                const json::object& req) const {
  std::string hash, name, url_prefix;
  int64_t size = 0, max_parts = 0;
  if (auto st = Members(req)
                    .text("hash", hash)
                    .integer("size", size)
                    .integer("maxParts", max_parts)
                    .text("name", name)
                    .text("urlPrefix", url_prefix)
                    .status();
      !st)
    co_return co_await fail_with(ex, st.error());
  if (auto st = check_name(name, ctx.claims); !st) co_return co_await fail_with(ex, st.error());
  if (!md5_hex(hash))
    co_return co_await fail_with(
        ex, Error(Errc::kInvalidArgument, "hash must be a lower-case hex md5"));
  auto part_size = part_size_for(size);
  if (!part_size) co_return co_await fail_with(ex, part_size.error());
  if (static_cast<uint64_t>(size) > s_.directory.default_max_object_bytes())
    co_return co_await fail_with(
        ex, Error(Errc::kTooLarge, "size exceeds the largest file this server accepts"));

  // Content already stored under its hash: no upload, just the name.
  auto existing = co_await blocking(ex, [&]() -> Result<bool> {
    auto o = s_.files.get_by_key(ctx.app.tenant_id, ctx.app.id, hash_key(hash));
    if (!o) {
      if (o.error().code == Errc::kObjectNotFound) return false;
      return fail(o.error());
    }
    if (o->size != static_cast<uint64_t>(size)) return false;
    UP_TRY(bind_name(s_, ctx.app, name, hash_key(hash)));
    return true;
  });
  if (!existing) co_return co_await fail_with(ex, existing.error());
  if (*existing) co_return co_await ex.send(ok_response(url_data(url_prefix + name)));

  MultipartUpload u;
  u.tenant_id = ctx.app.tenant_id;
  u.app_id = ctx.app.id;
  u.user_id = ctx.claims.user_id;
  u.hash = hash;
  u.size = size;
  u.part_size = *part_size;
  u.expires_at = s_.clock.now() + kMultipartMs;
  u.nonce = s_.resumable.new_id();  // names its pieces, then the object
  if (max_parts > 0 && u.part_count() > max_parts)
    co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "too many parts for maxParts"));
  const std::string key = upload_signing_key(s_, ctx.app.tenant_id, ctx.app.id);
  const std::string upload_id = encode_upload_id(u, key);
  std::vector<int64_t> numbers;
  for (int64_t n = 1; n <= u.part_count(); ++n) numbers.push_back(n);
  const UnixMs urls_expire = std::min(u.expires_at, s_.clock.now() + kPartUrlMs);
  http::Response answer = ok_response(initiate_multipart_data(
      upload_id, u.part_size,
      auth_sign_json(part_url(ctx.settings), upload_id, numbers, key, urls_expire), u.expires_at));
  co_await ex.send(std::move(answer));
}

// The upload an uploadID of this app names, unexpired.
Result<MultipartUpload> MultipartUploads::own_upload(const Context& ctx,
                                                     const std::string& upload_id) const {
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

net::awaitable<void> MultipartUploads::auth_sign(Exchange& ex, const Context& ctx,
                                                 const json::object& req) const {
  std::string upload_id;
  std::vector<int64_t> numbers;
  if (auto st = Members(req).text("uploadID", upload_id).integers("partNumbers", numbers).status();
      !st)
    co_return co_await fail_with(ex, st.error());
  auto u = own_upload(ctx, upload_id);
  if (!u) co_return co_await fail_with(ex, u.error());
  for (int64_t n : numbers)
    if (n < 1 || n > u->part_count())
      co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "part number out of range"));
  const UnixMs urls_expire = std::min(u->expires_at, s_.clock.now() + kPartUrlMs);
  http::Response answer = ok_response(json::serialize(
      auth_sign_json(part_url(ctx.settings), upload_id, numbers,
                     upload_signing_key(s_, u->tenant_id, u->app_id), urls_expire)));
  co_await ex.send(std::move(answer));
}

// Blocking: streams the parts in order into one new object (never whole in
// memory), checks each part's md5, then drops the parts.
Status MultipartUploads::assemble(const Context& ctx, const std::string& upload_id,
                                  const MultipartUpload& u, const std::vector<std::string>& md5s,
                                  const std::string& content_type) const {
  const core::ResumableRef ref = resumable_ref(u);
  auto stored = s_.resumable.pieces(ref);
  if (!stored) return fail(stored.error());
  std::vector<core::Piece> parts;
  for (int64_t n = 1; n <= u.part_count(); ++n) {
    auto p = std::find_if(stored->begin(), stored->end(), [n](const core::Piece& p) {
      return p.index == static_cast<uint64_t>(n);
    });
    if (p == stored->end())
      return fail(Errc::kInvalidArgument, "part " + std::to_string(n) + " was not uploaded");
    if (p->object.md5 != md5s[n - 1])
      return fail(Errc::kInvalidArgument, "part " + std::to_string(n) + " md5 mismatching");
    parts.push_back(std::move(*p));
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
  auto committed = s_.resumable.complete(ref, std::move(spec), parts);
  // The same content completed by someone else meanwhile (this upload, or
  // another one of the same hash) is as good.
  if (!committed && committed.error().code != Errc::kAlreadyExists &&
      committed.error().code != Errc::kObjectKeyExists)
    return fail(committed.error());
  return ok();
}

net::awaitable<void> MultipartUploads::complete(Exchange& ex, const Context& ctx,
                                                const json::object& req) const {
  auto c = parse_complete(req);
  if (!c) co_return co_await fail_with(ex, c.error());
  if (auto st = check_name(c->name, ctx.claims); !st) co_return co_await fail_with(ex, st.error());
  if (!c->content_type.empty() && !valid_media_type(c->content_type))
    co_return co_await fail_with(
        ex, Error(Errc::kBadContentType, "contentType must be a media type (type/subtype)"));
  auto u = own_upload(ctx, c->upload_id);
  if (!u) co_return co_await fail_with(ex, u.error());
  if (auto st = check_md5_chain(c->md5s, *u); !st) co_return co_await fail_with(ex, st.error());
  auto done = co_await blocking(ex, [&]() -> Status {
    UP_TRY(assemble(ctx, c->upload_id, *u, c->md5s, c->content_type));
    return bind_name(s_, ctx.app, c->name, hash_key(u->hash));
  });
  if (!done) co_return co_await fail_with(ex, done.error());
  co_await ex.send(ok_response(url_data(c->url_prefix + c->name)));
}

// Blocking: checks a part PUT's signed query; the upload it belongs to.
Result<std::pair<MultipartUpload, App>> MultipartUploads::verify_part(
    const std::string& upload_id, const std::string& bucket, int64_t n, const std::string& expires,
    const std::string& signature) const {
  auto u = read_upload_id(upload_id);
  if (!u) return fail(Errc::kGrantScope, "invalid uploadId");
  auto app = openim_app(s_, u->tenant_id, u->app_id);
  if (!app) {
    if (app.error().kind() == Kind::kInternal) return fail(app.error());
    return fail(Errc::kGrantScope, "invalid uploadId");
  }
  if (parse_settings(app->settings_json).bucket != bucket)
    return fail(Errc::kRouteNotFound, "The specified bucket does not exist");
  const std::string key = upload_signing_key(s_, u->tenant_id, u->app_id);
  if (!verify_upload_id(upload_id, key)) return fail(Errc::kGrantScope, "invalid uploadId");
  if (n < 1 || n > u->part_count()) return fail(Errc::kInvalidArgument, "partNumber out of range");
  int64_t expires_s = 0;
  auto [end, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), expires_s);
  if (ec != std::errc() || end != expires.data() + expires.size() ||
      !crypto::equal_constant_time(part_signature(key, upload_id, n, expires_s), signature))
    return fail(Errc::kGrantInvalid,
                "The request signature we calculated does not match the signature you provided.");
  if (expires_s * 1000 <= s_.clock.now() || u->expires_at <= s_.clock.now())
    return fail(Errc::kGrantExpired, "Request has expired");
  return std::make_pair(std::move(*u), std::move(*app));
}

net::awaitable<void> MultipartUploads::put_part(Exchange& ex, const std::string& bucket) const {
  const std::string upload_id = ex.query("uploadId").value_or("");
  const std::string number = ex.query("partNumber").value_or("");
  int64_t n = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc() || end != number.data() + number.size()) n = 0;
  const std::string expires = ex.query("X-Upgate-Expires").value_or("");
  const std::string signature = ex.query("X-Upgate-Signature").value_or("");
  auto spec = co_await blocking(ex, [&]() -> Result<core::UploadSpec> {
    auto verified = verify_part(upload_id, bucket, n, expires, signature);
    if (!verified) return fail(verified.error());
    const MultipartUpload& u = verified->first;
    const uint64_t length = static_cast<uint64_t>(u.part_length(n));
    if (ex.content_length() && *ex.content_length() != length) return fail(exact_size(n, length));
    core::PieceSpec piece;
    piece.index = static_cast<uint64_t>(n);
    piece.expires_at = u.expires_at;
    piece.declared_size = ex.content_length();
    piece.min_bytes = length;
    piece.max_bytes = length;
    piece.replace = true;  // a retried part replaces the earlier one
    piece.owner = u.user_id;
    piece.want_md5 = true;
    return s_.resumable.piece_upload_spec(resumable_ref(u), piece);
  });
  if (!spec) co_return co_await fail_s3(ex, spec.error(), bucket);
  PartPut put(ex, std::move(*spec), bucket, n);
  co_await http::receive_upload(ex, s_.uploads, put, std::nullopt);
}

}  // namespace up::dialects::openim
