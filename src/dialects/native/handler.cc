// Routes of the native API. The wire shapes are documented in docs/openapi.yaml.

#include <array>
#include <map>

#include <boost/json.hpp>

#include "core/services.h"
#include "core/text.h"
#include "dialects/dialect_prelude.h"
#include "dialects/native/errors.h"
#include "dialects/native/native.h"
#include "dialects/native/request.h"
#include "dialects/native/tus.h"
#include "http/downloads.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::native {
namespace {

using http::plain_token;
using http::split_path;

constexpr uint64_t kFieldLimit = 8 * 1024;         // a non-file multipart field
constexpr uint64_t kMultipartSlack = 1024 * 1024;  // framing allowed above the file limit
constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
constexpr int64_t kMinOrphanGraceMs = 60'000;
constexpr long long kMaxTtlSeconds = 10ll * 365 * 24 * 3600;

json::value optional_time(const std::optional<UnixMs>& t) {
  if (!t) return nullptr;
  return json::value(format_iso8601(*t));
}

// A ?ttl= value: whole seconds, 1 to ten years.
Result<long long> ttl_seconds(const std::string& v) {
  char* end = nullptr;
  const long long secs = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || secs <= 0 || secs > kMaxTtlSeconds)
    return fail(Errc::kInvalidArgument, "ttl must be 1-315360000 seconds");
  return secs;
}

json::value optional_number(const std::optional<uint64_t>& v) {
  if (!v) return nullptr;
  return json::value(*v);
}

// The builders below are plain functions: g++ 12 miscompiles string-literal
// initializer lists inside coroutines.
json::object link_json(std::string_view url, UnixMs expires_at) {
  return json::object{{"url", url}, {"expires_at", format_iso8601(expires_at)}};
}

json::object object_json(const Object& o) {
  return json::object{{"id", o.id},
                      {"name", o.name},
                      {"size", o.size},
                      {"content_type", o.content_type},
                      {"sha256", o.sha256},
                      {"created_at", format_iso8601(o.created_at)},
                      {"app_id", o.app_id},
                      {"state", to_string(o.state)},
                      {"expires_at", optional_time(o.expires_at)}};
}

json::value quota_json(const Quota& q) {
  return json::object{{"max_bytes", optional_number(q.max_bytes)},
                      {"max_objects", optional_number(q.max_objects)},
                      {"max_object_bytes", optional_number(q.max_object_bytes)}};
}

// Settings as a client may see them: without the members a dialect keeps secret.
json::value shown_settings(const std::string& settings_json,
                           const std::vector<core::SettingsPath>& secret) {
  return json::parse(core::redact_settings(settings_json, secret));
}

json::object tenant_json(const Tenant& t, const core::SecretSettings& secret) {
  return json::object{{"id", t.id},
                      {"name", t.name},
                      {"cors_origins", json::value_from(t.cors_origins)},
                      {"quota", quota_json(t.quota)},
                      {"settings", shown_settings(t.settings_json, secret.tenant)},
                      {"created_at", format_iso8601(t.created_at)}};
}

json::object app_json(const App& a, const core::SecretSettings& secret) {
  return json::object{{"id", a.id},
                      {"tenant_id", a.tenant_id},
                      {"name", a.name},
                      {"dialect", a.dialect},
                      {"quota", quota_json(a.quota)},
                      {"settings", shown_settings(a.settings_json, secret.app)},
                      {"created_at", format_iso8601(a.created_at)}};
}

json::object key_json(const ApiKey& k) {
  return json::object{{"id", k.id},
                      {"tenant_id", k.tenant_id},
                      {"name", k.name},
                      {"role", to_string(k.role)},
                      {"app_id", k.app_id},
                      {"enabled", k.enabled},
                      {"created_at", format_iso8601(k.created_at)}};
}

// {"<name>": value}.
json::object single(std::string_view name, json::value value) {
  json::object o;
  o[name] = std::move(value);
  return o;
}

http::Response json_ok(int status, const json::value& v) {
  return http::json_response(status, json::serialize(v));
}

