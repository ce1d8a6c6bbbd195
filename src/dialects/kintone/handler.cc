// Routes of the kintone REST API. The JSON endpoints are plain blocking calls
// (api.h) run off the I/O thread; this file does what needs the exchange:
// credentials, parameters, the streamed file.json upload and download.

#include <boost/json.hpp>

#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/dialect_prelude.h"
#include "dialects/kintone/api.h"
#include "dialects/kintone/errors.h"
#include "dialects/kintone/file_name.h"
#include "dialects/kintone/kintone.h"
#include "dialects/kintone/params.h"
#include "http/downloads.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::kintone {
namespace {

constexpr uint64_t kJsonBodyLimit = 64ull * 1024 * 1024;
constexpr uint64_t kMultipartSlack = 64 * 1024;
constexpr UnixMs kHourMs = 3'600'000;

struct Route {
  std::string guest_space_id;
  std::string endpoint;  // "records/cursor"
};

// "/k/v1/records/cursor.json" or "/k/guest/5/v1/file.json".
std::optional<Route> parse_route(std::string_view path) {
  Route r;
  if (path.starts_with("/k/guest/")) {
    path.remove_prefix(9);
    const size_t slash = path.find('/');
    if (slash == std::string_view::npos || slash == 0) return std::nullopt;
    r.guest_space_id = std::string(path.substr(0, slash));
    for (char c : r.guest_space_id)
      if (c < '0' || c > '9') return std::nullopt;
    path.remove_prefix(slash);
    if (!path.starts_with("/v1/")) return std::nullopt;
    path.remove_prefix(4);
  } else if (path.starts_with("/k/v1/")) {
    path.remove_prefix(6);
  } else {
    return std::nullopt;
  }
  if (!path.ends_with(".json") || path.size() <= 5) return std::nullopt;
  path.remove_suffix(5);
  r.endpoint = std::string(path);
  return r;
}

std::string file_key_body(const std::string& key) {
  json::object o;
  o["fileKey"] = key;
  return json::serialize(o);
}

std::string body_of(const json::value& v) { return json::serialize(v); }

// file.json: the one `file` part is the file; other fields (a browser's
// __REQUEST_TOKEN__) are ignored. The spec is settled before the body.
class KintoneUpload final : public http::UploadHooks {
 public:
  explicit KintoneUpload(core::UploadSpec spec) : spec_(std::move(spec)) {}

  // http::UploadHooks
  Result<core::UploadSpec> spec(const http::FilePart&) override { return spec_; }
  Error second_file_part() const override {
    return Error(Errc::kInvalidArgument, "Only one file can be uploaded at a time.");
  }
  std::optional<size_t> field_limit(const http::PartHeaders&) const override {
    return std::nullopt;
  }
  Error missing_file() const override { return Error(Errc::kMissingField, "Required."); }
  Error append_error(const Error& e, const core::Upload& upload) const override {
    if (e.code != Errc::kTooLarge) return e;
    return Error(Errc::kTooLarge,
                 "The file is too large: at most " + std::to_string(upload.limit()) + " bytes.");
  }
  Status finish(core::Upload& upload, const http::FilePart& file) override {
    auto name = decode_file_name(file.filename);
    if (!name) return fail(Errc::kBadName, "The file name must be UTF-8 or GBK text.");
    upload.spec().name = std::move(*name);
    if (!file.content_type.empty()) upload.spec().content_type = file.content_type;
    return ok();
  }
  net::awaitable<Result<http::Response>> answer(Exchange&, const Object& object) override {
    co_return http::json_response(200, file_key_body(object.key));
  }
  // Only the file part can be missing or badly named here.
  http::Response error_response(const Error& e) const override {
    if (e.code == Errc::kMissingField || e.code == Errc::kBadName)
      return kintone::error_response(Failure(e, "file"));
    return kintone::error_response(Failure(e));
  }

 private:
  core::UploadSpec spec_;
};

class KintoneHandler final : public http::Handler {
 public:
  KintoneHandler(core::Services& services, Options options)
      : s_(services), auth_(services, std::move(options)), api_(services, auth_) {}

