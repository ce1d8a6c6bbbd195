#include "dialects/kintone/api.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"
#include "dialects/kintone/cursor_state.h"
#include "dialects/kintone/params.h"
#include "dialects/kintone/record_writer.h"
#include "http/header_params.h"

namespace up::dialects::kintone {
namespace json = boost::json;
namespace {

constexpr int kUpdateAttempts =
    5;  // re-reads after a concurrent update when the client sent no revision

KResult<std::string> required_id(const json::object& p, const char* name) {
  auto v = id_param(p, name);
  if (!v) return invalid(name, v.error().message);
  if (!*v) return invalid(name, "Required.");
  return std::to_string(**v);
}

// kintone writes times without fractions: "2026-12-01T20:00:00Z".
std::string kintone_time(UnixMs t) {
  std::string s = format_iso8601(t);
  if (auto dot = s.find('.'); dot != std::string::npos) s = s.substr(0, dot) + "Z";
  return s;
}

json::object typed(std::string_view type, json::value value) {
  json::object o;
  o["type"] = type;
  o["value"] = std::move(value);
  return o;
}

json::object user_value(const std::string& name) {
  json::object o;
  o["code"] = name;
  o["name"] = name;
  return o;
}

bool wanted(const std::vector<std::string>& fields, std::string_view code) {
  return fields.empty() || std::find(fields.begin(), fields.end(), code) != fields.end();
}

json::object record_json(const Record& r, const AppSettings& app,
                         const std::vector<std::string>& fields) {
  json::object data = data_of(r);
  json::object out;
  for (const FieldDef& f : app.fields) {
    if (!wanted(fields, f.code)) continue;
    if (f.type == "RECORD_NUMBER") out[f.code] = typed(f.type, json::string(std::to_string(r.seq)));
    else if (f.type == "CREATED_TIME")
      out[f.code] = typed(f.type, json::string(kintone_time(r.created_at)));
    else if (f.type == "UPDATED_TIME")
      out[f.code] = typed(f.type, json::string(kintone_time(r.updated_at)));
    else if (f.type == "CREATOR") out[f.code] = typed(f.type, user_value(r.creator));
    else if (f.type == "MODIFIER")
      out[f.code] = typed(f.type, user_value(r.updater.empty() ? r.creator : r.updater));
    else if (auto* v = data.if_contains(f.code)) out[f.code] = typed(f.type, *v);
    else if (is_list_type(f.type) || f.type == "SUBTABLE")
      out[f.code] = typed(f.type, json::array());
    else out[f.code] = typed(f.type, json::string());
  }
  if (wanted(fields, "$id")) out["$id"] = typed("__ID__", json::string(std::to_string(r.seq)));
  if (wanted(fields, "$revision"))
    out["$revision"] = typed("__REVISION__", json::string(std::to_string(r.revision)));
  return out;
}

KResult<std::vector<std::string>> field_list(const json::object& p) {
  std::vector<std::string> out;
  const json::value* v = p.if_contains("fields");
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return invalid("fields", "Must be an array of field codes.");
  for (const auto& f : v->as_array()) {
    if (!f.is_string()) return invalid("fields", "Must be an array of field codes.");
    out.emplace_back(f.as_string());
  }
  if (out.size() > 1000) return invalid("fields", "Too many field codes.");
  return out;
}

// What GET records.json and POST records/cursor.json both take.
struct RecordsRead {
  std::string app_id;
  std::vector<std::string> fields;
  RecordQuerySpec query;
};

KResult<RecordsRead> records_read(const json::object& p) {
  auto app_id = required_id(p, "app");
  if (!app_id) return refuse(app_id.error());
  auto fields = field_list(p);
  if (!fields) return refuse(fields.error());
  std::string query_text;
  if (auto* q = p.if_contains("query"); q && !q->is_null()) {
    if (!q->is_string()) return invalid("query", "Must be a string.");
    query_text = std::string(q->as_string());
  }
  auto query = parse_query(query_text);
  if (!query) return invalid("query", query.error().message);
  return RecordsRead{std::move(*app_id), std::move(*fields), *query};
}

// The records of an app a kintone query selects, in its order and from its offset.
core::RecordQuery records_query(const std::string& tenant_id, const std::string& app_id,
                                const RecordQuerySpec& spec) {
  core::RecordQuery q;
  q.tenant_id = tenant_id;
  q.app_id = app_id;
  q.after_seq = spec.after_id;
  q.descending = spec.descending;
  q.offset = spec.offset;
  return q;
}

// Revision from a write: absent, null or -1 means "do not check".
KResult<std::optional<uint64_t>> revision_param(const json::object& p, const std::string& path) {
  const json::value* v = p.if_contains("revision");
  if (!v || v->is_null()) return std::optional<uint64_t>();
  if ((v->is_int64() && v->as_int64() == -1) || (v->is_string() && v->as_string() == "-1"))
    return std::optional<uint64_t>();
  auto r = id_param(p, "revision");
  if (!r) return invalid(path.empty() ? "revision" : path + ".revision", "Must be an integer.");
  return *r;
}

struct UpdateItem {
  std::string id;
  std::optional<uint64_t> revision;  // the client's
  const json::value* record = nullptr;
  std::string path;  // errors prefix for the item
};

json::object id_revision(const Record& r) {
  json::object o;
  o["id"] = std::to_string(r.seq);
  o["revision"] = std::to_string(r.revision);
  return o;
}

// "/k/v1/records.json" or "/k/guest/5/v1/records.json" -> ("5", "records").
std::optional<std::pair<std::string, std::string>> split_api(std::string_view api) {
  if (!api.starts_with("/k/")) return std::nullopt;
  api.remove_prefix(3);
  std::string guest;
  if (api.starts_with("guest/")) {
    api.remove_prefix(6);
    const size_t slash = api.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    guest = std::string(api.substr(0, slash));
    api.remove_prefix(slash + 1);
  }
  if (!api.starts_with("v1/") || !api.ends_with(".json")) return std::nullopt;
  api.remove_prefix(3);
  api.remove_suffix(5);
  return std::make_pair(guest, std::string(api));
}

}  // namespace

Api::Api(core::Services& services, Authenticator& auth) : s_(services), auth_(auth) {}

KResult<json::value> Api::call(const Caller& c, std::string_view method, std::string_view endpoint,
                               const json::object& p) {
  if (endpoint == "record") {
    if (method == "GET") return get_record(c, p);
    if (method == "POST") return add(c, endpoint, p);
    if (method == "PUT") return update_record(c, p);
  } else if (endpoint == "records") {
    if (method == "GET") return get_records(c, p);
    if (method == "POST") return add(c, endpoint, p);
    if (method == "PUT") return update_records(c, p);
    if (method == "DELETE") return delete_records(c, p);
  } else if (endpoint == "records/cursor") {
    if (method == "POST") return create_cursor(c, p);
    if (method == "GET") return read_cursor(c, p);
    if (method == "DELETE") return delete_cursor(c, p);
  } else if (endpoint == "bulkRequest") {
    if (method == "POST") return bulk(c, p);
  } else if (endpoint == "app") {
    if (method == "GET") return app_info(c, p);
  } else if (endpoint == "app/form/fields" || endpoint == "preview/app/form/fields") {
    if (method == "GET") return form_fields(c, p);
  } else if (endpoint == "app/form/layout" || endpoint == "preview/app/form/layout") {
    if (method == "GET") return form_layout(c, p);
  } else {
    return fail(Errc::kRouteNotFound, "The API (" + std::string(endpoint) + ") does not exist.");
  }
  return fail(Errc::kMethodNotAllowed, "The API does not accept " + std::string(method) + ".");
}

KResult<json::value> Api::get_record(const Caller& c, const json::object& p) {
  auto app_id = required_id(p, "app");
  if (!app_id) return refuse(app_id.error());
  auto id = required_id(p, "id");
  if (!id) return refuse(id.error());
  auto app = auth_.open_app(c, *app_id, Need::kView);
  if (!app) return refuse(app.error());
  auto r = s_.records.get(c.tenant_id, *app_id, "", *id);
  if (!r) {
    if (r.error().code == Errc::kRecordNotFound)
      return fail(Errc::kRecordNotFound, "The record (ID: " + *id + ") not found.");
    return fail(r.error());
  }
  json::object out;
  out["record"] = record_json(*r, app->settings, {});
  return json::value(std::move(out));
}

KResult<std::vector<Record>> Api::build_additions(const Caller& c, std::string_view endpoint,
                                                  const json::object& p) {
  // record.json is records.json with one record and errors named "record.<code>.value".
  const bool single = endpoint == "record";
  auto renamed = [single](Failure f) {
    if (single && f.field.starts_with("records[0]")) f.field = "record" + f.field.substr(10);
    return refuse(std::move(f));
  };
  auto app_id = required_id(p, "app");
  if (!app_id) return refuse(app_id.error());
  json::array one;
  const json::array* list = &one;
  if (single) {
    one.push_back(p.contains("record") ? p.at("record") : json::value(json::object()));
  } else {
    const json::value* v = p.if_contains("records");
    if (!v || !v->is_array() || v->as_array().empty()) return invalid("records", "Required.");
    list = &v->as_array();
    if (list->size() > kMaxWriteRecords)
      return invalid("records", "A request may add at most 100 records.");
  }
  auto app = auth_.open_app(c, *app_id, Need::kAdd);
  if (!app) return refuse(app.error());
  std::vector<Record> records;
  for (size_t i = 0; i < list->size(); ++i) {
    RecordWriter w(s_, c, *app, nullptr);
    // records.json items are the record itself: {"code": {"value": ...}}.
    if (auto st = w.apply(&(*list)[i], "records[" + std::to_string(i) + "]", true); !st)
      return renamed(st.error());
    Record r;
    r.tenant_id = c.tenant_id;
    r.app_id = *app_id;
    r.data_json = w.data_json();
    r.file_ids = w.file_ids();
    r.creator = c.name();
    r.updater = c.name();
    records.push_back(std::move(r));
  }
  return records;
}

namespace {

// What record.json / records.json answer for the records they added.
json::value addition_result(std::string_view endpoint, const Record* first, size_t count) {
  json::object out;
  if (endpoint == "record") {
    out["id"] = std::to_string(first->seq);
    out["revision"] = std::to_string(first->revision);
    return out;
  }
  json::array ids, revisions;
  for (size_t i = 0; i < count; ++i) {
    ids.emplace_back(std::to_string(first[i].seq));
    revisions.emplace_back(std::to_string(first[i].revision));
  }
  out["ids"] = std::move(ids);
  out["revisions"] = std::move(revisions);
  return out;
}

}  // namespace

KResult<json::value> Api::add(const Caller& c, std::string_view endpoint, const json::object& p) {
  auto records = build_additions(c, endpoint, p);
  if (!records) return refuse(records.error());
  auto stored = s_.records.insert(std::move(*records));
  if (!stored) return fail(stored.error());
  return addition_result(endpoint, stored->data(), stored->size());
}

KResult<json::value> Api::update_record(const Caller& c, const json::object& p) {
  json::object records_params;
  if (auto* app = p.if_contains("app")) records_params["app"] = *app;
  json::object item;
  for (const char* name : {"id", "updateKey", "record", "revision"})
    if (auto* v = p.if_contains(name)) item[name] = *v;
  json::array one;
  one.push_back(std::move(item));
  records_params["records"] = std::move(one);
  auto updated = update_records(c, records_params);
  if (!updated) {
    Failure f = updated.error();
    if (f.field.starts_with("records[0].")) f.field = f.field.substr(11);
    return refuse(std::move(f));
  }
  json::object out;
  out["revision"] = updated->at("records").as_array().at(0).at("revision");
  return json::value(std::move(out));
}

// The id of the one record whose field holds the value. kintone requires the
// field to be unique; upgate has no index on it, so it reads the app's records.
KResult<std::string> Api::find_by_update_key(const Caller& c, const AppAccess& app,
                                             const json::value& key, const std::string& path) {
  const json::value* field = key.is_object() ? key.as_object().if_contains("field") : nullptr;
  const json::value* value = key.is_object() ? key.as_object().if_contains("value") : nullptr;
  if (!field || !field->is_string()) return invalid(path + ".field", "Required.");
  if (!value || !(value->is_string() || value->is_number()))
    return invalid(path + ".value", "Required.");
  const FieldDef* def = app.settings.field(field->as_string());
  if (!def || (def->type != "SINGLE_LINE_TEXT" && def->type != "NUMBER"))
    return invalid(path + ".field", "Must be a text or number field of the app.");
  const std::string wanted_value =
      value->is_string() ? std::string(value->as_string()) : json::serialize(*value);
  core::RecordQuery q;
  q.tenant_id = c.tenant_id;
  q.app_id = app.app.id;
  q.descending = false;
  q.limit = 500;
  std::optional<uint64_t> found;
  for (;;) {
    auto page = s_.records.list(q);
    if (!page) return fail(page.error());
    for (const Record& r : page->records) {
      const json::object data = data_of(r);
      const json::value* v = data.if_contains(def->code);
      if (!v || !v->is_string() || v->as_string() != wanted_value) continue;
      if (found) return invalid(path, "More than one record has this value.");
      found = r.seq;
    }
    if (page->records.size() < q.limit) break;
    q.after_seq = page->records.back().seq;
  }
  if (!found)
    return refuse(Failure(
        Error(Errc::kRecordNotFound, "No record has " + def->code + " = " + wanted_value + ".")));
  return std::to_string(*found);
}

KResult<json::value> Api::update_records(const Caller& c, const json::object& p) {
  auto app_id = required_id(p, "app");
  if (!app_id) return refuse(app_id.error());
  if (auto upsert = bool_param(p, "upsert"); !upsert || *upsert)
    return invalid("upsert", "upsert is not supported by upgate; update by id.");
  const json::value* list = p.if_contains("records");
  if (!list || !list->is_array() || list->as_array().empty())
    return invalid("records", "Required.");
  if (list->as_array().size() > kMaxWriteRecords)
    return invalid("records", "A request may update at most 100 records.");
  auto app = auth_.open_app(c, *app_id, Need::kEdit);
  if (!app) return refuse(app.error());

  std::vector<UpdateItem> items;
  std::set<std::string> ids;
  for (size_t i = 0; i < list->as_array().size(); ++i) {
    const std::string path = "records[" + std::to_string(i) + "]";
    const json::value& v = list->as_array()[i];
    if (!v.is_object()) return invalid(path, "Must be an object.");
    const json::object& o = v.as_object();
    KResult<std::string> id = std::string();
    if (o.contains("updateKey") && !o.contains("id")) {
      id = find_by_update_key(c, *app, o.at("updateKey"), path + ".updateKey");
      if (!id) return refuse(id.error());
    } else {
      id = required_id(o, "id");
      if (!id) {
        Failure f = id.error();
        f.field = path + ".id";
        return refuse(std::move(f));
      }
    }
    if (!ids.insert(*id).second) return invalid(path + ".id", "The same record is given twice.");
    auto rev = revision_param(o, path);
    if (!rev) return refuse(rev.error());
    items.push_back({*id, *rev, o.if_contains("record"), path + ".record"});
  }

  // Fields not sent keep their values, so each update merges into the record
  // as read; when the client sent no revision, the one read is checked so a
  // concurrent update is never overwritten but retried.
  for (int attempt = 0;; ++attempt) {
    std::vector<core::RecordUpdate> updates;
    bool client_checked = true;
    for (const UpdateItem& item : items) {
      auto existing = s_.records.get(c.tenant_id, *app_id, "", item.id);
      if (!existing) {
        if (existing.error().code == Errc::kRecordNotFound)
          return refuse(
              Failure(Error(Errc::kRecordNotFound, "The record (ID: " + item.id + ") not found.")));
        return fail(existing.error());
      }
      if (item.revision && *item.revision != existing->revision)
        return fail(Errc::kRevisionConflict,
                    "revision " + std::to_string(*item.revision) + " is not the latest");
      client_checked = client_checked && item.revision.has_value();
      RecordWriter w(s_, c, *app, &*existing);
      if (auto st = w.apply(item.record, item.path, false); !st) return refuse(st.error());
      core::RecordUpdate u;
      u.id = item.id;
      u.expected_revision = existing->revision;
      u.data_json = w.data_json();
      u.file_ids = w.file_ids();
      u.updater = c.name();
      updates.push_back(std::move(u));
    }
    auto stored = s_.records.update(c.tenant_id, *app_id, "", updates);
    if (!stored && stored.error().code == Errc::kRevisionConflict && !client_checked &&
        attempt + 1 < kUpdateAttempts)
      continue;
    if (!stored) return fail(stored.error());
    json::array out_records;
    for (const Record& r : *stored) out_records.push_back(id_revision(r));
    json::object out;
    out["records"] = std::move(out_records);
    return json::value(std::move(out));
  }
}

KResult<json::value> Api::get_records(const Caller& c, const json::object& p) {
  auto read = records_read(p);
  if (!read) return refuse(read.error());
  auto total = bool_param(p, "totalCount");
  if (!total) return invalid("totalCount", total.error().message);
  auto app = auth_.open_app(c, read->app_id, Need::kView);
  if (!app) return refuse(app.error());
  core::RecordQuery q = records_query(c.tenant_id, read->app_id, read->query);
  q.limit = static_cast<uint32_t>(read->query.limit.value_or(100));
  q.with_total = *total;
  auto page = s_.records.list(q);
  if (!page) return fail(page.error());
  json::array records;
  for (const Record& r : page->records)
    records.push_back(record_json(r, app->settings, read->fields));
  json::object out;
  out["records"] = std::move(records);
  if (page->total) out["totalCount"] = std::to_string(*page->total);
  else out["totalCount"] = nullptr;
  return json::value(std::move(out));
}

KResult<json::value> Api::delete_records(const Caller& c, const json::object& p) {
  auto app_id = required_id(p, "app");
  if (!app_id) return refuse(app_id.error());
  const json::value* ids = p.if_contains("ids");
  if (!ids || !ids->is_array() || ids->as_array().empty()) return invalid("ids", "Required.");
  if (ids->as_array().size() > kMaxWriteRecords)
    return invalid("ids", "A request may delete at most 100 records.");
  const json::value* revisions = p.if_contains("revisions");
  if (revisions && !revisions->is_null() &&
      (!revisions->is_array() || revisions->as_array().size() != ids->as_array().size()))
    return invalid("revisions", "Must have one revision per id.");
  auto app = auth_.open_app(c, *app_id, Need::kDelete);
  if (!app) return refuse(app.error());
  std::vector<std::pair<std::string, std::optional<uint64_t>>> items;
  for (size_t i = 0; i < ids->as_array().size(); ++i) {
    json::object one;
    one["id"] = ids->as_array()[i];
    if (revisions && revisions->is_array()) one["revision"] = revisions->as_array()[i];
    auto id = required_id(one, "id");
    if (!id) return invalid("ids[" + std::to_string(i) + "]", "Must be a record id.");
    auto rev = revision_param(one, "");
    if (!rev) return invalid("revisions[" + std::to_string(i) + "]", "Must be an integer.");
    items.emplace_back(*id, *rev);
  }
  auto st = s_.records.remove(c.tenant_id, *app_id, "", items);
  if (!st) return fail(st.error());
  return json::value(json::object());
}

KResult<json::value> Api::create_cursor(const Caller& c, const json::object& p) {
  auto read = records_read(p);
  if (!read) return refuse(read.error());
  auto size = id_param(p, "size");
  if (!size) return invalid("size", size.error().message);
  if (*size && (**size == 0 || **size > kMaxReadRecords))
    return invalid("size", "Must be from 1 to 500.");
  auto app = auth_.open_app(c, read->app_id, Need::kView);
  if (!app) return refuse(app.error());
  // Counts what the query selects: ordering and offset do not change the total.
  core::RecordQuery q = records_query(c.tenant_id, read->app_id, read->query);
  q.descending = false;
  q.offset = 0;
  q.limit = 1;
  q.with_total = true;
  auto page = s_.records.list(q);
  if (!page) return fail(page.error());
  uint64_t total = page->total.value_or(0);
  total = total > read->query.offset ? total - read->query.offset : 0;
  if (read->query.limit) total = std::min(total, *read->query.limit);

  CursorRead kept;
  kept.fields = std::move(read->fields);
  kept.query = read->query;
  kept.size = size->value_or(100);
  kept.total = total;
  core::Cursor cursor;
  cursor.id = random_token(32);
  cursor.tenant_id = c.tenant_id;
  cursor.owner = c.identity();
  cursor.app_id = read->app_id;
  cursor.state = cursor_state(kept);
  cursor.expires_at = s_.clock.now() + kCursorLifetimeMs;
  // In the metadata store: any process may serve the next read.
  if (auto st = s_.cursors.open(cursor, kMaxCursors); !st) {
    if (st.error().code == Errc::kRateLimited)
      return fail(Errc::kRateLimited, "Too many cursors are open; delete some first.");
    return fail(st.error());
  }
  json::object out;
  out["id"] = cursor.id;
  out["totalCount"] = std::to_string(total);
  return json::value(std::move(out));
}

KResult<json::value> Api::read_cursor(const Caller& c, const json::object& p) {
  const json::value* idv = p.if_contains("id");
  if (!idv || !idv->is_string()) return invalid("id", "Required.");
  const std::string id(idv->as_string());
  const auto gone = [&] {
    return invalid("id", "The cursor (" + id + ") does not exist or has expired.");
  };
  auto cursor = s_.cursors.get(c.tenant_id, id);
  if (!cursor) {
    if (cursor.error().code == Errc::kNotFound) return gone();
    return fail(cursor.error());
  }
  if (cursor->owner != c.identity()) return gone();
  auto kept = parse_cursor_state(cursor->state);
  if (!kept) return fail(kept.error());
  auto app = auth_.open_app(c, cursor->app_id, Need::kView);
  if (!app) return refuse(app.error());
  const uint64_t remaining = kept->total - std::min(kept->total, cursor->position);
  core::RecordQuery q = records_query(c.tenant_id, cursor->app_id, kept->query);
  q.offset += cursor->position;
  q.limit = static_cast<uint32_t>(std::min(kept->size, remaining));
  json::array records;
  if (q.limit > 0) {
    auto page = s_.records.list(q);
    if (!page) return fail(page.error());
    for (const Record& r : page->records)
      records.push_back(record_json(r, app->settings, kept->fields));
  }
  const uint64_t served = cursor->position + records.size();
  const bool next = !records.empty() && served < kept->total;
  if (next) {
    // Moved only from where this read started: of two reads racing on one
    // cursor, one serves the page and the other finds the cursor moved.
    if (auto st = s_.cursors.advance(c.tenant_id, id, cursor->position, served); !st) {
      if (st.error().code == Errc::kNotFound) return gone();
      return fail(st.error());
    }
  } else if (auto st = s_.cursors.close(c.tenant_id, id);
             !st && st.error().code != Errc::kNotFound) {
    return fail(st.error());
  }
  json::object out;
  out["records"] = std::move(records);
  out["next"] = next;
  return json::value(std::move(out));
}

KResult<json::value> Api::delete_cursor(const Caller& c, const json::object& p) {
  const json::value* idv = p.if_contains("id");
  if (!idv || !idv->is_string()) return invalid("id", "Required.");
  const std::string id(idv->as_string());
  const auto gone = [] { return invalid("id", "The cursor does not exist or has expired."); };
  auto cursor = s_.cursors.get(c.tenant_id, id);
  if (!cursor) {
    if (cursor.error().code == Errc::kNotFound) return gone();
    return fail(cursor.error());
  }
  if (cursor->owner != c.identity()) return gone();
  if (auto st = s_.cursors.close(c.tenant_id, id); !st) {
    if (st.error().code == Errc::kNotFound) return gone();
    return fail(st.error());
  }
  return json::value(json::object());
}

// Additions only: one all-or-nothing insert. Otherwise the requests run in
// order and stop at the first failure; unlike kintone, the ones before it stay
// done (each one alone is all-or-nothing).
KResult<json::value> Api::bulk(const Caller& c, const json::object& p) {
  const json::value* list = p.if_contains("requests");
  if (!list || !list->is_array() || list->as_array().empty())
    return invalid("requests", "Required.");
  const auto& requests = list->as_array();
  if (requests.size() > kMaxBulkRequests)
    return invalid("requests", "A bulk request may hold at most 20 requests.");
  // Parse every request first: a malformed one fails the bulk before anything runs.
  struct Sub {
    std::string method, endpoint;
    const json::object* payload;
  };
  std::vector<Sub> subs;
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string path = "requests[" + std::to_string(i) + "]";
    const json::value& r = requests[i];
    const json::value* method = r.is_object() ? r.as_object().if_contains("method") : nullptr;
    const json::value* api = r.is_object() ? r.as_object().if_contains("api") : nullptr;
    const json::value* payload = r.is_object() ? r.as_object().if_contains("payload") : nullptr;
    if (!method || !method->is_string()) return invalid(path + ".method", "Required.");
    if (!api || !api->is_string()) return invalid(path + ".api", "Required.");
    if (!payload || !payload->is_object()) return invalid(path + ".payload", "Required.");
    auto target = split_api(api->as_string());
    if (!target || target->first != c.guest_space_id ||
        (target->second != "record" && target->second != "records"))
      return invalid(path + ".api", "Not an API bulkRequest can run here.");
    subs.push_back({std::string(method->as_string()), target->second, &payload->as_object()});
  }
  // kintone answers the failing request's error at its index and {} elsewhere.
  auto failed_at = [&](size_t i, Failure f) {
    json::array failed;
    for (size_t j = 0; j < subs.size(); ++j) {
      if (j != i) {
        failed.emplace_back(json::object());
        continue;
      }
      boost::system::error_code ec;
      failed.push_back(json::parse(error_body(f), ec));
    }
    json::object body;
    body["results"] = std::move(failed);
    f.body = json::serialize(body);
    return refuse(std::move(f));
  };