// Reads a quota object; absent members stay unset, null clears.
Status read_quota(const json::value& v, Quota& q) {
  if (!v.is_object()) return fail(Errc::kInvalidArgument, "quota must be an object");
  auto field = [&](const char* name, std::optional<uint64_t>& out) -> Status {
    auto* m = v.as_object().if_contains(name);
    if (!m) return ok();
    if (m->is_null()) {
      out.reset();
      return ok();
    }
    if (m->is_uint64()) out = m->as_uint64();
    else if (m->is_int64() && m->as_int64() >= 0) out = static_cast<uint64_t>(m->as_int64());
    else
      return fail(Errc::kInvalidArgument,
                  std::string("quota.") + name + " must be a non-negative integer");
    return ok();
  };
  UP_TRY(field("max_bytes", q.max_bytes));
  UP_TRY(field("max_objects", q.max_objects));
  UP_TRY(field("max_object_bytes", q.max_object_bytes));
  return ok();
}

// Applies the settable members of a tenant body (name, cors_origins, quota,
// settings: dialect settings such as {"jodoo": {"fsize_limit": ...}}). New
// settings replace the old ones but keep the old secret members the client
// could not have read back (core::keep_secret_settings).
Status patch_tenant(Tenant& t, const json::object& body,
                    const std::vector<core::SettingsPath>& secret) {
  if (auto* n = body.if_contains("name"); n && n->is_string()) t.name = std::string(n->as_string());
  if (auto* o = body.if_contains("cors_origins")) {
    if (!o->is_array())
      return fail(Errc::kInvalidArgument, "cors_origins must be an array of strings");
    t.cors_origins.clear();
    for (auto& v : o->as_array()) {
      if (!v.is_string() || v.as_string().empty())
        return fail(Errc::kInvalidArgument, "cors_origins must be an array of strings");
      t.cors_origins.emplace_back(v.as_string());
    }
  }
  if (auto* q = body.if_contains("quota")) UP_TRY(read_quota(*q, t.quota));
  if (auto* st = body.if_contains("settings")) {
    if (!st->is_object()) return fail(Errc::kInvalidArgument, "settings must be a JSON object");
    t.settings_json = core::keep_secret_settings(t.settings_json, json::serialize(*st), secret);
  }
  return ok();
}

bool known_dialect(std::string_view d) {
  return d == "native" || d == "jodoo" || d == "openim" || d == "kintone" || d == "jpush";
}

// Applies the settable members of an app body (name, quota, settings). The
// settings object is the dialect's (e.g. JPush's rate_limit_per_minute); core
// keeps it as opaque JSON, but for the secret members (as patch_tenant).
Status patch_app(App& a, const json::object& body, const std::vector<core::SettingsPath>& secret) {
  if (auto* n = body.if_contains("name")) {
    if (!n->is_string()) return fail(Errc::kInvalidArgument, "name must be a string");
    a.name = std::string(n->as_string());
  }
  if (auto* q = body.if_contains("quota")) UP_TRY(read_quota(*q, a.quota));
  if (auto* st = body.if_contains("settings")) {
    if (!st->is_object()) return fail(Errc::kInvalidArgument, "settings must be a JSON object");
    a.settings_json = core::keep_secret_settings(a.settings_json, json::serialize(*st), secret);
  }
  return ok();
}

Result<std::string> string_member(const json::object& o, const char* name, bool required) {
  auto* m = o.if_contains(name);
  if (!m || m->is_null()) {
    if (required) return fail(Errc::kMissingField, std::string("missing field: ") + name);
    return std::string();
  }
  if (!m->is_string()) return fail(Errc::kInvalidArgument, std::string(name) + " must be a string");
  return std::string(m->as_string());
}

// The native upload: a raw body (named by ?name=) or a multipart form whose
// `file` part is the file. The spec is settled before the body; a name field
// may come after the file.
class NativeUpload final : public http::UploadHooks {
 public:
  NativeUpload(Exchange& ex, core::UploadSpec spec, bool multipart)
      : ex_(ex), spec_(std::move(spec)), multipart_(multipart) {}