  // http::Handler
  bool matches(std::string_view, std::string_view path) const override {
    return path.starts_with("/k/v1/") || path.starts_with("/k/guest/");
  }

  net::awaitable<void> handle(Exchange& ex) override {
    auto route = parse_route(ex.path());
    if (!route)
      co_return co_await fail_with(ex,
                                   Failure(Error(Errc::kRouteNotFound, "The API does not exist.")));
    Credentials creds;
    if (auto h = ex.header("X-Cybozu-API-Token")) creds.api_tokens = std::string(*h);
    if (auto h = ex.header("X-Cybozu-Authorization")) creds.authorization = std::string(*h);
    if (auto h = ex.header("Authorization")) creds.basic = std::string(*h);
    creds.guest_space_id = route->guest_space_id;
    // From the caches on this thread when they answer (a hot token): no pool trip.
    auto cached = auth_.authenticate_cached(creds);
    KResult<Caller> caller = cached ? std::move(*cached) : KResult<Caller>(Caller{});
    if (!cached) caller = co_await blocking(ex, [&] { return auth_.authenticate(creds); });
    if (!caller) co_return co_await fail_with(ex, caller.error());
    ex.log_field("tenant", caller->tenant_id);

    // Clients send a GET whose URL would be too long as a POST with the
    // header, and the parameters as a JSON body (spec/kintone.md §4.1).
    std::string method(ex.method());
    bool params_in_body = method == "POST" || method == "PUT";
    if (auto o = ex.header("X-HTTP-Method-Override"); o && method == "POST") {
      if (*o != "GET" && *o != "POST" && *o != "PUT" && *o != "DELETE")
        co_return co_await fail_with(
            ex, Failure(Error(Errc::kInvalidArgument, "Unsupported X-HTTP-Method-Override.")));
      method = std::string(*o);
    }
    if (route->endpoint == "file") {
      if (method == "POST" && ex.method() == "POST" && !ex.header("X-HTTP-Method-Override"))
        co_return co_await upload(ex, *caller);
      if (method == "GET") co_return co_await download(ex, *caller, params_in_body);
      co_return co_await fail_with(
          ex, Failure(Error(Errc::kMethodNotAllowed, "The API does not accept " + method + ".")));
    }
    auto params = co_await read_params(ex, params_in_body);
    if (!params) co_return co_await fail_with(ex, params.error());
    auto result = co_await blocking(ex, [&] {
      auto answer = api_.call(*caller, method, route->endpoint, *params);
      // A record write may have attached or deleted files behind FileService's
      // back: downloads must not take them from its cache.
      if (method != "GET") s_.files.forget_tenant(caller->tenant_id);
      return answer;
    });
    if (!result) co_return co_await fail_with(ex, result.error());
    co_await ex.send(http::json_response(200, body_of(*result)));
  }

 private:
  net::awaitable<void> fail_with(Exchange& ex, const Failure& f) {
    http::log_if_internal(ex, f.error);
    co_await ex.send(error_response(f));
  }

  // GET and DELETE carry their parameters in the query string (`qs` form),
  // everything else (and an overridden GET) in a JSON body.
  net::awaitable<KResult<json::object>> read_params(Exchange& ex, bool in_body) {
    // kintone also takes a GET's parameters as a JSON body.
    if (!in_body && ex.content_length().value_or(0) > 0) in_body = true;
    if (!in_body) {
      const std::string_view target = ex.target();
      const size_t q = target.find('?');
      auto params = parse_query_string(q == std::string_view::npos ? std::string_view()
                                                                   : target.substr(q + 1));
      if (!params) co_return refuse(Failure(params.error()));
      co_return std::move(*params);
    }
    auto body = co_await ex.read_all(kJsonBodyLimit);
    if (!body) co_return refuse(Failure(body.error()));
    auto params = parse_json_params(*body);
    if (!params) co_return refuse(Failure(params.error()));
    co_return std::move(*params);
  }