  json::array results;
  const bool additions_only =
      std::all_of(subs.begin(), subs.end(), [](const Sub& s) { return s.method == "POST"; });
  if (additions_only) {
    // One insert for them all (what @kintone/cli's import sends): all or nothing, as kintone.
    std::vector<Record> all;
    std::vector<size_t> counts;
    for (size_t i = 0; i < subs.size(); ++i) {
      auto records = build_additions(c, subs[i].endpoint, *subs[i].payload);
      if (!records) return failed_at(i, records.error());
      counts.push_back(records->size());
      std::move(records->begin(), records->end(), std::back_inserter(all));
    }
    auto stored = s_.records.insert(std::move(all));
    if (!stored) return failed_at(0, Failure(stored.error()));
    size_t at = 0;
    for (size_t i = 0; i < subs.size(); ++i) {
      results.push_back(addition_result(subs[i].endpoint, stored->data() + at, counts[i]));
      at += counts[i];
    }
  } else {
    for (size_t i = 0; i < subs.size(); ++i) {
      auto result = call(c, subs[i].method, subs[i].endpoint, *subs[i].payload);
      if (!result) return failed_at(i, result.error());
      results.push_back(std::move(*result));
    }
  }
  json::object out;
  out["results"] = std::move(results);
  return json::value(std::move(out));
}