  // http::UploadHooks
  Result<core::UploadSpec> spec(const http::FilePart&) override { return spec_; }
  bool spec_blocks() const override { return false; }
  Status opened(core::Upload& upload) override {
    if (multipart_ && ex_.content_length() &&
        *ex_.content_length() > upload.limit() + kMultipartSlack)
      return fail(Errc::kTooLarge, "file larger than " + std::to_string(upload.limit()) + " bytes");
    return ok();
  }
  std::optional<size_t> field_limit(const http::PartHeaders&) const override { return kFieldLimit; }
  Status on_field(const std::string& name, std::string&& value) override {
    fields_[name] += value;
    return ok();
  }
  Status finish(core::Upload& upload, const http::FilePart& file) override {
    if (!multipart_) return ok();
    core::UploadSpec& spec = upload.spec();
    if (spec.name.empty()) {
      auto it = fields_.find("name");
      spec.name = it != fields_.end() ? it->second : file.filename;
    }
    if (spec.name.empty()) spec.name = "file";
    if (!acceptable_file_name(spec.name))
      return fail(Errc::kBadName, "file name must be UTF-8 without control characters");
    if (!ex_.query("content_type") && !file.content_type.empty())
      spec.content_type = file.content_type;
    return ok();
  }
  net::awaitable<Result<http::Response>> answer(Exchange&, const Object& object) override {
    auto res = json_ok(201, object_json(object));
    res.header("Location", "/v1/files/" + object.id);
    res.header("ETag", "\"" + object.sha256 + "\"");
    co_return res;
  }
  http::Response error_response(const Error& e) const override { return native::error_response(e); }

 private:
  Exchange& ex_;
  core::UploadSpec spec_;
  bool multipart_;
  std::map<std::string, std::string> fields_;
};

// Whether `path` has exactly four segments, as split_path counts them
// (empty ones dropped), and if so they are in `out`: the downloads' paths,
// without split_path's vector.
bool four_segments(std::string_view path, std::array<std::string_view, 4>& out) {
  size_t n = 0;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const size_t slash = path.find('/');
    if (n == out.size()) return false;
    out[n++] = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return n == out.size();
}

class NativeHandler final : public http::Handler {
 public:
  explicit NativeHandler(core::Services& services) : s_(services), tus_(services) {}

  // http::Handler
  bool matches(std::string_view method, std::string_view path) const override {
    return path == "/healthz" || path == "/v1" || path.starts_with("/v1/");
  }

  // Not a coroutine for the hot downloads, a signed link and a cached key's
  // GET of a cached object's content: their awaitable is returned as is (the
  // handler's frame was the largest of a download's, and it missed Asio's
  // per-thread frame cache). Whatever else, and any miss, is handle_all's.
  net::awaitable<void> handle(Exchange& ex) override {
    std::array<std::string_view, 4> parts;
    if (ex.method() == "GET" && four_segments(ex.path(), parts)) {
      // The views are into the request (ex.path()), not into `parts`.
      if (parts[1] == "links") return link(ex, parts[2], parts[3]);
      if (parts[1] == "files" && parts[3] == "content") {
        const auto answer = authenticate_cached(ex, s_.auth);
        if (answer && *answer) {
          const core::Principal& p = **answer;
          // send_object keeps nothing of `p` or the object past its return.
          if (auto hit = find_cached(p, parts[2])) {
            ex.log_field("tenant", p.tenant_id);
            return http::send_object(ex, s_.files, *hit, error_response);
          }
        }
      }
    }
    return handle_all(ex);
  }

 private:
  net::awaitable<void> handle_all(Exchange& ex) {
    auto parts = split_path(ex.path());
    const std::string_view method = ex.method();
    if (parts.size() == 1 && parts[0] == "healthz") {
      co_await ex.send(http::json_response(200, R"({"status":"ok"})"));
      co_return;
    }
    if (parts.size() == 4 && parts[1] == "links" && method == "GET")
      co_return co_await link(ex, parts[2], parts[3]);
    // tus authenticates its own way: the upload URL is the capability.
    if (parts.size() >= 2 && parts[1] == "tus") co_return co_await tus_.handle(ex, parts);
    // The cached answer first: awaiting authenticate costs a coroutine frame.
    auto answer = authenticate_cached(ex, s_.auth);
    if (!answer) answer = co_await authenticate(ex, s_.auth);
    const Result<core::Principal>& principal = *answer;
    if (!principal) {
      co_await ex.send(error_response(principal.error()));
      co_return;
    }
    ex.log_field("tenant", principal->tenant_id);
    const core::Principal& p = *principal;

    if (parts.size() >= 2 && parts[1] == "files") {
      if (parts.size() == 2 && method == "POST") co_return co_await upload(ex, p);
      if (parts.size() == 2 && method == "GET") co_return co_await list(ex, p);
      if (parts.size() == 3 && method == "GET") co_return co_await get(ex, p, parts[2]);
      if (parts.size() == 3 && method == "DELETE") co_return co_await remove(ex, p, parts[2]);
      if (parts.size() == 4 && parts[3] == "content" && method == "GET")
        co_return co_await content(ex, p, parts[2]);
      if (parts.size() == 4 && parts[3] == "link" && method == "POST")
        co_return co_await make_link(ex, p, parts[2]);
    }
    if (parts.size() == 2 && parts[1] == "upload-grants" && method == "POST")
      co_return co_await tus_.mint_grant(ex, p);
    if (parts.size() >= 2 && parts[1] == "admin") co_return co_await admin(ex, p, parts);
    co_await ex.send(error_response(Error{Errc::kRouteNotFound, "no such route"}));
  }

