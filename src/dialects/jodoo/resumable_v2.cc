// Qiniu resumable upload v2 (spec/qiniu-resumable.md §3, §8.4), under
// /buckets/<bucket>/objects/<EncodedKey|~>/uploads:
//   POST   .../uploads                     init: {uploadId, expireAt}
//   PUT    .../uploads/<uploadId>/<n>      part n: {etag, md5}
//   POST   .../uploads/<uploadId>          complete: the final answer
//   DELETE .../uploads/<uploadId>          abort: {}
//   GET    .../uploads/<uploadId>          the parts stored so far
// The uploadId names a core resumable upload (signed, 7 days); part n is its
// piece n (a part sent again replaces it).

#include <algorithm>
#include <map>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/services.h"
#include "dialects/dialect_prelude.h"
#include "dialects/jodoo/resumable_upload.h"

namespace up::dialects::jodoo::resumable {
namespace {

constexpr uint64_t kMaxPartBytes = 1ull << 30;
constexpr uint64_t kMinPartBytes = 1ull << 20;  // but the last
constexpr uint64_t kMaxPartNumber = 10000;
constexpr uint64_t kMaxCompleteBytes = 2ull << 20;
constexpr uint64_t kMaxListed = 1000;

using Kind = ResumableToken::Kind;

struct Target {
  std::string bucket;
  std::optional<std::string> key;  // nullopt: "~" or empty (the policy names it)
  std::string upload_id;           // empty: init
  std::optional<uint64_t> part;
};

// The path after "/buckets/".
Result<Target> parse_target(std::string_view rest) {
  std::vector<std::string_view> seg;
  for (;;) {
    const auto slash = rest.find('/');
    seg.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (seg.size() < 4 || seg.size() > 6 || seg[1] != "objects" || seg[3] != "uploads" ||
      seg[0].empty())
    return fail(Errc::kRouteNotFound, "no such route");
  Target t;
  t.bucket = std::string(seg[0]);
  if (!seg[2].empty() && seg[2] != "~") {
    std::string key;
    if (!crypto::base64_decode(seg[2], key) || key.empty())
      return fail(Errc::kInvalidArgument, "invalid EncodedObjectName");
    t.key = std::move(key);
  }
  if (seg.size() >= 5) {
    if (seg[4].empty()) return fail(Errc::kRouteNotFound, "no such route");
    t.upload_id = std::string(seg[4]);
  }
  if (seg.size() == 6) {
    const auto n = parse_decimal(seg[5]);
    if (!n || *n < 1 || *n > kMaxPartNumber)
      return fail(Errc::kInvalidArgument, "invalid partNumber: 1 to 10000");
    t.part = *n;
  }
  return t;
}

// What every request after init checks: the grant, the bucket, the uploadId
// and that the upload is still open.
struct Admitted {
  Grant grant;
  ResumableToken token;
};

Result<Admitted> admit(core::Services& s, const Exchange& ex, const Target& target) {
  auto g = authorize(s, ex, false);
  if (!g) return fail(g.error());
  if (target.bucket != g->token.policy.bucket())
    return fail(Errc::kGrantScope, "bucket doesn't match scope");
  auto t = read_token(s, *g, target.upload_id, Kind::kMultipart);
  if (!t) return fail(t.error());
  auto state = s.resumable.state(ref_of(*t));
  if (!state) return fail(state.error());
  if (state->status != core::ResumableStatus::kOpen) return fail(stale("no such uploadId"));
  return Admitted{std::move(*g), std::move(*t)};
}

bool lower_hex_md5(std::string& s) {
  if (s.size() != 32) return false;
  for (char& c : s) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

net::awaitable<void> serve_init(Exchange& ex, core::Services& s, const Target& target) {
  auto answer = co_await blocking(ex, [&]() -> Result<std::string> {
    auto g = authorize(s, ex, true);
    if (!g) return fail(g.error());
    if (target.bucket != g->token.policy.bucket())
      return fail(Errc::kGrantScope, "bucket doesn't match scope");
    ResumableToken t;
    t.kind = Kind::kMultipart;
    t.tenant_id = g->app.tenant_id;
    t.app_id = g->app.id;
    t.id = s.resumable.new_id();
    t.expires_s = now_s(s) + kUploadSeconds;
    json::object o;
    o["uploadId"] = encode_token(s, t);
    o["expireAt"] = t.expires_s;
    return json::serialize(o);
  });
  if (!answer) co_return co_await fail_with(ex, answer.error(), Version::kV2);
  co_await ex.send(http::json_response(200, std::move(*answer)));
}

net::awaitable<void> serve_part(Exchange& ex, core::Services& s, const Target& target) {
  std::string want_md5(ex.header("Content-MD5").value_or(""));
  if (!want_md5.empty() && !lower_hex_md5(want_md5))
    co_return co_await fail_with(ex, Error(Errc::kInvalidArgument, "Content-MD5 must be a hex MD5"),
                                 Version::kV2);
  auto a = co_await blocking(ex, [&] { return admit(s, ex, target); });
  if (!a) co_return co_await fail_with(ex, a.error(), Version::kV2);
  ex.log_field("tenant", a->token.tenant_id);
  PieceRequest req;
  req.ref = ref_of(a->token);
  req.spec.index = *target.part;
  req.spec.expires_at = a->token.expires_s * 1000;
  req.spec.declared_size = ex.content_length();
  req.spec.max_bytes = kMaxPartBytes;
  req.spec.replace = true;  // Qiniu lets a part be sent again
  req.spec.owner = a->grant.token.access_key;
  req.spec.want_qetag = true;  // the part's etag, and the final one's input
  crypto::Digest md5(crypto::Digest::Algo::kMd5);
  std::string got_md5;
  req.on_data = [&md5](std::string_view data) {
    md5.update(data);
    return ok();
  };
  req.before_commit = [&](core::Upload&) -> Status {
    got_md5 = crypto::to_hex(md5.final());
    if (!want_md5.empty() && want_md5 != got_md5)
      return fail(Errc::kChecksumMismatch, "Content-MD5 does not match the body");
    return ok();
  };
  req.answer = [&](core::Upload&, const Object& piece) {
    json::object o;
    o["etag"] = piece.qetag;
    o["md5"] = got_md5;
    return json::serialize(o);
  };
  co_await receive_piece(ex, s, Version::kV2, std::move(req));
}

struct CompleteBody {
  std::vector<std::pair<uint64_t, std::string>> parts;  // number, etag
  std::string fname, mime_type;
  std::map<std::string, std::string> vars;
};

Result<CompleteBody> parse_complete(const std::string& raw) {
  boost::system::error_code ec;
  json::value v = json::parse(raw, ec);
  if (ec || !v.is_object()) return fail(Errc::kBadJson, "the body must be a JSON object");
  const json::object& o = v.as_object();
  CompleteBody b;
  const auto* parts = o.if_contains("parts");
  if (!parts || !parts->is_array()) return fail(Errc::kInvalidArgument, "parts must be an array");
  for (const auto& p : parts->as_array()) {
    const auto* n = p.is_object() ? p.as_object().if_contains("partNumber") : nullptr;
    const auto* etag = p.is_object() ? p.as_object().if_contains("etag") : nullptr;
    if (!n || !n->is_int64() || !etag || !etag->is_string())
      return fail(Errc::kInvalidArgument, "each part must be {etag, partNumber}");
    const int64_t number = n->as_int64();
    if (number < 1 || number > static_cast<int64_t>(kMaxPartNumber) ||
        (!b.parts.empty() && static_cast<uint64_t>(number) <= b.parts.back().first))
      return fail(Errc::kInvalidArgument, "parts must be in ascending partNumber order, 1-10000");
    b.parts.emplace_back(static_cast<uint64_t>(number), std::string(etag->as_string()));
  }
  auto text = [&](const char* name, std::string& out) -> bool {
    const auto* m = o.if_contains(name);
    if (!m || m->is_null()) return true;
    if (!m->is_string()) return false;
    out = std::string(m->as_string());
    return true;
  };
  if (!text("fname", b.fname) || !text("mimeType", b.mime_type))
    return fail(Errc::kInvalidArgument, "fname and mimeType must be strings");
  // QN sends every param in customVars; only x:* ones are custom variables.
  for (const char* group : {"customVars", "metadata"}) {
    const auto* m = o.if_contains(group);
    if (!m || m->is_null()) continue;
    if (!m->is_object()) return fail(Errc::kInvalidArgument, std::string(group) + " not an object");
    for (const auto& [name, value] : m->as_object()) {
      if (!value.is_string()) continue;
      std::string n(name);
      if (std::string_view(group) == "metadata" && !n.starts_with("x-qn-meta-"))
        n = "x-qn-meta-" + n;
      b.vars[n] = std::string(value.as_string());
    }
  }
  return b;
}

struct Completed {
  Object object;
  std::string etag;
};

// Blocking: complete's checks and the final object.
Result<Completed> complete(core::Services& s, const Admitted& a, const Target& target,
                           const CompleteBody& body) {
  auto stored = s.resumable.pieces(ref_of(a.token));
  if (!stored) return fail(stored.error());
  std::map<uint64_t, const core::Piece*> by_number;
  for (const core::Piece& p : *stored) by_number[p.index] = &p;
  std::vector<core::Piece> chosen;
  std::vector<uint64_t> sizes;
  std::vector<std::string> qetags;
  uint64_t total = 0;
  for (size_t i = 0; i < body.parts.size(); ++i) {
    const auto& [n, etag] = body.parts[i];
    auto it = by_number.find(n);
    if (it == by_number.end())
      return fail(Errc::kInvalidArgument, "part " + std::to_string(n) + " was not uploaded");
    const Object& o = it->second->object;
    if (o.qetag != etag)
      return fail(Errc::kInvalidArgument, "etag of part " + std::to_string(n) + " does not match");
    if (i + 1 < body.parts.size() && o.size < kMinPartBytes)
      return fail(Errc::kInvalidArgument,
                  "part " + std::to_string(n) + " is under 1 MiB and not the last");
    chosen.push_back(*it->second);
    sizes.push_back(o.size);
    qetags.push_back(o.qetag);
    total += o.size;
  }
  UP_TRY(check_final_size(a.grant, total));
  auto spec = final_spec(a.grant, target.key ? &*target.key : nullptr, body.fname, body.mime_type,
                         body.vars);
  if (!spec) return fail(spec.error());
  auto made = s.resumable.complete(ref_of(a.token), std::move(*spec), chosen);
  if (!made) {
    if (made.error().code == Errc::kAlreadyExists) return fail(stale("no such uploadId"));
    return fail(made.error());
  }
  Completed c;
  if (qetag_layout(sizes)) {
    c.etag = made->qetag;
  } else {
    auto etag = qiniu_etag_v2(qetags);
    if (!etag) return fail(etag.error());
    c.etag = std::move(*etag);
  }
  c.object = std::move(*made);
  return c;
}

net::awaitable<void> serve_complete(Exchange& ex, const ResumableContext& c, const Target& target) {
  core::Services& s = c.services;
  auto raw = co_await ex.read_all(kMaxCompleteBytes);
  if (!raw) co_return co_await fail_with(ex, raw.error(), Version::kV2);
  auto body = parse_complete(*raw);
  if (!body) co_return co_await fail_with(ex, body.error(), Version::kV2);
  std::optional<Admitted> a;
  auto done = co_await blocking(ex, [&]() -> Result<Completed> {
    auto admitted = admit(s, ex, target);
    if (!admitted) return fail(admitted.error());
    a.emplace(std::move(*admitted));
    return complete(s, *a, target, *body);
  });
  if (!done) co_return co_await fail_with(ex, done.error(), Version::kV2);
  ex.log_field("tenant", a->token.tenant_id);
  auto answer =
      co_await final_answer(ex, s, c.callbacks, a->grant, done->object, body->vars, done->etag);
  if (!answer) co_return co_await fail_with(ex, answer.error(), Version::kV2);
  co_await ex.send(std::move(*answer));
}

// Blocking: {uploadId, expireAt, partNumberMarker, parts:[{partNumber, etag, size}]}.
Result<std::string> list_parts(core::Services& s, const Admitted& a, const Target& target,
                               uint64_t marker, uint64_t max) {
  auto stored = s.resumable.pieces(ref_of(a.token));
  if (!stored) return fail(stored.error());
  json::array parts;
  uint64_t next = 0;
  for (const core::Piece& p : *stored) {
    if (p.index <= marker) continue;
    if (parts.size() == max) break;
    json::object o;
    o["partNumber"] = p.index;
    o["etag"] = p.object.qetag;
    o["size"] = p.object.size;
    o["putTime"] = p.object.created_at / 1000;
    parts.push_back(std::move(o));
    next = p.index;
  }
  json::object o;
  o["uploadId"] = target.upload_id;
  o["expireAt"] = a.token.expires_s;
  o["partNumberMarker"] = parts.size() == max ? next : 0;
  o["parts"] = std::move(parts);
  return json::serialize(o);
}

uint64_t query_number(const Exchange& ex, const char* name, uint64_t fallback) {
  const auto v = ex.query(name);
  const auto n = v ? parse_decimal(*v) : std::nullopt;
  return n.value_or(fallback);
}

}  // namespace

net::awaitable<void> serve_v2(Exchange& ex, const ResumableContext& c) {
  core::Services& s = c.services;
  auto target = parse_target(ex.path().substr(9));
  if (!target) co_return co_await fail_with(ex, target.error(), Version::kV2);
  const std::string_view m = ex.method();
  if (target->upload_id.empty() && m == "POST") co_return co_await serve_init(ex, s, *target);
  if (target->part && m == "PUT") co_return co_await serve_part(ex, s, *target);
  if (target->upload_id.empty() || target->part)
    co_return co_await fail_with(ex, Error(Errc::kMethodNotAllowed, "method not allowed"),
                                 Version::kV2);
  if (m == "POST") co_return co_await serve_complete(ex, c, *target);
  if (m != "DELETE" && m != "GET")
    co_return co_await fail_with(ex, Error(Errc::kMethodNotAllowed, "method not allowed"),
                                 Version::kV2);
  const uint64_t marker = query_number(ex, "part-number-marker", 0);
  const uint64_t max =
      std::clamp<uint64_t>(query_number(ex, "max-parts", kMaxListed), 1, kMaxListed);
  auto answer = co_await blocking(ex, [&]() -> Result<std::string> {
    auto a = admit(s, ex, *target);
    if (!a) return fail(a.error());
    if (m == "GET") return list_parts(s, *a, *target, marker, max);
    UP_TRY(s.resumable.terminate(ref_of(a->token), a->token.expires_s * 1000));
    return std::string("{}");
  });
  if (!answer) co_return co_await fail_with(ex, answer.error(), Version::kV2);
  co_await ex.send(http::json_response(200, std::move(*answer)));
}

}  // namespace up::dialects::jodoo::resumable