KResult<AppAccess> Api::app_settings(const Caller& c, const json::object& p, const char* name) {
  auto app_id = required_id(p, name);
  if (!app_id) return refuse(app_id.error());
  return auth_.open_app(c, *app_id, Need::kAny);
}

KResult<json::value> Api::app_info(const Caller& c, const json::object& p) {
  auto app = app_settings(c, p, "id");
  if (!app) return refuse(app.error());
  const std::string& space = app->settings.guest_space_id;
  return json::value(
      json::object{{"appId", app->app.id},
                   {"code", ""},
                   {"name", app->app.name.empty() ? app->app.id : app->app.name},
                   {"description", ""},
                   {"spaceId", space.empty() ? json::value(nullptr) : json::value(space)},
                   {"threadId", nullptr},
                   {"createdAt", kintone_time(app->app.created_at)},
                   {"creator", user_value("administrator")},
                   {"modifiedAt", kintone_time(app->app.created_at)},
                   {"modifier", user_value("administrator")}});
}

KResult<json::value> Api::form_fields(const Caller& c, const json::object& p) {
  auto app = app_settings(c, p, "app");
  if (!app) return refuse(app.error());
  json::object properties;
  for (const FieldDef& f : app->settings.fields) {
    json::object prop{{"type", f.type},
                      {"code", f.code},
                      {"label", f.label},
                      {"noLabel", false},
                      {"required", f.required}};
    if (f.type == "FILE") prop["thumbnailSize"] = "150";
    properties[f.code] = std::move(prop);
  }
  return json::value(json::object{{"properties", std::move(properties)}, {"revision", "1"}});
}

