// Routes of the Jodoo dialect (spec/jodoo.md §2.1-2.2): the REST APIs under
// /api/v5/app/entry/ (POST, JSON, Bearer API key, {"code","msg"} errors), the
// Qiniu form upload at POST / (form_upload.cc) and Qiniu's resumable uploads
// (resumable_upload.h).
//
// Records: an entry's data lives in core records with form_id = entry_id and
// the Jodoo `_id` (24 hex) as record id. data_json holds each field's value;
// file fields hold their keys, and the record's file_ids the objects those
// keys name, so binding (and its transaction rule) is the core's.

#include <algorithm>

#include <boost/json.hpp>

#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/dialect_prelude.h"
#include "dialects/jodoo/callback.h"
#include "dialects/jodoo/errors.h"
#include "dialects/jodoo/form_upload.h"
#include "dialects/jodoo/jodoo.h"
#include "dialects/jodoo/keys.h"
#include "dialects/jodoo/qiniu.h"
#include "dialects/jodoo/resumable_upload.h"
#include "dialects/jodoo/settings.h"
#include "http/exchange.h"
#include "http/header_params.h"
#include "http/upload_receiver.h"

namespace up::dialects::jodoo {
namespace {

constexpr std::string_view kPrefix = "/api/v5/app/entry/";
constexpr UnixMs kRateWindowMs = 1000;
constexpr UnixMs kTransactionMs = 3'600'000;          // tokens, transactions and keys live 1 h
constexpr UnixMs kDownloadUrlMs = 15 * 86'400'000LL;  // data/get urls: 15 days
constexpr size_t kTokensPerRequest = 100;
constexpr size_t kMaxBatch = 100;
constexpr size_t kMaxFilesPerField = 100;
constexpr uint64_t kMaxBodyBytes = 16ull << 20;
constexpr uint64_t kMaxSmallBodyBytes = 64 * 1024;
constexpr size_t kMaxIdBytes = 128;

struct Route {
  Api api;
  const char* rate_name;
};

std::optional<Route> route_of(std::string_view rest) {
  if (rest == "file/get_upload_token") return Route{Api::kGetUploadToken, "get_upload_token"};
  if (rest == "data/create") return Route{Api::kCreate, "create"};
  if (rest == "data/batch_create") return Route{Api::kBatchCreate, "batch_create"};
  if (rest == "data/update") return Route{Api::kUpdate, "update"};
  if (rest == "data/batch_update") return Route{Api::kBatchUpdate, "batch_update"};
  if (rest == "data/get") return Route{Api::kGet, "get"};
  if (rest == "data/delete") return Route{Api::kDelete, "delete"};
  return std::nullopt;
}

// Who is calling, and the company's settings.
struct Caller {
  core::Principal principal;
  TenantSettings settings;
};

// The app and entry a request names.
struct Target {
  App app;
  AppSettings settings;
  std::string entry_id;
  const Entry* entry = nullptr;  // into settings
};

// Blocking (key and tenant reads on a cache miss).
Result<Caller> authenticate(core::Services& s, std::optional<std::string_view> header) {
  constexpr std::string_view kBearer = "Bearer ";
  if (!header || header->size() <= kBearer.size() || !header->starts_with(kBearer))
    return fail(Errc::kUnauthenticated, "send Authorization: Bearer <API key>");
  auto p = s.auth.authenticate(http::trim_ows(header->substr(kBearer.size())));
  if (!p) {
    if (p.error().kind() == Kind::kInternal || p.error().kind() == Kind::kUnavailable)
      return fail(p.error());
    if (p.error().code == Errc::kKeyDisabled)
      return fail(Errc::kKeyDisabled, "the API key is disabled");
    return fail(Errc::kKeyNotFound, "unknown API key");
  }
  auto tenant = s.directory.tenant(p->tenant_id);
  if (!tenant) return fail(tenant.error());
  Caller c;
  c.principal = std::move(*p);
  c.settings = parse_tenant_settings(tenant->settings_json);
  return c;
}

Result<std::string> string_member(const json::object& o, const char* name, bool required = true) {
  auto* v = o.if_contains(name);
  if (!v || v->is_null()) {
    if (required) return fail(Errc::kMissingField, std::string(name) + " is required");
    return std::string();
  }
  if (!v->is_string() || v->as_string().size() > kMaxIdBytes)
    return fail(Errc::kInvalidArgument,
                std::string(name) + " must be a string of at most 128 bytes");
  return std::string(v->as_string());
}

// Blocking: the app and entry named by the body, if the caller may use them.
Result<Target> resolve_target(core::Services& s, const Caller& caller, const json::object& body) {
  auto app_id = string_member(body, "app_id");
  if (!app_id) return fail(app_id.error());
  auto entry_id = string_member(body, "entry_id");
  if (!entry_id) return fail(entry_id.error());
  if (!caller.principal.app_id.empty() && caller.principal.app_id != *app_id)
    return fail(Errc::kPermissionDenied, "the API key is bound to another app");
  auto app = s.directory.app(caller.principal.tenant_id, *app_id);
  if (!app) {
    if (app.error().kind() == Kind::kNotFound)
      return fail(Errc::kAppNotFound, "no such app: " + *app_id);
    return fail(app.error());
  }
  if (app->dialect != "jodoo") return fail(Errc::kAppNotFound, "no such app: " + *app_id);
  Target t;
  t.settings = parse_app_settings(app->settings_json);
  t.app = std::move(*app);
  auto entry = t.settings.entries.find(*entry_id);
  if (entry == t.settings.entries.end()) return fail(Errc::kNotFound, "no such form: " + *entry_id);
  t.entry = &entry->second;
  t.entry_id = std::move(*entry_id);
  return t;
}

// A transaction_id: what Jodoo clients send is a UUID; accept any short
// printable ASCII.
Result<std::string> transaction_member(const json::object& body, bool required) {
  auto* v = body.if_contains("transaction_id");
  if (!v || v->is_null()) {
    if (required) return fail(Errc::kTransactionNotFound, "transaction_id is required");
    return std::string();
  }
  if (!v->is_string() || v->as_string().empty() || v->as_string().size() > kMaxIdBytes)
    return fail(Errc::kTransactionNotFound, "transaction_id must be a string of 1-128 characters");
  for (char c : v->as_string())
    if (c <= 0x20 || c > 0x7e)
      return fail(Errc::kTransactionNotFound, "transaction_id must be printable ASCII");
  return std::string(v->as_string());
}

// ---- get_upload_token --------------------------------------------------------

// Version-4 UUIDs from one batch of random bytes.
std::vector<std::string> new_uuids(size_t n) {
  const std::string hex = random_hex(16 * n);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(uuid_v4(std::string_view(hex).substr(32 * i, 32)));
  return out;
}

// Jodoo's callback body shape (seeds/000_*), with the ids of this request.
std::string callback_body(const Target& t, const std::string& transaction_id) {
  json::object b;
  b["appId"] = t.app.id;
  b["entryId"] = t.entry_id;
  b["transactionId"] = transaction_id;
  b["key"] = "$(key)";
  b["hash"] = "$(etag)";
  b["name"] = "$(fname)";
  b["size"] = "$(fsize)";
  b["mime"] = "$(mimeType)";
  b["bucket"] = "$(bucket)";
  return json::serialize(b);
}

std::string token_list_body(const Caller& c, const Target& t, const std::string& transaction_id,
                            const Transaction& tx, const core::Secrets& secrets,
                            const std::string& url) {
  PutPolicy p;
  p.scope = bucket_of(t.app.tenant_id, t.app.id);
  p.force_save_key = true;
  p.fsize_min = 1;
  p.fsize_limit = c.settings.fsize_limit;
  p.deadline = tx.expires_at / 1000;
  p.callback_body_type = "application/json";
  p.callback_body = callback_body(t, transaction_id);
  p.callback_url = t.settings.callback_url;
  p.transaction_id = transaction_id;
  TokenMinter minter(access_key(t.app.tenant_id, c.settings.key_version),
                     secret_key(secrets, t.app.tenant_id, c.settings.key_version), p);
  const std::string url_json = json::serialize(json::value(url));
  std::string out = R"({"token_and_url_list":[)";
  bool first = true;
  for (const std::string& key : new_uuids(kTokensPerRequest)) {
    if (!first) out += ',';
    first = false;
    out.append(R"({"url":)")
        .append(url_json)
        .append(R"(,"token":")")
        .append(minter.token(key))
        .append("\"}");
  }
  out += "]}";
  return out;
}

// ---- record documents --------------------------------------------------------

// A write's field values, checked against the entry: {"<field>": {"value": v}}.
// File fields take an array of keys. Returns the fields as stored ({"<field>": v}).
Result<json::object> read_data(const Target& t, const json::value* data) {
  if (!data || !data->is_object()) return fail(Errc::kInvalidArgument, "data must be an object");
  json::object out;
  for (const auto& [name, wrapped] : data->as_object()) {
    auto field = t.entry->fields.find(std::string_view(name));
    if (field == t.entry->fields.end())
      return fail(Errc::kInvalidArgument, "no such field: " + std::string(name));
    const json::value* value =
        wrapped.is_object() ? wrapped.as_object().if_contains("value") : nullptr;
    if (!value)
      return fail(Errc::kInvalidArgument,
                  "field " + std::string(name) + " must be {\"value\": ...}");
    if (field->second == FieldType::kFile) {
      if (!value->is_array())
        return fail(Errc::kInvalidArgument,
                    "field " + std::string(name) + " takes an array of file keys");
      if (value->as_array().size() > kMaxFilesPerField)
        return fail(Errc::kObjectLimit, "at most 100 files per field");
      for (const auto& k : value->as_array())
        if (!k.is_string() || k.as_string().empty() || k.as_string().size() > 750)
          return fail(Errc::kInvalidArgument,
                      "field " + std::string(name) + " takes an array of file keys");
    }
    out[name] = *value;
  }
  return out;
}

std::vector<std::string> file_keys(const Target& t, const json::object& fields) {
  std::vector<std::string> keys;
  for (const auto& [name, value] : fields) {
    auto field = t.entry->fields.find(std::string_view(name));
    if (field == t.entry->fields.end() || field->second != FieldType::kFile || !value.is_array())
      continue;
    for (const auto& k : value.as_array())
      if (k.is_string()) keys.emplace_back(k.as_string());
  }
  return keys;
}

// Blocking: the object ids of a record's file keys (kObjectNotFound for a key
// that names no live file of the app, e.g. one gone with its transaction).
Result<std::vector<std::string>> resolve_keys(core::Services& s, const Target& t,
                                              const json::object& fields) {
  std::vector<std::string> ids;
  for (const std::string& key : file_keys(t, fields)) {
    auto o = s.files.get_by_key(t.app.tenant_id, t.app.id, key);
    if (!o) {
      if (o.error().code == Errc::kObjectNotFound)
        return fail(Errc::kObjectNotFound,
                    "file key " + key + " is unknown or expired with its transaction");
      return fail(o.error());
    }
    if (std::find(ids.begin(), ids.end(), o->id) != ids.end())
      return fail(Errc::kInvalidArgument, "file key " + key + " is used twice");
    ids.push_back(o->id);
  }
  return ids;
}

// Blocking: a record as data/get shows it; file fields become
// [{name, size, mime, url}] with signed, expiring download URLs.
Result<json::object> render(core::Services& s, const Target& t, const Record& r) {
  json::object d;
  d["_id"] = r.id;
  d["appId"] = r.app_id;
  d["entryId"] = r.form_id;
  d["creator"] = r.creator;
  d["updater"] = r.updater;
  d["createTime"] = format_iso8601(r.created_at);
  d["updateTime"] = format_iso8601(r.updated_at);
  boost::system::error_code ec;
  json::value stored = json::parse(r.data_json, ec);
  if (ec || !stored.is_object())
    return fail(Errc::kInternal, "record " + r.id + " has a malformed document");
  const UnixMs expires = s.clock.now() + kDownloadUrlMs;
  for (auto& [name, value] : stored.as_object()) {
    auto field = t.entry->fields.find(std::string_view(name));
    if (field == t.entry->fields.end() || field->second != FieldType::kFile || !value.is_array()) {
      d[name] = value;
      continue;
    }
    json::array files;
    for (const auto& k : value.as_array()) {
      if (!k.is_string()) continue;
      auto o = s.files.get_by_key(t.app.tenant_id, t.app.id, k.as_string());
      if (!o) {
        if (o.error().code == Errc::kObjectNotFound) continue;
        return fail(o.error());
      }
      json::object f;
      f["name"] = o->name;
      f["size"] = o->size;
      f["mime"] = o->content_type;
      f["url"] = s.public_url + s.links.path_for(o->tenant_id, o->id, expires);
      files.push_back(std::move(f));
    }
    d[name] = std::move(files);
  }
  return d;
}

std::string data_body(json::object record) {
  json::object o;
  o["data"] = std::move(record);
  return json::serialize(o);
}

std::string status_body(uint64_t count, const std::vector<Record>* created) {
  json::object o;
  o["status"] = "success";
  o["success_count"] = count;
  if (created) {
    json::array ids;
    for (const Record& r : *created) ids.emplace_back(r.id);
    o["success_ids"] = std::move(ids);
  }
  return json::serialize(o);
}

std::string deleted_body() { return R"({"status":"success"})"; }

std::string creator_of(const Caller& c, const json::object& body) {
  auto* v = body.if_contains("data_creator");
  if (v && v->is_string() && !v->as_string().empty() && v->as_string().size() <= kMaxIdBytes)
    return std::string(v->as_string());
  return c.principal.key_id;
}

// Blocking: one record per data object, bound under the transaction.
Result<std::vector<Record>> create_records(core::Services& s, const Caller& c, const Target& t,
                                           const json::object& body,
                                           const std::vector<const json::value*>& datas,
                                           const std::string& transaction_id, bool batch) {
  std::vector<Record> records;
  records.reserve(datas.size());
  for (const json::value* data : datas) {
    auto fields = read_data(t, data);
    if (!fields) return fail(fields.error());
    auto ids = resolve_keys(s, t, *fields);
    if (!ids) return fail(ids.error());
    Record r;
    r.tenant_id = t.app.tenant_id;
    r.app_id = t.app.id;
    r.form_id = t.entry_id;
    r.id = random_hex(12);
    r.data_json = json::serialize(*fields);
    r.file_ids = std::move(*ids);
    r.creator = r.updater = creator_of(c, body);
    if (batch) r.batch_key = transaction_id;
    records.push_back(std::move(r));
  }
  return s.records.insert(std::move(records), transaction_id);
}

// Blocking: applies `data` to each record (named fields replace theirs,
// others stay), rebinding the file fields under the transaction.
Result<std::vector<Record>> update_records(core::Services& s, const Caller& c, const Target& t,
                                           const std::vector<std::string>& ids,
                                           const json::value* data,
                                           const std::string& transaction_id) {
  auto fields = read_data(t, data);
  if (!fields) return fail(fields.error());
  std::vector<core::RecordUpdate> updates;
  for (const std::string& id : ids) {
    auto current = s.records.get(t.app.tenant_id, t.app.id, t.entry_id, id);
    if (!current) return fail(current.error());
    boost::system::error_code ec;
    json::value doc = json::parse(current->data_json, ec);
    if (ec || !doc.is_object())
      return fail(Errc::kInternal, "record " + id + " has a malformed document");
    for (const auto& [name, value] : *fields) doc.as_object()[name] = value;
    auto file_ids = resolve_keys(s, t, doc.as_object());
    if (!file_ids) return fail(file_ids.error());
    core::RecordUpdate u;
    u.id = id;
    u.expected_revision = current->revision;
    u.data_json = json::serialize(doc);
    u.file_ids = std::move(*file_ids);
    u.updater = c.principal.key_id;
    updates.push_back(std::move(u));
  }
  return s.records.update(t.app.tenant_id, t.app.id, t.entry_id, updates, transaction_id);
}

Result<std::vector<std::string>> data_ids(const json::object& body) {
  auto* v = body.if_contains("data_ids");
  if (!v || !v->is_array() || v->as_array().empty())
    return fail(Errc::kMissingField, "data_ids must be a non-empty array");
  if (v->as_array().size() > kMaxBatch) return fail(Errc::kTooLarge, "at most 100 data_ids");
  std::vector<std::string> ids;
  for (const auto& id : v->as_array()) {
    if (!id.is_string() || id.as_string().empty() || id.as_string().size() > kMaxIdBytes)
      return fail(Errc::kInvalidArgument, "data_ids must be strings");
    ids.emplace_back(id.as_string());
  }
  return ids;
}

// Blocking: the whole of one data API call after authentication; returns the body.
Result<std::string> run_data_api(core::Services& s, const Caller& c, Api api,
                                 const json::object& body) {
  auto t = resolve_target(s, c, body);
  if (!t) return fail(t.error());
  auto tx = transaction_member(body, false);
  if (!tx) return fail(tx.error());
  switch (api) {
    case Api::kCreate: {
      auto created = create_records(s, c, *t, body, {body.if_contains("data")}, *tx, false);
      if (!created) return fail(created.error());
      auto doc = render(s, *t, created->front());
      if (!doc) return fail(doc.error());
      return data_body(std::move(*doc));
    }
    case Api::kBatchCreate: {
      auto* list = body.if_contains("data_list");
      if (!list || !list->is_array() || list->as_array().empty())
        return fail(Errc::kMissingField, "data_list must be a non-empty array");
      if (list->as_array().size() > kMaxBatch)
        return fail(Errc::kTooLarge, "at most 100 records per batch");
      std::vector<const json::value*> datas;
      for (const auto& d : list->as_array()) datas.push_back(&d);
      auto created = create_records(s, c, *t, body, datas, *tx, true);
      if (!created) return fail(created.error());
      return status_body(created->size(), &*created);
    }
    case Api::kUpdate: {
      auto id = string_member(body, "data_id");
      if (!id) return fail(id.error());
      auto updated = update_records(s, c, *t, {*id}, body.if_contains("data"), *tx);
      if (!updated) return fail(updated.error());
      auto doc = render(s, *t, updated->front());
      if (!doc) return fail(doc.error());
      return data_body(std::move(*doc));
    }
    case Api::kBatchUpdate: {
      auto ids = data_ids(body);
      if (!ids) return fail(ids.error());
      auto updated = update_records(s, c, *t, *ids, body.if_contains("data"), *tx);
      if (!updated) return fail(updated.error());
      return status_body(updated->size(), nullptr);
    }
    case Api::kGet: {
      auto id = string_member(body, "data_id");
      if (!id) return fail(id.error());
      auto r = s.records.get(t->app.tenant_id, t->app.id, t->entry_id, *id);
      if (!r) return fail(r.error());
      auto doc = render(s, *t, *r);
      if (!doc) return fail(doc.error());
      return data_body(std::move(*doc));
    }
    case Api::kDelete: {
      auto id = string_member(body, "data_id");
      if (!id) return fail(id.error());
      UP_TRY(s.records.remove(t->app.tenant_id, t->app.id, t->entry_id, {{*id, std::nullopt}}));
      return deleted_body();
    }
    default: break;
  }
  return fail(Errc::kRouteNotFound, "no such API");
}

// Blocking: get_upload_token after authentication.
Result<std::string> run_get_upload_token(core::Services& s, const Caller& c,
                                         const json::object& body, const std::string& upload_url) {
  auto t = resolve_target(s, c, body);
  if (!t) return fail(t.error());
  auto tx_id = transaction_member(body, true);
  if (!tx_id) return fail(tx_id.error());
  // One write per call, not per token: the tokens carry the transaction.
  auto tx = s.records.open_transaction(t->app.tenant_id, t->app.id, *tx_id, kTransactionMs);
  if (!tx) return fail(tx.error());
  return token_list_body(c, *t, *tx_id, *tx, s.secrets,
                         upload_url.empty() ? s.public_url : upload_url);
}

// Company-wide then per-API limits; `blame` says which one refused.
Status check_rate(core::Services& s, const Caller& c, const Route& route, Api& blame) {
  const std::string key = "jodoo:" + c.principal.tenant_id;
  // A store error fails the request: a hit that was not counted is not allowed.
  auto company = s.rate_limiter.hit(key, c.settings.rate_limit("global"), kRateWindowMs);
  if (!company) return fail(company.error());
  if (!company->allowed) {
    blame = Api::kCompany;
    return fail(Errc::kRateLimited, "company limit reached");
  }
  auto api = s.rate_limiter.hit(key + ":" + route.rate_name, c.settings.rate_limit(route.rate_name),
                                kRateWindowMs);
  if (!api) return fail(api.error());
  if (!api->allowed) return fail(Errc::kRateLimited, "API limit reached");
  return ok();
}

// Blocking: one admitted API call, from its raw JSON body to the answer's body.
Result<std::string> run_api(core::Services& s, const Caller& c, Api api, const std::string& raw,
                            const std::string& upload_url) {
  boost::system::error_code ec;
  json::value body = json::parse(raw, ec);
  if (ec || !body.is_object()) return fail(Errc::kBadJson, "the body must be a JSON object");
  if (api == Api::kGetUploadToken) return run_get_upload_token(s, c, body.as_object(), upload_url);
  return run_data_api(s, c, api, body.as_object());
}

class JodooHandler final : public http::Handler {
 public:
  JodooHandler(core::Services& services, Options options)
      : s_(services), upload_url_(std::move(options.upload_url)),
        callbacks_(std::move(options.callback_allow), options.callback_timeout), resumable_{
                                                                                     s_, callbacks_,
                                                                                     upload_url_} {}

