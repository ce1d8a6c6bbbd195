#include "dialects/kintone/settings.h"

#include "dialects/settings_json.h"

namespace up::dialects::kintone {
namespace json = boost::json;
namespace {

std::optional<Permissions> permissions_from(const json::value& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> words;
  for (const auto& w : v.as_array()) {
    if (!w.is_string()) return std::nullopt;
    words.emplace_back(w.as_string());
  }
  return parse_permissions(words);
}

std::map<std::string, Permissions> permission_map(const json::value* v) {
  std::map<std::string, Permissions> out;
  if (!v || !v->is_object()) return out;
  for (const auto& [k, p] : v->as_object())
    if (auto perms = permissions_from(p)) out[std::string(k)] = *perms;
  return out;
}

std::string string_of(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v && v->is_string()) return std::string(v->as_string());
  if (v && v->is_int64()) return std::to_string(v->as_int64());
  return {};
}

}  // namespace

const FieldDef* AppSettings::field(std::string_view code) const {
  for (const auto& f : fields)
    if (f.code == code) return &f;
  return nullptr;
}

Permissions AppSettings::token_permissions(std::string_view key_id) const {
  auto it = api_tokens.find(std::string(key_id));
  if (it != api_tokens.end()) return it->second;
  Permissions view_only;
  view_only.view = true;
  return view_only;
}

Permissions AppSettings::user_permissions(std::string_view login) const {
  if (!users) return Permissions::all();
  auto it = users->find(std::string(login));
  return it == users->end() ? Permissions{} : it->second;
}

std::optional<Permissions> parse_permissions(const std::vector<std::string>& words) {
  Permissions p;
  for (const auto& w : words) {
    if (w == "view") p.view = true;
    else if (w == "add") p.add = true;
    else if (w == "edit") p.edit = true;
    else if (w == "delete") p.remove = true;
    else return std::nullopt;
  }
  return p;
}

std::vector<std::string> permission_words(const Permissions& p) {
  std::vector<std::string> out;
  if (p.view) out.emplace_back("view");
  if (p.add) out.emplace_back("add");
  if (p.edit) out.emplace_back("edit");
  if (p.remove) out.emplace_back("delete");
  return out;
}

AppSettings parse_app_settings(std::string_view settings_json) {
  AppSettings s;
  const auto parsed = settings_object(settings_json);
  if (!parsed) return s;
  const json::object& o = *parsed;
  if (auto* fields = o.if_contains("fields"); fields && fields->is_array()) {
    for (const auto& f : fields->as_array()) {
      if (!f.is_object()) continue;
      FieldDef d;
      d.code = string_of(f.as_object(), "code");
      d.type = string_of(f.as_object(), "type");
      d.label = string_of(f.as_object(), "label");
      if (d.label.empty()) d.label = d.code;
      if (auto* r = f.as_object().if_contains("required"); r && r->is_bool())
        d.required = r->as_bool();
      // Codes starting with '$' are kintone's own ($id, $revision).
      if (d.code.empty() || d.code[0] == '$' || d.type.empty() || s.field(d.code)) continue;
      s.fields.push_back(std::move(d));
    }
  }
  s.guest_space_id = string_of(o, "guest_space_id");
  s.api_tokens = permission_map(o.if_contains("api_tokens"));
  if (auto* u = o.if_contains("users"); u && u->is_object()) s.users = permission_map(u);
  if (auto t = int_in_range(o.if_contains("upload_ttl_hours"), 1, 24 * 365))
    s.upload_ttl_hours = static_cast<uint32_t>(*t);
  return s;
}

core::SecretSettings secret_settings() {
  // The salt is as good as the hash to an offline guesser; "iterations" is not
  // secret and stays, so a reader still sees which users exist.
  return {.tenant = {{"kintone", "users", "*", "salt"}, {"kintone", "users", "*", "pbkdf2_sha256"}},
          .app = {}};
}

TenantSettings parse_tenant_settings(std::string_view settings_json) {
  TenantSettings s;
  const auto o = settings_object(settings_json);
  if (!o) return s;
  const json::value* k = o->if_contains("kintone");
  if (!k || !k->is_object()) return s;
  if (auto* users = k->as_object().if_contains("users"); users && users->is_object()) {
    for (const auto& [login, c] : users->as_object()) {
      if (!c.is_object()) continue;
      UserCredential cred;
      cred.salt_hex = string_of(c.as_object(), "salt");
      cred.hash_hex = string_of(c.as_object(), "pbkdf2_sha256");
      if (auto it = int_in_range(c.as_object().if_contains("iterations"), 1, 10'000'000))
        cred.iterations = static_cast<uint32_t>(*it);
      if (cred.salt_hex.empty() || cred.hash_hex.empty() || cred.iterations == 0) continue;
      s.users[std::string(login)] = std::move(cred);
    }
  }
  if (auto* spaces = k->as_object().if_contains("guest_spaces"); spaces && spaces->is_object()) {
    for (const auto& [id, members] : spaces->as_object()) {
      if (!members.is_array()) continue;
      auto& list = s.guest_spaces[std::string(id)];
      for (const auto& m : members.as_array())
        if (m.is_string()) list.emplace_back(m.as_string());
    }
  }
  return s;
}

bool is_list_type(std::string_view type) {
  return type == "FILE" || type == "CHECK_BOX" || type == "MULTI_SELECT" || type == "USER_SELECT" ||
         type == "ORGANIZATION_SELECT" || type == "GROUP_SELECT" || type == "CATEGORY";
}

bool is_system_type(std::string_view type) {
  return type == "RECORD_NUMBER" || type == "CREATED_TIME" || type == "UPDATED_TIME" ||
         type == "CREATOR" || type == "MODIFIER" || type == "STATUS" || type == "STATUS_ASSIGNEE" ||
         type == "CALC" || type == "__ID__" || type == "__REVISION__";
}

}  // namespace up::dialects::kintone