KResult<json::value> Api::form_layout(const Caller& c, const json::object& p) {
  auto app = app_settings(c, p, "app");
  if (!app) return refuse(app.error());
  json::array layout;
  for (const FieldDef& f : app->settings.fields) {
    if (f.type == "RECORD_NUMBER" || f.type == "CREATED_TIME" || f.type == "UPDATED_TIME" ||
        f.type == "CREATOR" || f.type == "MODIFIER" || f.type == "STATUS" ||
        f.type == "STATUS_ASSIGNEE" || f.type == "CATEGORY")
      continue;  // kintone lays these out outside the form
    json::object field{
        {"type", f.type}, {"code", f.code}, {"size", json::object{{"width", "200"}}}};
    layout.push_back(json::object{{"type", "ROW"}, {"fields", json::array{std::move(field)}}});
  }
  return json::value(json::object{{"layout", std::move(layout)}, {"revision", "1"}});
}

namespace {

// Built only when answered: a download that succeeds makes no message.
tl::unexpected<Failure> file_not_found(std::string_view file_key) {
  return refuse(Failure(Error(Errc::kObjectNotFound,
                              "The file (fileKey: " + std::string(file_key) + ") not found.")));
}

}  // namespace

KResult<Object> Api::downloadable(const Caller& c, std::string_view file_key) {
  if (!http::plain_token(file_key, 128)) return file_not_found(file_key);
  Result<Object> o = s_.files.get(c.tenant_id, file_key);
  if (!o) {
    if (o.error().code == Errc::kObjectNotFound) return file_not_found(file_key);
    return fail(o.error());
  }
  if (o->state != ObjectState::kAttached) return file_not_found(file_key);
  auto app = auth_.open_app(c, o->app_id, Need::kView);
  if (!app) {
    if (app.error().error.code == Errc::kAppNotFound) return file_not_found(file_key);
    return refuse(std::move(app.error()));
  }
  return std::move(*o);
}

std::optional<KResult<std::shared_ptr<const Object>>> Api::downloadable_cached(
    const Caller& c, std::string_view file_key) {
  if (!http::plain_token(file_key, 128)) return file_not_found(file_key);
  // Handed out as the cache holds it: copying the object was ~8% of a GET.
  auto hit = s_.files.get_cached(c.tenant_id, file_key);
  // A miss, or not attached when cached: the store has the last word.
  if (!hit || hit->state != ObjectState::kAttached) return std::nullopt;
  // Only the yes or no: the app and its settings are not copied out of the cache.
  auto allowed = auth_.may_open_cached(c, hit->app_id, Need::kView);
  if (!allowed) return std::nullopt;
  if (!*allowed) {
    if (allowed->error().error.code == Errc::kAppNotFound) return file_not_found(file_key);
    return refuse(std::move(allowed->error()));
  }
  return hit;
}

}  // namespace up::dialects::kintone
