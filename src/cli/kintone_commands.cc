#include "cli/kintone_commands.h"

#include <cstdio>

#include <boost/json.hpp>

#include "core/log.h"
#include "core/services.h"
#include "dialects/kintone/auth.h"
#include "dialects/kintone/settings.h"

namespace up::cli {
namespace {

namespace json = boost::json;
namespace kintone = dialects::kintone;

int report(const Error& e) {
  log::error(e.message + " (code " + std::to_string(static_cast<int>(e.code)) + ")");
  return 1;
}

json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

json::object& member_object(json::object& o, const char* name) {
  json::value& v = o[name];
  if (!v.is_object()) v = json::object();
  return v.as_object();
}

// Applies `edit` to the tenant's "kintone" settings and stores them.
template <class F>
Result<Tenant> edit_tenant(core::Services& s, const std::string& tenant_id, F&& edit) {
  auto t = s.directory.tenant(tenant_id);
  if (!t) return fail(t.error());
  json::object settings = parse_object(t->settings_json);
  edit(member_object(settings, "kintone"));
  t->settings_json = json::serialize(settings);
  UP_TRY(s.directory.update_tenant(*t));
  return t;
}

}  // namespace

int kintone_users_set(core::Services& s, const std::string& tenant, const std::string& login,
                      const std::string& password) {
  if (login.empty() || login.find(':') != std::string::npos)
    return report(Error(Errc::kInvalidArgument, "a login must be non-empty and without ':'"));
  if (password.empty())
    return report(Error(Errc::kInvalidArgument, "the password must not be empty"));
  const kintone::UserCredential c =
      kintone::make_user_credential(password, kintone::Authenticator::kPasswordIterations);
  auto t = edit_tenant(s, tenant, [&](json::object& k) {
    json::object cred;
    cred["salt"] = c.salt_hex;
    cred["iterations"] = c.iterations;
    cred["pbkdf2_sha256"] = c.hash_hex;
    member_object(k, "users")[login] = std::move(cred);
  });
  if (!t) return report(t.error());
  json::object out;
  out["tenant_id"] = tenant;
  out["login"] = login;
  std::printf("%s\n", json::serialize(out).c_str());
  return 0;
}

int kintone_users_delete(core::Services& s, const std::string& tenant, const std::string& login) {
  auto t = edit_tenant(s, tenant, [&](json::object& k) { member_object(k, "users").erase(login); });
  if (!t) return report(t.error());
  json::object out;
  out["deleted"] = login;
  std::printf("%s\n", json::serialize(out).c_str());
  return 0;
}

int kintone_spaces_set(core::Services& s, const std::string& tenant, const std::string& space_id,
                       const std::vector<std::string>& members) {
  if (space_id.empty() || space_id.find_first_not_of("0123456789") != std::string::npos)
    return report(Error(Errc::kInvalidArgument, "a guest space id is a number"));
  json::array list;
  for (const auto& m : members) list.emplace_back(m);
  auto t = edit_tenant(s, tenant,
                       [&](json::object& k) { member_object(k, "guest_spaces")[space_id] = list; });
  if (!t) return report(t.error());
  json::object out;
  out["tenant_id"] = tenant;
  out["guest_space_id"] = space_id;
  out["members"] = list;
  std::printf("%s\n", json::serialize(out).c_str());
  return 0;
}

int kintone_tokens_create(core::Services& s, const std::string& tenant, const std::string& app_id,
                          const std::vector<std::string>& permissions) {
  auto perms = kintone::parse_permissions(permissions);
  if (!perms)
    return report(Error(Errc::kInvalidArgument, "permissions are view, add, edit and delete"));
  auto app = s.directory.app(tenant, app_id);
  if (!app) return report(app.error());
  if (app->dialect != "kintone")
    return report(Error(Errc::kInvalidArgument, "not a kintone app: " + app_id));
  auto key = s.auth.create_key(tenant, "kintone API token", KeyRole::kMember, app_id);
  if (!key) return report(key.error());
  json::object settings = parse_object(app->settings_json);
  json::array words;
  for (const auto& w : kintone::permission_words(*perms)) words.emplace_back(w);
  member_object(settings, "api_tokens")[key->key.id] = words;
  app->settings_json = json::serialize(settings);
  if (auto st = s.directory.update_app(*app); !st) {
    (void)s.auth.delete_key(key->key.id);  // a token without its permissions would only view
    return report(st.error());
  }
  json::object out;
  out["tenant_id"] = tenant;
  out["app"] = app_id;
  out["key_id"] = key->key.id;
  out["permissions"] = std::move(words);
  out["token"] = key->token;
  std::printf("%s\n", json::serialize(out).c_str());
  return 0;
}

}  // namespace up::cli
