#include "dialects/openim/common.h"

#include <optional>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/openim/errors.h"
#include "http/upload_receiver.h"

namespace up::dialects::openim {

namespace {

// An array member whose every element `take` accepts (nullopt: not one of `what`).
template <class T, class Take>
Status read_list(const json::object& o, const char* name, const char* what, std::vector<T>& out,
                 Take take) {
  const auto* v = o.if_contains(name);
  out.clear();
  if (!v || v->is_null()) return ok();
  if (!v->is_array()) return fail(Errc::kInvalidArgument, std::string(name) + " must be an array");
  for (const auto& e : v->as_array()) {
    std::optional<T> item = take(e);
    if (!item) return fail(Errc::kInvalidArgument, std::string(name) + " must hold " + what);
    out.push_back(std::move(*item));
  }
  return ok();
}

std::string alias_meta(const std::string& key) {
  json::object o;
  o["openim_key"] = key;
  return json::serialize(o);
}

std::string alias_target(const Object& alias) {
  boost::system::error_code ec;
  json::value v = json::parse(alias.meta_json, ec);
  if (ec || !v.is_object()) return {};
  const auto* k = v.as_object().if_contains("openim_key");
  return k && k->is_string() ? std::string(k->as_string()) : std::string();
}

}  // namespace

std::string s3_secret(const core::Services& s, std::string_view tenant, std::string_view app) {
  return crypto::base64url(
      s.secrets.derive("s3-sk/" + std::string(tenant) + "/" + std::string(app) + "/v1"), false);
}

Status check_name(std::string_view name, const TokenClaims& user) {
  if (name.empty()) return fail(Errc::kInvalidArgument, "name is empty");
  if (name.front() == '/') return fail(Errc::kInvalidArgument, "name cannot start with `/`");
  if (name.size() > kMaxNameBytes) return fail(Errc::kInvalidArgument, "name too long");
  if (!valid_utf8(name)) return fail(Errc::kInvalidArgument, "name is not valid UTF-8");
  // Names end up in URLs and keys clients show; upgate's names never hold
  // control characters (OpenIM's own check does not look).
  if (has_control_characters(name))
    return fail(Errc::kInvalidArgument, "name has control characters");
  if (!user.admin && !name.starts_with(user.user_id + "/"))
    return fail(Errc::kPermissionDenied, "name must start with `" + user.user_id + "/`");
  return ok();
}

Result<std::string> string_field(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return fail(Errc::kInvalidArgument, std::string(name) + " must be a string");
  return std::string(v->as_string());
}

Result<int64_t> int_field(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  if (!v || v->is_null()) return int64_t{0};
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v->as_uint64());
  return fail(Errc::kInvalidArgument, std::string(name) + " must be an integer");
}

bool bool_field(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_bool() && v->as_bool();
}

Members& Members::text(const char* name, std::string& out) {
  if (!status_) return *this;
  auto v = string_field(o_, name);
  if (v) out = std::move(*v);
  else status_ = fail(v.error());
  return *this;
}

Members& Members::integer(const char* name, int64_t& out) {
  if (!status_) return *this;
  auto v = int_field(o_, name);
  if (v) out = *v;
  else status_ = fail(v.error());
  return *this;
}

Members& Members::texts(const char* name, std::vector<std::string>& out) {
  if (status_)
    status_ = read_list(o_, name, "strings", out, [](const json::value& e) {
      return e.is_string() ? std::optional<std::string>(e.as_string()) : std::nullopt;
    });
  return *this;
}

Members& Members::integers(const char* name, std::vector<int64_t>& out) {
  if (status_)
    status_ = read_list(o_, name, "integers", out, [](const json::value& e) {
      return e.is_int64() ? std::optional<int64_t>(e.as_int64()) : std::nullopt;
    });
  return *this;
}

std::string url_data(const std::string& url) {
  json::object o;
  o["url"] = url;
  return json::serialize(o);
}

std::string hash_key(const std::string& hash) { return "openim/data/hash/" + hash; }

Result<App> openim_app(const core::Services& s, const std::string& tenant,
                       const std::string& app_id) {
  auto app = s.directory.app(tenant, app_id);
  if (!app) {
    if (app.error().kind() == Kind::kNotFound)
      return fail(Errc::kAppNotFound, "no OpenIM app at this address");
    return fail(app.error());
  }
  if (app->dialect != kDialect) return fail(Errc::kAppNotFound, "no OpenIM app at this address");
  return app;
}

Result<Object> resolve_name(core::Services& s, const App& app, const std::string& name) {
  auto alias = s.files.get_by_key(app.tenant_id, app.id, "/" + name);
  if (alias) {
    const std::string target = alias_target(*alias);
    if (!target.empty()) return s.files.get_by_key(app.tenant_id, app.id, target);
  } else if (alias.error().code != Errc::kObjectNotFound) {
    return fail(alias.error());
  }
  return s.files.get_by_key(app.tenant_id, app.id, name);
}

Status bind_name(core::Services& s, const App& app, const std::string& name,
                 const std::string& key) {
  if (name == key) return ok();
  auto old = s.files.get_by_key(app.tenant_id, app.id, "/" + name);
  if (old) {
    if (alias_target(*old) == key) return ok();
    UP_TRY(s.files.remove(app.tenant_id, old->id));
  } else if (old.error().code != Errc::kObjectNotFound) {
    return fail(old.error());
  }
  core::UploadSpec spec;
  spec.tenant_id = app.tenant_id;
  spec.app_id = app.id;
  spec.key = "/" + name;
  spec.name = name;
  spec.meta_json = alias_meta(key);
  auto up = s.uploads.begin(std::move(spec));
  if (!up) return fail(up.error());
  auto committed = (*up)->commit_blocking();
  if (!committed) return fail(committed.error());
  return ok();
}

net::awaitable<void> fail_with(http::Exchange& ex, const Error& e) {
  http::log_if_internal(ex, e);
  co_await ex.send(error_response(e));
}

net::awaitable<void> fail_s3(http::Exchange& ex, const Error& e, const std::string& bucket) {
  http::log_if_internal(ex, e);
  co_await ex.send(s3_error_response(e, bucket, "", ex.path(), ex.request_id()));
}

}  // namespace up::dialects::openim
