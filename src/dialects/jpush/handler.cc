// Routes of the JPush file API (spec/jpush.md §5; vendor doc "File Management API").
//
// Identity mapping (no schema of its own): the JPush AppKey is the id of an
// upgate app with dialect "jpush"; the masterSecret is an upgate API key bound
// to that app. The 2020 devKey:devSecret form maps to tenant id : admin key of
// that tenant. The file API names no app in its URLs, so a devKey request can
// only act on an app when its admin key is bound to one; an unbound admin key
// gets 1105 "no permission", which is what JPush answers developers without the
// file-API grant.

#include <cctype>
#include <ctime>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/dialect_prelude.h"
#include "dialects/jpush/errors.h"
#include "dialects/jpush/id_list.h"
#include "dialects/jpush/jpush.h"
#include "dialects/jpush/settings.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::jpush {
namespace {

constexpr const char* kDialect = "jpush";
constexpr uint64_t kMaxFileBytes = 10ull * 1024 * 1024;  // "Max 10 MB"
constexpr uint64_t kMultipartSlack = 64 * 1024;          // framing and small fields
constexpr uint64_t kMaxValidFiles = 20;                  // per app, 1112 past it
constexpr int kDefaultTtlHours = 720;
constexpr int kMaxTtlHours = 720;
constexpr size_t kTtlFieldLimit = 32;
constexpr UnixMs kRateWindowMs = 60'000;
constexpr UnixMs kHourMs = 3'600'000;

// What every request after authentication carries.
struct Context {
  core::Principal principal;
  App app;
  Settings settings;
  core::RateDecision rate;
};

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Basic credentials → (user, secret); kUnauthenticated when absent or malformed.
Result<std::pair<std::string, std::string>> basic_credentials(
    std::optional<std::string_view> header) {
  if (!header || !starts_with_ignoring_case(*header, "Basic "))
    return fail(Errc::kUnauthenticated,
                "authentication failed: send Authorization: Basic base64(appKey:masterSecret)");
  std::string decoded;
  const std::string encoded = trim(header->substr(6));
  if (encoded.empty() || !crypto::base64_decode(encoded, decoded))
    return fail(Errc::kUnauthenticated, "authentication failed: malformed Basic credentials");
  const auto colon = decoded.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == decoded.size())
    return fail(Errc::kUnauthenticated, "authentication failed: expected appKey:masterSecret");
  return std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
}

// Blocking: verifies the secret and resolves the JPush app (see the file comment).
Result<Context> resolve(core::Services& s, const std::string& user, const std::string& secret) {
  const Error auth_failed(Errc::kUnauthenticated,
                          "authentication failed: check AppKey and MasterSecret");
  auto p = s.auth.authenticate(secret);
  if (!p) {
    if (p.error().kind() == Kind::kInternal || p.error().kind() == Kind::kUnavailable)
      return fail(p.error());
    return fail(auth_failed);
  }
  std::string app_id;
  if (!p->app_id.empty() && p->app_id == user) {
    app_id = p->app_id;  // appKey:masterSecret
  } else if (user == p->tenant_id && p->is_admin()) {
    // devKey:devSecret
    if (p->app_id.empty())
      return fail(Errc::kPermissionDenied,
                  "no permission: a devSecret must be an admin key bound to one JPush app");
    app_id = p->app_id;
  } else {
    return fail(auth_failed);
  }
  auto app = s.directory.app(p->tenant_id, app_id);
  if (!app) {
    if (app.error().kind() == Kind::kNotFound) return fail(auth_failed);
    return fail(app.error());
  }
  if (app->dialect != kDialect) return fail(auth_failed);  // not a JPush AppKey
  Context ctx;
  ctx.principal = std::move(*p);
  ctx.settings = parse_settings(app->settings_json);
  ctx.app = std::move(*app);
  // One pool per app shared by every file API, as JPush counts them. Counted
  // here, on the blocking pool: with PostgreSQL it is a database round trip.
  // A hit the store could not count fails the request (its 503), not passes.
  auto rate = s.rate_limiter.hit("jpush:" + ctx.app.tenant_id + ":" + ctx.app.id,
                                 ctx.settings.rate_limit_per_minute, kRateWindowMs);
  if (!rate) return fail(rate.error());
  ctx.rate = *rate;
  return ctx;
}