  net::awaitable<void> fail_with(Exchange& ex, const Error& e) {
    http::log_if_internal(ex, e);
    co_await ex.send(error_response(e));
  }

  net::awaitable<void> upload(Exchange& ex, const core::Principal& p) {
    auto app = app_of(ex, p);
    if (!app) co_return co_await fail_with(ex, app.error());
    const std::string content_type(ex.header("Content-Type").value_or(""));
    const bool multipart = http::media_type(content_type) == "multipart/form-data";

    core::UploadSpec spec;
    spec.tenant_id = p.tenant_id;
    spec.app_id = *app;
    spec.owner = p.key_id;
    spec.key_id = p.key_id;
    spec.name = ex.query("name").value_or("");
    if (auto ct = ex.query("content_type")) spec.content_type = *ct;
    else if (!multipart && !content_type.empty()) spec.content_type = content_type;
    if (auto ttl = ex.query("ttl")) {
      auto secs = ttl_seconds(*ttl);
      if (!secs) co_return co_await fail_with(ex, secs.error());
      spec.expires_at = s_.clock.now() + *secs * 1000;
    }
    if (!multipart) {
      if (spec.name.empty())
        co_return co_await fail_with(ex, Error{Errc::kMissingField, "a raw upload needs ?name="});
      spec.declared_size = ex.content_length();
    }
    if (!spec.name.empty() && !acceptable_file_name(spec.name))
      co_return co_await fail_with(
          ex, Error{Errc::kBadName,
                    "name must be UTF-8 without control characters, at most 1024 bytes"});
    Result<std::string> boundary;
    if (multipart) {
      boundary = http::multipart_boundary(content_type);
      if (!boundary) co_return co_await fail_with(ex, boundary.error());
    }

    NativeUpload hooks(ex, std::move(spec), multipart);
    std::optional<std::string> form;
    if (multipart) form = std::move(*boundary);
    co_await http::receive_upload(ex, s_.uploads, hooks, std::move(form));
  }

  net::awaitable<void> list(Exchange& ex, const core::Principal& p) {
    core::ObjectQuery q;
    q.tenant_id = p.tenant_id;
    if (ex.query("app") || !p.app_id.empty()) {
      auto app = app_of(ex, p);
      if (!app) co_return co_await fail_with(ex, app.error());
      q.app_id = *app;
    }
    q.limit = kDefaultPageSize;
    if (auto l = ex.query("limit")) {
      char* end = nullptr;
      unsigned long v = std::strtoul(l->c_str(), &end, 10);
      if (l->empty() || *end || v == 0 || v > kMaxPageSize)
        co_return co_await fail_with(ex, Error{Errc::kInvalidArgument, "limit must be 1-1000"});
      q.limit = static_cast<uint32_t>(v);
    }
    if (auto c = ex.query("cursor"); c && !c->empty()) {
      if (!plain_token(*c))
        co_return co_await fail_with(ex, Error{Errc::kBadCursor, "invalid pagination cursor"});
      q.after_id = *c;
    }
    auto page = co_await blocking(ex, [&] { return s_.files.list(q); });
    if (!page) co_return co_await fail_with(ex, page.error());
    json::array files;
    for (const Object& o : page->objects) files.push_back(object_json(o));
    json::object body;
    body["files"] = std::move(files);
    if (page->more && !page->objects.empty()) body["next_cursor"] = page->objects.back().id;
    else body["next_cursor"] = nullptr;
    co_await ex.send(json_ok(200, body));
  }

  net::awaitable<void> get(Exchange& ex, const core::Principal& p, std::string_view id) {
    auto o = co_await find(ex, p, id);
    if (!o) co_return co_await fail_with(ex, o.error());
    co_await ex.send(json_ok(200, object_json(*o)));
  }

