#include "dialects/kintone/kintone.h"

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "core/services.h"

#include "dialects/kintone/auth.h"
#include "dialects/kintone/settings.h"
#include "dialects/settings_json.h"

namespace up::dialects::kintone {
namespace {

namespace json = boost::json;

json::object& member_object(json::object& o, const char* name) {
  json::value& v = o[name];
  if (!v.is_object()) v = json::object();
  return v.as_object();
}

// Applies `edit` to the tenant's "kintone" settings and stores them.
template <class F>
Status edit_tenant(core::Services& s, const std::string& tenant_id, F&& edit) {
  auto t = s.directory.tenant(tenant_id);
  if (!t) return fail(t.error());
  json::object settings = settings_object(t->settings_json).value_or(json::object());
  edit(member_object(settings, "kintone"));
  t->settings_json = json::serialize(settings);
  return s.directory.update_tenant(*t);
}

// Creates or replaces a password user of the tenant (salted PBKDF2-HMAC-SHA256).
Result<std::string> users_set(core::Services& s, const std::string& tenant,
                              const std::string& login, const std::string& password) {
  if (login.empty() || login.find(':') != std::string::npos)
    return fail(Errc::kInvalidArgument, "a login must be non-empty and without ':'");
  if (password.empty()) return fail(Errc::kInvalidArgument, "the password must not be empty");
  const UserCredential c = make_user_credential(password, Authenticator::kPasswordIterations);
  UP_TRY(edit_tenant(s, tenant, [&](json::object& k) {
    json::object cred;
    cred["salt"] = c.salt_hex;
    cred["iterations"] = c.iterations;
    cred["pbkdf2_sha256"] = c.hash_hex;
    member_object(k, "users")[login] = std::move(cred);
  }));
  return json::serialize(json::object{{"tenant_id", tenant}, {"login", login}});
}

Result<std::string> users_delete(core::Services& s, const std::string& tenant,
                                 const std::string& login) {
  UP_TRY(edit_tenant(s, tenant, [&](json::object& k) { member_object(k, "users").erase(login); }));
  return json::serialize(json::object{{"deleted", login}});
}

// Sets the member list of a guest space.
Result<std::string> spaces_set(core::Services& s, const std::string& tenant,
                               const std::string& space_id,
                               const std::vector<std::string>& members) {
  if (space_id.empty() || space_id.find_first_not_of("0123456789") != std::string::npos)
    return fail(Errc::kInvalidArgument, "a guest space id is a number");
  json::array list;
  for (const auto& m : members) list.emplace_back(m);
  UP_TRY(edit_tenant(s, tenant,
                     [&](json::object& k) { member_object(k, "guest_spaces")[space_id] = list; }));
  return json::serialize(
      json::object{{"tenant_id", tenant}, {"guest_space_id", space_id}, {"members", list}});
}

// Creates an API key bound to the kintone app with these permissions (view,
// add, edit, delete); its token is printed once.
Result<std::string> tokens_create(core::Services& s, const std::string& tenant,
                                  const std::string& app_id,
                                  const std::vector<std::string>& permissions) {
  auto perms = parse_permissions(permissions);
  if (!perms) return fail(Errc::kInvalidArgument, "permissions are view, add, edit and delete");
  auto app = s.directory.app(tenant, app_id);
  if (!app) return fail(app.error());
  if (app->dialect != "kintone")
    return fail(Errc::kInvalidArgument, "not a kintone app: " + app_id);
  auto key = s.auth.create_key(tenant, "kintone API token", KeyRole::kMember, app_id);
  if (!key) return fail(key.error());
  json::object settings = settings_object(app->settings_json).value_or(json::object());
  json::array words;
  for (const auto& w : permission_words(*perms)) words.emplace_back(w);
  member_object(settings, "api_tokens")[key->key.id] = words;
  app->settings_json = json::serialize(settings);
  if (auto st = s.directory.update_app(*app); !st) {
    (void)s.auth.delete_key(key->key.id);  // a token without its permissions would only view
    return fail(st.error());
  }
  return json::serialize(json::object{{"tenant_id", tenant},
                                      {"app", app_id},
                                      {"key_id", key->key.id},
                                      {"permissions", std::move(words)},
                                      {"token", key->token}});
}

// What the commands' options are parsed into; lives as long as the CLI.
struct Args {
  std::string tenant, login, password, space, app_id;
  std::vector<std::string> members, permissions = {"view", "add", "edit", "delete"};
};

}  // namespace

void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run) {
  auto a = std::make_shared<Args>();
  // A subcommand of `parent` taking --tenant that runs `body` once its options are parsed.
  auto command = [&run, a](CLI::App* parent, const char* name, const char* help,
                           core::AdminCommand body) {
    auto* sub = parent->add_subcommand(name, help);
    sub->add_option("--tenant", a->tenant, "tenant id")->required();
    sub->callback([run, body = std::move(body)] { run(body); });
    return sub;
  };
  auto* kintone = app.add_subcommand("kintone", "kintone users, guest spaces and API tokens")
                      ->require_subcommand(1);
  auto* users = kintone->add_subcommand("users", "password users (X-Cybozu-Authorization)")
                    ->require_subcommand(1);
  auto* us = command(users, "set", "create a user or change its password", [a](core::Services& s) {
    return users_set(s, a->tenant, a->login, a->password);
  });
  us->add_option("login", a->login, "login name")->required();
  us->add_option("--password", a->password, "password")
      ->envname("UPGATE_KINTONE_PASSWORD")
      ->required();
  command(users, "delete", "remove a user",
          [a](core::Services& s) { return users_delete(s, a->tenant, a->login); })
      ->add_option("login", a->login, "login name")
      ->required();
  auto* spaces = kintone->add_subcommand("spaces", "guest spaces")->require_subcommand(1);
  auto* ss = command(spaces, "set", "set a guest space's members", [a](core::Services& s) {
    return spaces_set(s, a->tenant, a->space, a->members);
  });
  ss->add_option("id", a->space, "guest space id (a number)")->required();
  ss->add_option("--members", a->members, "member logins")->delimiter(',');
  auto* tokens =
      kintone->add_subcommand("tokens", "API tokens (X-Cybozu-API-Token)")->require_subcommand(1);
  auto* tc = command(
      tokens, "create", "create an API token of one app; printed once",
      [a](core::Services& s) { return tokens_create(s, a->tenant, a->app_id, a->permissions); });
  tc->add_option("--app", a->app_id, "kintone app id")->required();
  tc->add_option("--permissions", a->permissions, "view, add, edit, delete")
      ->delimiter(',')
      ->capture_default_str();
}

}  // namespace up::dialects::kintone