// "YYYY-MM-DD HH:MM:SS" at a fixed offset from UTC (JPush shows Beijing time).
std::string format_time(UnixMs t, int offset_minutes) {
  const int64_t ms = t + int64_t{offset_minutes} * 60'000;
  time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// "1".."720" hours; blank means the default (form builders send empty fields).
Result<int> parse_ttl(std::string_view raw) {
  const std::string v = trim(raw);
  if (v.empty()) return kDefaultTtlHours;
  if (v.size() > 4)
    return fail(Errc::kInvalidArgument, "invalid ttl: must be an integer from 1 to 720 (hours)");
  int hours = 0;
  for (char c : v) {
    if (c < '0' || c > '9')
      return fail(Errc::kInvalidArgument, "invalid ttl: must be an integer from 1 to 720 (hours)");
    hours = hours * 10 + (c - '0');
  }
  if (hours < 1 || hours > kMaxTtlHours)
    return fail(Errc::kInvalidArgument, "invalid ttl: must be an integer from 1 to 720 (hours)");
  return hours;
}

std::string type_of(const Object& o) {
  boost::system::error_code ec;
  json::value v = json::parse(o.meta_json, ec);
  if (ec || !v.is_object()) return {};
  auto* t = v.as_object().if_contains("type");
  return t && t->is_string() ? std::string(t->as_string()) : std::string();
}

std::string upload_meta(std::string_view type, int ttl_hours, uint64_t ids) {
  json::object o;
  o["type"] = type;
  o["ttl"] = ttl_hours;
  o["ids"] = ids;
  return json::serialize(o);
}

json::object file_json(const Object& o, const Settings& settings) {
  json::object j;
  j["file_id"] = o.key;
  j["type"] = type_of(o);
  j["create_time"] = format_time(o.created_at, settings.time_zone_offset_minutes);
  if (o.expires_at)
    j["expire_time"] = format_time(*o.expires_at, settings.time_zone_offset_minutes);
  j["file_name"] = o.name;
  return j;
}

std::string list_body(const std::vector<Object>& files, const Settings& settings) {
  json::array arr;
  for (const Object& o : files) arr.push_back(file_json(o, settings));
  json::object body;
  body["total_count"] = files.size();
  body["files"] = std::move(arr);
  return json::serialize(body);
}

std::string file_id_body(const std::string& file_id) {
  json::object o;
  o["file_id"] = file_id;
  return json::serialize(o);
}

// Every answer after authentication carries the app's rate-limit state. Both
// names of the limit header: the Java client reads -Limit, the current doc says -Quota.
http::Response with_rate(const Context& ctx, http::Response r) {
  const std::string limit = std::to_string(ctx.rate.limit);
  r.header("X-Rate-Limit-Limit", limit);
  r.header("X-Rate-Limit-Quota", limit);
  r.header("X-Rate-Limit-Remaining", std::to_string(ctx.rate.remaining));
  r.header("X-Rate-Limit-Reset", std::to_string((ctx.rate.reset_in_ms + 999) / 1000));
  return r;
}

// POST /v3/files/{type}: the `filename` part is the file, streamed through the
// id-list rules; the small `ttl` field may come before or after it (the Java
// client sends it first); other fields are ignored.
class JPushUpload final : public http::UploadHooks {
 public:
  JPushUpload(const Context& ctx, const Clock& clock, core::UploadSpec spec, std::string type)
      : ctx_(ctx), clock_(clock), spec_(std::move(spec)), type_(std::move(type)) {}

  // http::UploadHooks
  Result<core::UploadSpec> spec(const http::FilePart&) override { return spec_; }
  bool is_file_part(const http::PartHeaders& part) const override {
    return part.name == "filename";
  }
  Error second_file_part() const override {
    return Error(Errc::kInvalidArgument, "invalid parameter: more than one filename part");
  }
  std::optional<size_t> field_limit(const http::PartHeaders& part) const override {
    if (part.name == "ttl") return kTtlFieldLimit;
    return std::nullopt;
  }
  Error field_too_large(const std::string&) const override {
    return Error(Errc::kInvalidArgument, "invalid ttl: must be an integer from 1 to 720 (hours)");
  }
  Status on_field(const std::string&, std::string&& value) override {
    if (ttl_) return fail(Errc::kInvalidArgument, "invalid ttl: sent more than once");
    ttl_ = std::move(value);
    return ok();
  }
  Error missing_file() const override {
    return Error(Errc::kMissingField, "missing parameter: filename");
  }
  // Validated first: a refused file is never written past the bad line.
  Status on_file_data(std::string_view data) override { return validator_.feed(data); }
  Status on_file_end() override { return validator_.finish(); }
  Error append_error(const Error& e, const core::Upload& upload) const override {
    if (e.code != Errc::kTooLarge) return e;
    return Error(Errc::kTooLarge,
                 "file too large: at most " + std::to_string(upload.limit()) + " bytes");
  }
  Status finish(core::Upload& upload, const http::FilePart& file) override {
    auto ttl = parse_ttl(ttl_.value_or(""));
    if (!ttl) return fail(ttl.error());
    // A file part without a file name (-F filename=<text>) still gets a name to show.
    std::string name = file.filename.empty() ? type_ + ".txt" : file.filename;
    if (!acceptable_file_name(name))
      return fail(Errc::kBadName,
                  "invalid parameter: file name must be UTF-8 without control characters");
    upload.spec().name = std::move(name);
    if (!file.content_type.empty()) upload.spec().content_type = file.content_type;
    // Expired files are not "valid" ones: the commit's limit check does not
    // count them, even before the periodic sweep (core::InsertOptions::now).
    upload.spec().expires_at = clock_.now() + *ttl * kHourMs;
    upload.spec().meta_json = upload_meta(type_, *ttl, validator_.ids());
    return ok();
  }
  net::awaitable<Result<http::Response>> answer(Exchange&, const Object& object) override {
    co_return with_rate(ctx_, http::json_response(200, file_id_body(object.key)));
  }
  http::Response error_response(const Error& e) const override {
    return with_rate(ctx_, jpush::error_response(e));
  }

 private:
  const Context& ctx_;
  const Clock& clock_;
  core::UploadSpec spec_;
  std::string type_;
  IdListValidator validator_;
  std::optional<std::string> ttl_;
};

class JPushHandler final : public http::Handler {
 public:
  explicit JPushHandler(core::Services& services) : s_(services) {}

  // http::Handler
  bool matches(std::string_view, std::string_view path) const override {
    return path == "/v3/files" || path.starts_with("/v3/files/");
  }

  net::awaitable<void> handle(Exchange& ex) override {
    auto creds = basic_credentials(ex.header("Authorization"));
    if (!creds) co_return co_await ex.send(error_response(creds.error()));
    auto ctx = co_await blocking(ex, [&] { return resolve(s_, creds->first, creds->second); });
    if (!ctx) {
      http::log_if_internal(ex, ctx.error());
      co_return co_await ex.send(error_response(ctx.error()));
    }
    co_await serve(ex, *ctx);
  }

 private:
  net::awaitable<void> serve(Exchange& ex, Context& ctx) {
    ex.log_field("tenant", ctx.principal.tenant_id);
    ex.log_field("app", ctx.app.id);

    if (!ctx.rate.allowed)  // counted by resolve()
      co_return co_await fail_with(ex, ctx, Error(Errc::kRateLimited, "Rate limit exceeded"));

    const auto parts = http::split_path(ex.path());  // "v3", "files", ...
    const std::string_view method = ex.method();
    if (parts.size() == 2) {
      if (method == "GET") co_return co_await list(ex, ctx);
      if (method == "POST")
        co_return co_await fail_with(
            ex, ctx,
            Error(Errc::kMissingField,
                  "missing parameter: POST /v3/files/{alias|registration_id}"));
      co_return co_await fail_with(ex, ctx, Error(Errc::kMethodNotAllowed, "method not allowed"));
    }
    if (parts.size() == 3) {
      if (method == "POST") co_return co_await upload(ex, ctx, parts[2]);
      if (method == "GET") co_return co_await get(ex, ctx, parts[2]);
      if (method == "DELETE") co_return co_await remove(ex, ctx, parts[2]);
      co_return co_await fail_with(ex, ctx, Error(Errc::kMethodNotAllowed, "method not allowed"));
    }
    co_await fail_with(ex, ctx, Error(Errc::kRouteNotFound, "no such route"));
  }

  net::awaitable<void> reply(Exchange& ex, const Context& ctx, http::Response r) {
    co_await ex.send(with_rate(ctx, std::move(r)));
  }

  net::awaitable<void> fail_with(Exchange& ex, const Context& ctx, const Error& e) {
    http::log_if_internal(ex, e);
    co_await reply(ex, ctx, error_response(e));
  }

  net::awaitable<void> upload(Exchange& ex, const Context& ctx, std::string_view type_segment) {
    const std::string type(type_segment);
    if (type != "alias" && type != "registration_id")
      co_return co_await fail_with(
          ex, ctx,
          Error(Errc::kInvalidArgument,
                "invalid parameter: type must be alias or registration_id"));
    const std::string content_type(ex.header("Content-Type").value_or(""));
    if (http::media_type(content_type) != "multipart/form-data")
      co_return co_await fail_with(
          ex, ctx,
          Error(Errc::kMissingField,
                "missing parameter: send multipart/form-data with a filename part"));
    auto boundary = http::multipart_boundary(content_type);
    if (!boundary) co_return co_await fail_with(ex, ctx, boundary.error());
    // Refuse an oversized body before reading it (and before 100 Continue).
    if (ex.content_length() && *ex.content_length() > kMaxFileBytes + kMultipartSlack)
      co_return co_await fail_with(ex, ctx,
                                   Error(Errc::kTooLarge, "file too large: at most 10 MB"));

    core::UploadSpec spec;
    spec.tenant_id = ctx.app.tenant_id;
    spec.app_id = ctx.app.id;
    spec.owner = ctx.principal.key_id;
    spec.key_id = ctx.principal.key_id;
    spec.key = ctx.app.id + "-" + uuid_v4(random_hex(16));  // as JPush file ids
    spec.content_type = "text/plain";
    spec.max_bytes = kMaxFileBytes;
    spec.max_app_objects = kMaxValidFiles;
    spec.state = ObjectState::kStored;
    JPushUpload hooks(ctx, s_.clock, std::move(spec), type);
    co_await http::receive_upload(ex, s_.uploads, hooks, std::move(*boundary));
  }

  net::awaitable<void> list(Exchange& ex, const Context& ctx) {
    auto files = co_await blocking(ex, [&]() -> Result<std::vector<Object>> {
      core::ObjectQuery q;
      q.tenant_id = ctx.app.tenant_id;
      q.app_id = ctx.app.id;
      q.state = ObjectState::kStored;
      q.limit = 1000;
      std::vector<Object> out;
      for (;;) {
        auto page = s_.files.list(q);
        if (!page) return fail(page.error());
        const bool more = page->more && !page->objects.empty();
        if (more) q.after_id = page->objects.back().id;  // before the loop moves the ids out
        for (Object& o : page->objects)
          if (!o.key.empty()) out.push_back(std::move(o));
        if (!more) break;
      }
      return out;
    });
    if (!files) co_return co_await fail_with(ex, ctx, files.error());
    co_await reply(ex, ctx, http::json_response(200, list_body(*files, ctx.settings)));
  }

  net::awaitable<void> get(Exchange& ex, const Context& ctx, std::string_view file_id) {
    if (!http::plain_token(file_id, 200))
      co_return co_await fail_with(ex, ctx, Error(Errc::kObjectNotFound, "file not found"));
    const std::string key(file_id);
    auto o = co_await blocking(
        ex, [&] { return s_.files.get_by_key(ctx.app.tenant_id, ctx.app.id, key); });
    if (!o) {
      if (o.error().code == Errc::kObjectNotFound)
        co_return co_await fail_with(ex, ctx, Error(Errc::kObjectNotFound, "file not found"));
      co_return co_await fail_with(ex, ctx, o.error());
    }
    co_await reply(ex, ctx, http::json_response(200, json::serialize(file_json(*o, ctx.settings))));
  }

  // Idempotent: an unknown (or expired, or other app's) id is a success with
  // an empty body too, as JPush documents.
  net::awaitable<void> remove(Exchange& ex, const Context& ctx, std::string_view file_id) {
    if (!http::plain_token(file_id, 200))
      co_return co_await reply(ex, ctx, http::empty_response(200));
    const std::string key(file_id);
    auto st = co_await blocking(ex, [&]() -> Status {
      auto o = s_.files.get_by_key(ctx.app.tenant_id, ctx.app.id, key);
      if (!o && o.error().code == Errc::kObjectNotFound) return ok();
      if (!o) return fail(o.error());
      return s_.files.remove(ctx.app.tenant_id, o->id);
    });
    if (!st) co_return co_await fail_with(ex, ctx, st.error());
    co_await reply(ex, ctx, http::empty_response(200));
  }

  core::Services& s_;
};

}  // namespace

http::HandlerPtr make_handler(core::Services& services) {
  return std::make_unique<JPushHandler>(services);
}

}  // namespace up::dialects::jpush