  // An object the principal may see: its tenant's, and its app's for app keys.
  // Everything else is "not found", so existence does not leak.
  net::awaitable<Result<Object>> find(Exchange& ex, const core::Principal& p, std::string_view id) {
    if (!plain_token(id)) co_return fail(Errc::kObjectNotFound);
    auto o = co_await blocking(ex, [&] { return s_.files.get(p.tenant_id, id); });
    if (o && !p.app_id.empty() && o->app_id != p.app_id) co_return fail(Errc::kObjectNotFound);
    co_return o;
  }

  // find() answered from the short-lived cache alone (core/files.h: deletes
  // elsewhere take effect within its bound), without a coroutine frame: the
  // hot path of a download. Empty on a miss and whenever find() may answer
  // otherwise (it then decides).
  std::shared_ptr<const Object> find_cached(const core::Principal& p, std::string_view id) {
    if (!plain_token(id)) return nullptr;
    auto hit = s_.files.get_cached(p.tenant_id, id);
    if (hit && !p.app_id.empty() && hit->app_id != p.app_id) return nullptr;
    return hit;
  }

  net::awaitable<void> remove(Exchange& ex, const core::Principal& p, std::string_view id) {
    auto o = co_await find(ex, p, id);
    if (!o) {
      // Idempotent: deleting what is not there (any more) succeeds.
      if (o.error().code == Errc::kObjectNotFound)
        co_return co_await ex.send(http::empty_response(204));
      co_return co_await fail_with(ex, o.error());
    }
    auto st = co_await blocking(ex, [&] { return s_.files.remove(p.tenant_id, o->id); });
    if (!st) co_return co_await fail_with(ex, st.error());
    co_await ex.send(http::empty_response(204));
  }

  // Not a coroutine when the object is cached: send_object's awaitable is all
  // there is to await (one frame less per download).
  net::awaitable<void> content(Exchange& ex, const core::Principal& p, std::string_view id) {
    if (auto hit = find_cached(p, id)) return http::send_object(ex, s_.files, *hit, error_response);
    return content_uncached(ex, p, id);
  }

  net::awaitable<void> content_uncached(Exchange& ex, const core::Principal& p,
                                        std::string_view id) {
    auto o = co_await find(ex, p, id);
    if (!o) co_return co_await fail_with(ex, o.error());
    co_await http::send_object(ex, s_.files, *o, error_response);
  }

  // POST /v1/files/{id}/link?ttl=<seconds, default 3600>: a signed download link
  // anyone holding it may use until it expires.
  net::awaitable<void> make_link(Exchange& ex, const core::Principal& p, std::string_view id) {
    auto o = co_await find(ex, p, id);
    if (!o) co_return co_await fail_with(ex, o.error());
    auto ttl = ttl_seconds(ex.query("ttl").value_or("3600"));
    if (!ttl) co_return co_await fail_with(ex, ttl.error());
    const UnixMs expires_at = s_.clock.now() + *ttl * 1000;
    co_await ex.send(json_ok(
        200,
        link_json(s_.public_url + s_.links.path_for(o->tenant_id, o->id, expires_at), expires_at)));
  }

  // GET /v1/links/{tenant}/{object id}?expires=&signature= : a signed download
  // link a dialect handed out (core/secrets.h); the link is the credential.
  // Not a coroutine when the object is cached, as content().
  net::awaitable<void> link(Exchange& ex, std::string_view tenant_id, std::string_view id) {
    auto verified = s_.links.verify(tenant_id, id, ex.query("expires").value_or(""),
                                    ex.query("signature").value_or(""));
    if (!verified) {
      // As fail_with, whose frame would refer to `verified` after it is gone.
      http::log_if_internal(ex, verified.error());
      return ex.send(error_response(verified.error()));
    }
    if (auto hit = s_.files.get_cached(tenant_id, id))
      return http::send_object(ex, s_.files, *hit, error_response);
    return link_uncached(ex, tenant_id, id);
  }

  net::awaitable<void> link_uncached(Exchange& ex, std::string_view tenant_id,
                                     std::string_view id) {
    auto o = co_await blocking(ex, [&] { return s_.files.get(tenant_id, id); });
    if (!o) co_return co_await fail_with(ex, o.error());
    co_await http::send_object(ex, s_.files, *o, error_response);
  }

  // ---- /v1/admin ----------------------------------------------------------

