#pragma once
// kintone settings, kept as JSON where the core keeps dialect settings.
//
// App::settings_json of an app with dialect "kintone" (its id is the kintone
// app id, "1", "2", ...):
//   {"fields": [{"code": "title", "type": "SINGLE_LINE_TEXT", "label": "Title", "required": true},
//               {"code": "attachment", "type": "FILE", "label": "Attachment"}],
//    "guest_space_id": "5",                                  // absent: not in a guest space
//    "api_tokens": {"<api key id>": ["view", "add", "edit", "delete"]},
//    "users": {"alice": ["view", "add", "edit", "delete"]},  // absent: every user may do all
//    "upload_ttl_hours": 72}                                 // absent: the server's default
// An API key bound to the app (ApiKey::app_id) is one of its API tokens; its
// permissions are its entry in api_tokens ("view" alone when it has none).
//
// Tenant::settings_json, member "kintone" (written by `upgate kintone ...`):
//   {"kintone": {"users": {"alice": {"salt": "<hex>", "iterations": 100000, "pbkdf2_sha256":
//   "<hex>"}},
//                "guest_spaces": {"5": ["alice"]}}}
//
// Malformed members are ignored (an app with a bad schema just has fewer
// fields); the CLI validates what it writes.
//
// The users' salts and hashes are secret: secret_settings() names them, and
// core removes them from every settings object it shows (core/secret_settings.h).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/secret_settings.h"

namespace up::dialects::kintone {

struct Permissions {
  bool view = false, add = false, edit = false, remove = false;
  static Permissions all() { return {true, true, true, true}; }
  Permissions& operator|=(const Permissions& o) {
    view |= o.view, add |= o.add, edit |= o.edit, remove |= o.remove;
    return *this;
  }
};

struct FieldDef {
  std::string code;
  std::string type;  // kintone field type: SINGLE_LINE_TEXT, NUMBER, FILE, CHECK_BOX, ...
  std::string label;
  bool required = false;
};

struct AppSettings {
  std::vector<FieldDef> fields;
  std::string guest_space_id;
  std::map<std::string, Permissions> api_tokens;  // by API key id
  std::optional<std::map<std::string, Permissions>> users;
  std::optional<uint32_t> upload_ttl_hours;

  const FieldDef* field(std::string_view code) const;
  // What an API key bound to the app may do.
  Permissions token_permissions(std::string_view key_id) const;
  Permissions user_permissions(std::string_view login) const;
};

struct UserCredential {
  std::string salt_hex;
  uint32_t iterations = 0;
  std::string hash_hex;  // PBKDF2-HMAC-SHA256(password, salt, iterations), 32 bytes
};

struct TenantSettings {
  std::map<std::string, UserCredential> users;                   // by login
  std::map<std::string, std::vector<std::string>> guest_spaces;  // space id -> member logins
};

AppSettings parse_app_settings(std::string_view settings_json);
// The settings members above that no answer may show.
core::SecretSettings secret_settings();
TenantSettings parse_tenant_settings(std::string_view settings_json);
// "view,add" / ["view","add"] words; nullopt on an unknown word.
std::optional<Permissions> parse_permissions(const std::vector<std::string>& words);
std::vector<std::string> permission_words(const Permissions& p);

// Field types whose values are lists (everything else is a string).
bool is_list_type(std::string_view type);
// Field types kintone computes; record writes ignore them.
bool is_system_type(std::string_view type);

}  // namespace up::dialects::kintone