  net::awaitable<void> upload(Exchange& ex, const Caller& caller) {
    const std::string content_type(ex.header("Content-Type").value_or(""));
    auto boundary = http::multipart_boundary(content_type);
    if (!boundary) co_return co_await fail_with(ex, boundary.error());
    const uint64_t max_bytes = auth_.options().max_file_bytes;
    if (ex.content_length() && *ex.content_length() > max_bytes + kMultipartSlack)
      co_return co_await fail_with(ex, Failure(Error(Errc::kTooLarge, "The file is too large.")));
    // A token's uploads go to its app, which must be a kintone app; a user's
    // to the tenant's default app, copied into a record's app on attach.
    auto ttl_hours = co_await blocking(ex, [&]() -> KResult<uint32_t> {
      if (!caller.login.empty()) return auth_.options().upload_ttl_hours;
      auto app = auth_.open_app(caller, caller.upload_app, Need::kAny);
      if (!app) return refuse(app.error());
      return app->settings.upload_ttl_hours.value_or(auth_.options().upload_ttl_hours);
    });
    if (!ttl_hours) co_return co_await fail_with(ex, ttl_hours.error());

    core::UploadSpec spec;
    spec.tenant_id = caller.tenant_id;
    spec.app_id = caller.upload_app;
    spec.key = uuid_v4(random_hex(16));  // the shape of kintone's fileKeys
    spec.owner = caller.name();
    spec.key_id = caller.upload_key_id();
    spec.max_bytes = max_bytes;
    spec.state = ObjectState::kTemporary;
    spec.expires_at = s_.clock.now() + *ttl_hours * kHourMs;
    KintoneUpload hooks(std::move(spec));
    co_await http::receive_upload(ex, s_.uploads, hooks, std::move(*boundary));
  }

  // The fileKey of the usual download, a query of `fileKey=<key>` alone whose
  // key needs no decoding: what parse_query_string would find there, without
  // building its JSON object (a tenth of a download's work). Empty otherwise.
  static std::optional<std::string_view> plain_file_key(const Exchange& ex, bool in_body) {
    constexpr std::string_view kPrefix = "fileKey=";
    if (in_body || ex.content_length().value_or(0) > 0) return std::nullopt;
    const std::string_view target = ex.target();
    const size_t q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    const std::string_view query = target.substr(q + 1);
    if (!query.starts_with(kPrefix)) return std::nullopt;
    const std::string_view key = query.substr(kPrefix.size());
    // No '&', '%' or '+' among [A-Za-z0-9._-]: nothing else, nothing to decode.
    if (!http::plain_token(key, 1024)) return std::nullopt;
    return key;
  }

  net::awaitable<void> download(Exchange& ex, const Caller& caller, bool params_in_body) {
    std::string file_key;
    if (auto plain = plain_file_key(ex, params_in_body)) {
      file_key = *plain;
    } else {
      auto params = co_await read_params(ex, params_in_body);
      if (!params) co_return co_await fail_with(ex, params.error());
      const json::value* key = params->if_contains("fileKey");
      if (!key || !key->is_string())
        co_return co_await fail_with(ex,
                                     Failure(Error(Errc::kMissingField, "Required."), "fileKey"));
      file_key = std::string(key->as_string());
    }
    const auto error_for = [](const Error& e) { return error_response(Failure(e)); };
    if (auto cached = api_.downloadable_cached(caller, file_key)) {
      if (!*cached) co_return co_await fail_with(ex, cached->error());
      const std::shared_ptr<const Object> hit = std::move(**cached);  // held while sending
      co_return co_await http::send_object(ex, s_.files, *hit, error_for);
    }
    auto object = co_await blocking(ex, [&] { return api_.downloadable(caller, file_key); });
    if (!object) co_return co_await fail_with(ex, object.error());
    co_await http::send_object(ex, s_.files, *object, error_for);
  }

  core::Services& s_;
  Authenticator auth_;
  Api api_;
};

}  // namespace

http::HandlerPtr make_handler(core::Services& services, Options options) {
  return std::make_unique<KintoneHandler>(services, std::move(options));
}

}  // namespace up::dialects::kintone