  // Root keys manage every tenant; a tenant's admin keys manage their own.
  static Status may_manage(const core::Principal& p, std::string_view tenant_id) {
    if (p.is_root() || (p.is_admin() && p.tenant_id == tenant_id)) return ok();
    if (!p.is_admin()) return fail(Errc::kPermissionDenied, "an admin key is required");
    return fail(Errc::kTenantNotFound);
  }

  net::awaitable<void> admin(Exchange& ex, const core::Principal& p,
                             const std::vector<std::string_view>& parts) {
    const std::string_view method = ex.method();
    if (!p.is_admin())
      co_return co_await fail_with(ex, Error{Errc::kPermissionDenied, "an admin key is required"});
    // /v1/admin/tenants[/{t}[/apps|/keys]]
    if (parts.size() >= 3 && parts[2] == "tenants") {
      if (parts.size() == 3 && method == "GET") co_return co_await list_tenants(ex, p);
      if (parts.size() == 3 && method == "POST") co_return co_await create_tenant(ex, p);
      if (parts.size() >= 4) {
        std::string tenant(parts[3]);
        if (auto st = may_manage(p, tenant); !st) co_return co_await fail_with(ex, st.error());
        if (parts.size() == 4 && method == "GET") {
          auto t = co_await blocking(ex, [&] { return s_.directory.tenant(tenant); });
          if (!t) co_return co_await fail_with(ex, t.error());
          co_return co_await ex.send(json_ok(200, tenant_json(*t, s_.secret_settings)));
        }
        if (parts.size() == 4 && method == "PATCH") co_return co_await update_tenant(ex, tenant);
        if (parts.size() == 5 && parts[4] == "apps" && method == "GET") {
          auto apps = co_await blocking(ex, [&] { return s_.directory.apps(tenant); });
          if (!apps) co_return co_await fail_with(ex, apps.error());
          json::array arr;
          for (auto& a : *apps) arr.push_back(app_json(a, s_.secret_settings));
          co_return co_await ex.send(json_ok(200, single("apps", std::move(arr))));
        }
        if (parts.size() == 5 && parts[4] == "apps" && method == "POST")
          co_return co_await create_app(ex, tenant);
        if (parts.size() == 6 && parts[4] == "apps" && method == "PATCH")
          co_return co_await update_app(ex, tenant, std::string(parts[5]));
        if (parts.size() == 5 && parts[4] == "keys" && method == "GET") {
          auto keys = co_await blocking(ex, [&] { return s_.auth.list_keys(tenant); });
          if (!keys) co_return co_await fail_with(ex, keys.error());
          json::array arr;
          for (auto& k : *keys) arr.push_back(key_json(k));
          co_return co_await ex.send(json_ok(200, single("keys", std::move(arr))));
        }
        if (parts.size() == 5 && parts[4] == "keys" && method == "POST")
          co_return co_await create_key(ex, tenant);
      }
    }
    // /v1/admin/keys/{id}[/enable|/disable]
    if (parts.size() >= 4 && parts[2] == "keys") co_return co_await manage_key(ex, p, parts);
    if (parts.size() == 3 && parts[2] == "sweep" && method == "POST")
      co_return co_await sweep(ex, p);
    if (parts.size() == 3 && parts[2] == "clock" && method == "POST" && s_.advance_clock &&
        p.is_root())
      co_return co_await advance_clock(ex);
    co_await ex.send(error_response(Error{Errc::kRouteNotFound, "no such route"}));
  }

  net::awaitable<void> list_tenants(Exchange& ex, const core::Principal& p) {
    auto tenants = co_await blocking(ex, [&] { return s_.directory.tenants(); });
    if (!tenants) co_return co_await fail_with(ex, tenants.error());
    json::array arr;
    for (auto& t : *tenants)
      if (p.is_root() || t.id == p.tenant_id) arr.push_back(tenant_json(t, s_.secret_settings));
    co_await ex.send(json_ok(200, single("tenants", std::move(arr))));
  }

