#include "dialects/kintone/auth.h"

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/services.h"
#include "core/text.h"

namespace up::dialects::kintone {
namespace {

constexpr size_t kMaxTokens = 9;  // kintone accepts up to 9 tokens in one header
constexpr size_t kVerifiedCacheLimit = 4096;
constexpr size_t kSettingsCacheLimit = 1024;  // apps whose parsed settings are kept
constexpr uint32_t kLoginAttemptsPerMinute =
    30;  // password checks (not cached successes) per login

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has(const Permissions& p, Need need) {
  switch (need) {
    case Need::kView: return p.view;
    case Need::kAdd: return p.add;
    case Need::kEdit: return p.edit;
    case Need::kDelete: return p.remove;
    case Need::kAny: return p.view || p.add || p.edit || p.remove;
  }
  return false;
}

const char* need_word(Need need) {
  switch (need) {
    case Need::kView: return "view";
    case Need::kAdd: return "add";
    case Need::kEdit: return "edit";
    case Need::kDelete: return "delete";
    case Need::kAny: return "use";
  }
  return "use";
}

tl::unexpected<Failure> not_logged_in(std::string message) {
  return refuse(Failure(Error(Errc::kUnauthenticated, std::move(message))));
}

}  // namespace

std::string Caller::name() const {
  if (!login.empty()) return login;
  return "api-token";
}

std::string Caller::identity() const {
  if (!login.empty()) return "user:" + login;
  std::string out = "tokens:";
  for (const auto& [app, keys] : token_keys) out += app + "=" + keys + ";";
  return out;
}

std::string Caller::upload_key_id() const {
  auto it = token_keys.find(upload_app);
  if (it == token_keys.end()) return {};
  return it->second.substr(0, it->second.find(','));
}

std::string pbkdf2_sha256_hex(std::string_view password, std::string_view salt,
                              uint32_t iterations) {
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                    sizeof out, out);
  return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

UserCredential make_user_credential(std::string_view password, uint32_t iterations) {
  UserCredential c;
  c.salt_hex = random_hex(16);
  c.iterations = iterations;
  c.hash_hex = pbkdf2_sha256_hex(password, c.salt_hex, iterations);
  return c;
}

Authenticator::Authenticator(core::Services& services, Options options)
    : s_(services), options_(std::move(options)), pepper_(random_hex(32)) {}

KResult<Caller> Authenticator::authenticate(const Credentials& c) {
  return *authenticate_with(c, /*cached_only=*/false);
}

std::optional<KResult<Caller>> Authenticator::authenticate_cached(const Credentials& c) {
  // A password user's check reads the tenant's settings from the store.
  if (c.authorization) return std::nullopt;
  return authenticate_with(c, /*cached_only=*/true);
}

std::optional<KResult<Caller>> Authenticator::authenticate_with(const Credentials& c,
                                                                bool cached_only) {
  if (!options_.basic_auth.empty()) {
    std::string decoded;
    if (!c.basic || !starts_with_ignoring_case(*c.basic, "Basic ") ||
        !crypto::base64_decode(trim(c.basic->substr(6)), decoded) ||
        !crypto::equal_constant_time(crypto::sha256(decoded), crypto::sha256(options_.basic_auth)))
      return not_logged_in("Basic authentication failed.");
  }
  // kintone's order when several are sent: password first, then API tokens.
  if (c.authorization) return user_caller(*c.authorization, c.guest_space_id);
  if (c.api_tokens) return token_caller(*c.api_tokens, c.guest_space_id, cached_only);
  return not_logged_in("Send X-Cybozu-API-Token or X-Cybozu-Authorization.");
}

std::optional<KResult<Caller>> Authenticator::token_caller(std::string_view header,
                                                           const std::string& guest_space,
                                                           bool cached_only) {
  Caller caller;
  caller.guest_space_id = guest_space;
  size_t count = 0;
  while (true) {
    const size_t comma = header.find(',');
    const std::string_view token = trim(header.substr(0, comma));
    if (token.empty() || ++count > kMaxTokens)
      return bad_api_token("Malformed X-Cybozu-API-Token.");
    auto answer = cached_only ? s_.auth.authenticate_cached(token)
                              : std::optional(s_.auth.authenticate(token));
    if (!answer) return std::nullopt;
    const Result<core::Principal>& p = *answer;
    if (!p) {
      if (p.error().kind() == Kind::kInternal || p.error().kind() == Kind::kUnavailable)
        return fail(p.error());
      return bad_api_token("Unknown or disabled API token.");
    }
    if (p->app_id.empty()) return bad_api_token("The API token is not bound to an app.");
    if (!caller.tenant_id.empty() && caller.tenant_id != p->tenant_id)
      return bad_api_token("The API tokens belong to different domains.");
    caller.tenant_id = p->tenant_id;
    if (caller.upload_app.empty()) caller.upload_app = p->app_id;
    std::string& keys = caller.token_keys[p->app_id];
    if (!keys.empty()) keys += ',';
    keys += p->key_id;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return caller;
}

Result<bool> Authenticator::password_matches(const std::string& login, const UserCredential& cred,
                                             std::string_view password) {
  const std::string cache_key =
      crypto::sha256(login + '\0' + cred.hash_hex + '\0' + pepper_ + std::string(password));
  {
    std::lock_guard lock(mu_);
    if (verified_.count(cache_key)) return true;
  }
  // Each guess costs a PBKDF2; bound them per login so guessing stays slow
  // and cannot tie up the blocking pool.
  // Counted across every process sharing the store, so more processes do not
  // mean more guesses.
  auto guess = s_.rate_limiter.hit("kintone:login:" + options_.tenant_id + ":" + login,
                                   kLoginAttemptsPerMinute, 60'000);
  if (!guess) return fail(guess.error());
  if (!guess->allowed) return false;
  const std::string computed = pbkdf2_sha256_hex(password, cred.salt_hex, cred.iterations);
  if (!crypto::equal_constant_time(computed, cred.hash_hex)) return false;
  std::lock_guard lock(mu_);
  if (verified_.size() >= kVerifiedCacheLimit) verified_.clear();
  verified_[cache_key] = true;
  return true;
}

KResult<Caller> Authenticator::user_caller(std::string_view header,
                                           const std::string& guest_space) {
  std::string decoded;
  if (!crypto::base64_decode(trim(header), decoded))
    return not_logged_in("Malformed X-Cybozu-Authorization.");
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos || colon == 0)
    return not_logged_in("Malformed X-Cybozu-Authorization.");
  const std::string login = decoded.substr(0, colon);
  const std::string_view password = std::string_view(decoded).substr(colon + 1);
  auto tenant = s_.directory.tenant(options_.tenant_id);
  if (!tenant) {
    if (tenant.error().kind() == Kind::kNotFound) return not_logged_in("Login failed.");
    return fail(tenant.error());
  }
  const TenantSettings settings = parse_tenant_settings(tenant->settings_json);
  auto user = settings.users.find(login);
  if (user == settings.users.end()) {
    // Same work as for a known user, so timing does not tell which logins exist.
    pbkdf2_sha256_hex(password, "unknown-user", Authenticator::kPasswordIterations);
    return not_logged_in("Login failed.");
  }
  auto matches = password_matches(login, user->second, password);
  if (!matches) return fail(matches.error());
  if (!*matches) return not_logged_in("Login failed.");
  if (!guest_space.empty()) {
    auto space = settings.guest_spaces.find(guest_space);
    if (space == settings.guest_spaces.end() ||
        std::find(space->second.begin(), space->second.end(), login) == space->second.end())
      return fail(Errc::kPermissionDenied, "Not a member of guest space " + guest_space + ".");
  }
  Caller caller;
  caller.tenant_id = tenant->id;
  caller.login = login;
  caller.guest_space_id = guest_space;
  caller.upload_app = core::Directory::kDefaultApp;
  return caller;
}

KResult<AppAccess> Authenticator::open_app(const Caller& caller, std::string_view app_id,
                                           Need need) {
  return check_app(caller, s_.directory.app(caller.tenant_id, app_id), app_id, need);
}

std::optional<KResult<AppAccess>> Authenticator::open_app_cached(const Caller& caller,
                                                                 std::string_view app_id,
                                                                 Need need) {
  auto app = s_.directory.app_cached(caller.tenant_id, app_id);
  if (!app) return std::nullopt;
  return check_app(caller, std::move(*app), app_id, need);
}

std::optional<KResult<void>> Authenticator::may_open_cached(const Caller& caller,
                                                            std::string_view app_id, Need need) {
  auto app = s_.directory.app_cached(caller.tenant_id, app_id);
  if (!app) return std::nullopt;
  auto checked = checked_settings(caller, *app, app_id, need);
  if (!checked) return refuse(std::move(checked.error()));
  return KResult<void>{};
}

Failure Authenticator::app_failure(const Error& e, std::string_view app_id) {
  if (e.kind() == Kind::kNotFound) return Failure(app_not_found(app_id));
  return Failure(e);
}

Error Authenticator::app_not_found(std::string_view app_id) {
  return Error(Errc::kAppNotFound, "The app (ID: " + std::string(app_id) + ") not found.");
}

KResult<AppAccess> Authenticator::check_app(const Caller& caller, Result<App> app,
                                            std::string_view app_id, Need need) {
  if (!app) return refuse(app_failure(app.error(), app_id));
  auto checked = checked_settings(caller, *app, app_id, need);
  if (!checked) return refuse(std::move(checked.error()));
  return AppAccess{std::move(*app), (*checked)->settings};
}

KResult<std::shared_ptr<const Authenticator::ParsedSettings>> Authenticator::checked_settings(
    const Caller& caller, const App& app, std::string_view app_id, Need need) {
  // The not-found error is built only when answered (every download checks).
  if (app.dialect != "kintone") return fail(app_not_found(app_id));
  std::shared_ptr<const ParsedSettings> parsed = settings_of(app);
  const AppSettings& settings = parsed->settings;
  const std::string& space = settings.guest_space_id;
  if (space != caller.guest_space_id) {
    if (!caller.guest_space_id.empty())
      return fail(app_not_found(app_id));  // not in the space the path names
    return fail(Errc::kPermissionDenied,
                "The app is in guest space " + space + ": use /k/guest/" + space + "/v1/.");
  }
  Permissions perms;
  if (caller.login.empty()) {
    auto keys = caller.token_keys.find(std::string(app_id));
    if (keys == caller.token_keys.end())
      return bad_api_token("No API token of app " + std::string(app_id) + " was sent.");
    std::string_view list = keys->second;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      perms |= settings.token_permissions(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  } else {
    perms = settings.user_permissions(caller.login);
  }
  if (!has(perms, need))
    return fail(Errc::kPermissionDenied, std::string("Missing the permission to ") +
                                             need_word(need) + " records of app " +
                                             std::string(app_id) + ".");
  return parsed;
}

std::shared_ptr<const Authenticator::ParsedSettings> Authenticator::settings_of(const App& app) {
  std::string key = app.tenant_id;
  key += '\0';
  key += app.id;
  {
    std::lock_guard lock(settings_mu_);
    auto it = settings_.find(key);
    // The JSON compared whole: any change of the settings is parsed anew.
    if (it != settings_.end() && it->second->json == app.settings_json) return it->second;
  }
  auto parsed = std::make_shared<const ParsedSettings>(
      ParsedSettings{app.settings_json, parse_app_settings(app.settings_json)});
  std::lock_guard lock(settings_mu_);
  if (settings_.size() >= kSettingsCacheLimit && !settings_.contains(key)) settings_.clear();
  settings_[std::move(key)] = parsed;
  return parsed;
}

}  // namespace up::dialects::kintone
