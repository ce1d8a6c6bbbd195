#include "dialects/kintone/record_writer.h"

#include <algorithm>
#include <set>
#include <utility>

#include <boost/json.hpp>

#include "core/services.h"
#include "http/header_params.h"

namespace up::dialects::kintone {

namespace json = boost::json;

namespace {

bool numeric_text(std::string_view s) {
  if (s.empty()) return true;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') digits = true;
    else if (s[i] == '.' && !dot) dot = true;
    else return false;
  }
  return digits;
}

}  // namespace

tl::unexpected<Failure> invalid(std::string field, std::string message) {
  return refuse(Failure(Error(Errc::kInvalidArgument, std::move(message)), std::move(field)));
}

json::object data_of(const Record& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.data_json, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

KResult<void> RecordWriter::apply(const json::value* record, const std::string& path, bool adding) {
  if (record && !record->is_null() && !record->is_object())
    return invalid(path, "Must be an object.");
  if (record && record->is_object()) {
    for (const auto& [code, field] : record->as_object()) {
      const std::string key = path + "." + std::string(code) + ".value";
      const FieldDef* def = app_.settings.field(code);
      if (!def) return invalid(key, "The field (code: " + std::string(code) + ") not found.");
      if (is_system_type(def->type)) continue;
      if (!field.is_object() || !field.as_object().contains("value"))
        return invalid(key, "Must be an object with a value.");
      auto value = field_value(*def, field.as_object().at("value"), key);
      if (!value) return refuse(value.error());
      data_[def->code] = std::move(*value);
    }
  }
  if (adding) {
    for (const FieldDef& f : app_.settings.fields) {
      if (!f.required || is_system_type(f.type)) continue;
      const json::value* v = data_.if_contains(f.code);
      const bool empty = !v || (v->is_string() && v->as_string().empty()) ||
                         (v->is_array() && v->as_array().empty());
      if (empty) return invalid(path + "." + f.code + ".value", "Required.");
    }
  }
  return {};
}

std::string RecordWriter::data_json() const { return json::serialize(data_); }

std::vector<std::string> RecordWriter::file_ids() const {
  std::vector<std::string> ids;
  for (const FieldDef& f : app_.settings.fields) {
    if (f.type != "FILE") continue;
    const json::value* v = data_.if_contains(f.code);
    if (!v || !v->is_array()) continue;
    for (const auto& item : v->as_array())
      if (item.is_object())
        if (auto* k = item.as_object().if_contains("fileKey"); k && k->is_string())
          ids.emplace_back(k->as_string());
  }
  return ids;
}

KResult<json::value> RecordWriter::field_value(const FieldDef& def, const json::value& v,
                                               const std::string& key) {
  if (def.type == "FILE") return files(v, key);
  if (def.type == "SUBTABLE") {
    if (!v.is_array()) return invalid(key, "Must be an array.");
    return v;
  }
  if (is_list_type(def.type)) {
    if (!v.is_array()) return invalid(key, "Must be an array.");
    return v;
  }
  if (v.is_null()) return json::value(json::string());
  if (v.is_int64()) return json::value(json::string(std::to_string(v.as_int64())));
  if (v.is_uint64()) return json::value(json::string(std::to_string(v.as_uint64())));
  if (v.is_double()) return json::value(json::string(json::serialize(v)));
  if (!v.is_string()) return invalid(key, "Must be a string.");
  if (def.type == "NUMBER" && !numeric_text(v.as_string()))
    return invalid(key, "Must be a number.");
  return v;
}

KResult<json::value> RecordWriter::files(const json::value& v, const std::string& key) {
  if (v.is_null()) return json::value(json::array());
  if (!v.is_array()) return invalid(key, "Must be an array of {\"fileKey\": ...}.");
  json::array out;
  std::set<std::string> seen;
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    const std::string item_key = key + "[" + std::to_string(i) + "].fileKey";
    const json::value& item = v.as_array()[i];
    const json::value* fk = item.is_object() ? item.as_object().if_contains("fileKey") : nullptr;
    if (!fk || !fk->is_string()) return invalid(item_key, "Required.");
    // The vendor doc's own example has a leading space in its fileKey.
    const std::string file_key(http::trim_ows(fk->as_string()));
    auto entry = resolve(file_key, item_key);
    if (!entry) return refuse(entry.error());
    const std::string id(entry->at("fileKey").as_string());
    if (!seen.insert(id).second) return invalid(item_key, "The same file is given twice.");
    out.push_back(std::move(*entry));
  }
  return json::value(std::move(out));
}

json::object RecordWriter::entry_of(const Object& o) {
  json::object e;
  e["contentType"] = o.content_type;
  e["fileKey"] = o.id;
  e["name"] = o.name;
  e["size"] = std::to_string(o.size);
  return e;
}

KResult<json::object> RecordWriter::resolve(const std::string& file_key, const std::string& field) {
  const tl::unexpected<Failure> not_found = refuse(Failure(
      Error(Errc::kObjectNotFound, "The file (fileKey: " + file_key + ") not found."), field));
  if (!http::plain_token(file_key, 128)) return not_found;
  if (existing_ && std::find(existing_->file_ids.begin(), existing_->file_ids.end(), file_key) !=
                       existing_->file_ids.end()) {
    if (auto kept = kept_entry(file_key)) return *kept;
  }
  auto o = s_.files.get_by_key(caller_.tenant_id, app_.app.id, file_key);
  if (!o && o.error().code != Errc::kObjectNotFound) return fail(o.error());
  if (!o && caller_.upload_app != app_.app.id) {
    auto staged = s_.files.get_by_key(caller_.tenant_id, caller_.upload_app, file_key);
    if (!staged && staged.error().code != Errc::kObjectNotFound) return fail(staged.error());
    if (staged && staged->state == ObjectState::kTemporary) o = copy_into_app(*staged);
    if (!o && o.error().code != Errc::kObjectNotFound) return fail(o.error());
  }
  if (!o) return not_found;
  if (o->state != ObjectState::kTemporary)
    return invalid(field,
                   "The fileKey (" + file_key + ") was already attached; upload the file again.");
  return entry_of(*o);
}

std::optional<json::object> RecordWriter::kept_entry(const std::string& id) const {
  for (const auto& [code, v] : data_of(*existing_)) {
    const FieldDef* def = app_.settings.field(code);
    if (!def || def->type != "FILE" || !v.is_array()) continue;
    for (const auto& item : v.as_array())
      if (item.is_object())
        if (auto* k = item.as_object().if_contains("fileKey");
            k && k->is_string() && k->as_string() == id)
          return item.as_object();
  }
  return std::nullopt;
}

Result<Object> RecordWriter::copy_into_app(const Object& staged) {
  core::UploadSpec spec;
  spec.tenant_id = staged.tenant_id;
  spec.app_id = app_.app.id;
  // The same key, so a write that fails after the copy can be retried with it.
  spec.key = staged.key;
  spec.name = staged.name;
  spec.content_type = staged.content_type;
  spec.declared_size = staged.size;
  spec.state = ObjectState::kTemporary;
  spec.expires_at = staged.expires_at;
  spec.owner = staged.owner;
  auto up = s_.uploads.begin(spec);
  if (!up) return fail(up.error());
  UP_TRY((*up)->append_object(staged));
  auto copy = (*up)->commit_blocking();
  if (!copy) return fail(copy.error());
  UP_TRY(s_.files.remove(staged.tenant_id, staged.id));
  return copy;
}

}  // namespace up::dialects::kintone