  net::awaitable<void> create_tenant(Exchange& ex, const core::Principal& p) {
    if (!p.is_root())
      co_return co_await fail_with(
          ex, Error{Errc::kPermissionDenied, "only a root key may create tenants"});
    auto body = co_await read_json_object(ex);
    if (!body) co_return co_await fail_with(ex, body.error());
    auto id = string_member(*body, "id", true);
    if (!id) co_return co_await fail_with(ex, id.error());
    auto name = string_member(*body, "name", false);
    if (!name) co_return co_await fail_with(ex, name.error());
    // Check the settings before anything is created, so a bad body creates nothing.
    Tenant settings;
    if (auto st = patch_tenant(settings, *body, s_.secret_settings.tenant); !st)
      co_return co_await fail_with(ex, st.error());
    auto t = co_await blocking(ex, [&] { return s_.directory.create_tenant(*id, *name); });
    if (!t) co_return co_await fail_with(ex, t.error());
    if (body->contains("cors_origins") || body->contains("quota") || body->contains("settings")) {
      co_return co_await apply_tenant_patch(ex, *t, *body, 201);
    }
    co_await ex.send(json_ok(201, tenant_json(*t, s_.secret_settings)));
  }

  net::awaitable<void> update_tenant(Exchange& ex, const std::string& tenant_id) {
    auto body = co_await read_json_object(ex);
    if (!body) co_return co_await fail_with(ex, body.error());
    auto t = co_await blocking(ex, [&] { return s_.directory.tenant(tenant_id); });
    if (!t) co_return co_await fail_with(ex, t.error());
    co_await apply_tenant_patch(ex, *t, *body, 200);
  }

  net::awaitable<void> apply_tenant_patch(Exchange& ex, Tenant t, const json::object& body,
                                          int status) {
    if (auto st = patch_tenant(t, body, s_.secret_settings.tenant); !st)
      co_return co_await fail_with(ex, st.error());
    auto st = co_await blocking(ex, [&] { return s_.directory.update_tenant(t); });
    if (!st) co_return co_await fail_with(ex, st.error());
    co_await ex.send(json_ok(status, tenant_json(t, s_.secret_settings)));
  }

  net::awaitable<void> create_app(Exchange& ex, const std::string& tenant_id) {
    auto body = co_await read_json_object(ex);
    if (!body) co_return co_await fail_with(ex, body.error());
    App a;
    a.tenant_id = tenant_id;
    auto id = string_member(*body, "id", true);
    if (!id) co_return co_await fail_with(ex, id.error());
    a.id = *id;
    auto dialect = string_member(*body, "dialect", false);
    if (!dialect) co_return co_await fail_with(ex, dialect.error());
    if (!dialect->empty() && !known_dialect(*dialect))
      co_return co_await fail_with(
          ex,
          Error(Errc::kInvalidArgument, "dialect must be native, jodoo, openim, kintone or jpush"));
    a.dialect = *dialect;
    if (auto st = patch_app(a, *body, s_.secret_settings.app); !st)
      co_return co_await fail_with(ex, st.error());
    auto created = co_await blocking(ex, [&] { return s_.directory.create_app(a); });
    if (!created) co_return co_await fail_with(ex, created.error());
    co_await ex.send(json_ok(201, app_json(*created, s_.secret_settings)));
  }

  net::awaitable<void> update_app(Exchange& ex, const std::string& tenant_id, std::string app_id) {
    auto body = co_await read_json_object(ex);
    if (!body) co_return co_await fail_with(ex, body.error());
    auto a = co_await blocking(ex, [&] { return s_.directory.app(tenant_id, app_id); });
    if (!a) co_return co_await fail_with(ex, a.error());
    if (auto st = patch_app(*a, *body, s_.secret_settings.app); !st)
      co_return co_await fail_with(ex, st.error());
    auto st = co_await blocking(ex, [&] { return s_.directory.update_app(*a); });
    if (!st) co_return co_await fail_with(ex, st.error());
    co_await ex.send(json_ok(200, app_json(*a, s_.secret_settings)));
  }

  net::awaitable<void> create_key(Exchange& ex, const std::string& tenant_id) {
    auto body = co_await read_json_object(ex);
    if (!body) co_return co_await fail_with(ex, body.error());
    auto name = string_member(*body, "name", false);
    auto role = string_member(*body, "role", false);
    auto app = string_member(*body, "app_id", false);
    if (!name || !role || !app)
      co_return co_await fail_with(
          ex, Error{Errc::kInvalidArgument, "name, role and app_id must be strings"});
    if (!role->empty() && *role != "admin" && *role != "member")
      co_return co_await fail_with(
          ex, Error{Errc::kInvalidArgument, "role must be \"admin\" or \"member\""});
    const KeyRole r = *role == "admin" ? KeyRole::kAdmin : KeyRole::kMember;
    auto created = co_await blocking(ex, [&]() -> Result<core::CreatedKey> {
      UP_TRY(s_.directory.tenant(tenant_id));
      if (!app->empty()) UP_TRY(s_.directory.app(tenant_id, *app));
      return s_.auth.create_key(tenant_id, *name, r, *app);
    });
    if (!created) co_return co_await fail_with(ex, created.error());
    json::object j = key_json(created->key);
    j["token"] = created->token;
    co_await ex.send(json_ok(201, j));
  }