  // http::Handler
  bool matches(std::string_view, std::string_view path) const override {
    return path == "/" || path.starts_with(kPrefix) || is_resumable_path(path);
  }

  net::awaitable<void> handle(Exchange& ex) override {
    if (ex.path() == "/") co_return co_await serve_form_upload(ex, s_, callbacks_);
    if (is_resumable_path(ex.path())) co_return co_await serve_resumable(ex, resumable_);
    const auto route = route_of(ex.path().substr(kPrefix.size()));
    if (!route)
      co_return co_await fail_with(ex, Error(Errc::kRouteNotFound, "no such API"), Api::kOther);
    if (ex.method() != "POST")
      co_return co_await fail_with(ex, Error(Errc::kMethodNotAllowed, "use POST"), route->api);
    // get_upload_token's body is small: read it first and do everything else
    // in one trip to the blocking pool (each trip is two thread switches, a
    // large share of this hot path's cost). Larger bodies wait until the
    // caller is authenticated.
    std::optional<Caller> caller;
    Api blame = route->api;
    auto admit = [&]() -> Status {
      auto c = authenticate(s_, ex.header("Authorization"));
      if (!c) return fail(c.error());
      caller.emplace(std::move(*c));
      return check_rate(s_, *caller, *route, blame);
    };
    Result<std::string> answer;
    if (route->api == Api::kGetUploadToken) {
      auto raw = co_await ex.read_all(kMaxSmallBodyBytes);
      if (!raw) co_return co_await fail_with(ex, raw.error(), Api::kOther);
      answer = co_await blocking(ex, [&]() -> Result<std::string> {
        UP_TRY(admit());
        return run_api(s_, *caller, route->api, *raw, upload_url_);
      });
    } else {
      auto admitted = co_await blocking(ex, admit);
      if (!admitted) {
        if (caller) ex.log_field("tenant", caller->principal.tenant_id);
        co_return co_await fail_with(ex, admitted.error(), blame);
      }
      auto raw = co_await ex.read_all(kMaxBodyBytes);
      if (!raw) co_return co_await fail_with(ex, raw.error(), Api::kOther);
      answer = co_await blocking(
          ex, [&] { return run_api(s_, *caller, route->api, *raw, upload_url_); });
    }
    if (caller) ex.log_field("tenant", caller->principal.tenant_id);
    if (!answer) co_return co_await fail_with(ex, answer.error(), blame);
    co_await ex.send(http::json_response(200, std::move(*answer)));
  }

 private:
  static net::awaitable<void> fail_with(Exchange& ex, const Error& e, Api api) {
    http::log_if_internal(ex, e);
    co_await ex.send(jodoo_error_response(e, api));
  }

  core::Services& s_;
  std::string upload_url_;
  CallbackClient callbacks_;
  ResumableContext resumable_;
};

}  // namespace

http::HandlerPtr make_handler(core::Services& services, Options options) {
  return std::make_unique<JodooHandler>(services, std::move(options));
}

Result<Credentials> credentials(core::Services& services, std::string_view tenant_id) {
  auto tenant = services.directory.tenant(tenant_id);
  if (!tenant) return fail(tenant.error());
  const uint32_t version = parse_tenant_settings(tenant->settings_json).key_version;
  Credentials c;
  c.access_key = access_key(tenant_id, version);
  c.secret_key = secret_key(services.secrets, tenant_id, version);
  return c;
}

}  // namespace up::dialects::jodoo