  net::awaitable<void> manage_key(Exchange& ex, const core::Principal& p,
                                  const std::vector<std::string_view>& parts) {
    const std::string_view method = ex.method();
    std::string id(parts[3]);
    auto key = co_await blocking(ex, [&] { return s_.auth.get_key(id); });
    if (!key) co_return co_await fail_with(ex, key.error());
    if (auto st = may_manage(p, key->tenant_id); !st)
      co_return co_await fail_with(ex, Error{Errc::kKeyNotFound, "key not found"});
    Status st = fail(Errc::kRouteNotFound);
    if (parts.size() == 4 && method == "DELETE") {
      st = co_await blocking(ex, [&] { return s_.auth.delete_key(id); });
      if (st) co_return co_await ex.send(http::empty_response(204));
    } else if (parts.size() == 5 && method == "POST" &&
               (parts[4] == "enable" || parts[4] == "disable")) {
      const bool enable = parts[4] == "enable";
      st = co_await blocking(ex, [&] { return s_.auth.set_key_enabled(id, enable); });
      if (st) {
        key->enabled = enable;
        co_return co_await ex.send(json_ok(200, key_json(*key)));
      }
    } else if (parts.size() == 4 && method == "GET") {
      co_return co_await ex.send(json_ok(200, key_json(*key)));
    }
    co_await fail_with(ex, st.error());
  }

  net::awaitable<void> sweep(Exchange& ex, const core::Principal& p) {
    if (!p.is_root())
      co_return co_await fail_with(ex, Error{Errc::kPermissionDenied, "only a root key may sweep"});
    auto body = co_await read_json_object(ex);
    if (!body) co_return co_await fail_with(ex, body.error());
    int64_t grace_ms = -1;  // orphans are collected only when asked
    if (auto* g = body->if_contains("orphan_grace_ms")) {
      // A blob is briefly unreferenced between its rename and its metadata
      // commit; a grace under a minute could remove an upload in flight.
      if (!g->is_int64() || g->as_int64() < kMinOrphanGraceMs)
        co_return co_await fail_with(
            ex, Error(Errc::kInvalidArgument, "orphan_grace_ms must be an integer >= 60000"));
      grace_ms = g->as_int64();
    }
    auto stats = co_await blocking(ex, [&]() -> Result<core::SweepStats> {
      auto s = s_.sweeper.sweep();
      if (!s || grace_ms < 0) return s;
      auto o = s_.sweeper.collect_orphans(grace_ms);
      if (!o) return fail(o.error());
      s->orphan_blobs = o->orphan_blobs;
      s->stale_temporaries = o->stale_temporaries;
      return s;
    });
    if (!stats) co_return co_await fail_with(ex, stats.error());
    json::object j;
    j["expired_objects"] = stats->expired_objects;
    j["purged_objects"] = stats->purged_objects;
    j["expired_transactions"] = stats->expired_transactions;
    j["orphan_blobs"] = stats->orphan_blobs;
    j["stale_temporaries"] = stats->stale_temporaries;
    co_await ex.send(json_ok(200, j));
  }

  net::awaitable<void> advance_clock(Exchange& ex) {
    auto body = co_await read_json_object(ex);
    if (!body) co_return co_await fail_with(ex, body.error());
    auto* ms = body->if_contains("advance_ms");
    if (!ms || !ms->is_int64() || ms->as_int64() < 0)
      co_return co_await fail_with(
          ex, Error{Errc::kInvalidArgument, "advance_ms must be a non-negative integer"});
    s_.advance_clock(ms->as_int64());
    co_await ex.send(json_ok(200, single("now", json::value(format_iso8601(s_.clock.now())))));
  }

  core::Services& s_;
  Tus tus_;
};

}  // namespace

http::HandlerPtr make_handler(core::Services& services) {
  return std::make_unique<NativeHandler>(services);
}

}  // namespace up::dialects::native
