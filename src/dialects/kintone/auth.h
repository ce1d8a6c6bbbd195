#pragma once
// Who a kintone request acts as, and what it may do with an app.
//
// Credentials (spec/kintone.md §4.2):
//  - X-Cybozu-API-Token: one or several comma-separated tokens. Each is an
//    upgate API key bound to one kintone app (ApiKey::app_id); its permissions
//    are in the app's settings (settings.h). Unknown, disabled or unbound
//    tokens: GAIA_IA02.
//  - X-Cybozu-Authorization: base64(login:password) of a user of the kintone
//    tenant (server option), verified against a salted PBKDF2-HMAC-SHA256 in
//    the tenant's settings. CB_AU01 on failure.
//  - Authorization: Basic, required in addition when the server is configured
//    with one (--kintone-basic-auth); compared in constant time.
// Guest spaces: a request under /k/guest/{id}/v1/ reaches only apps of that
// space, and a user must be one of its members; apps of a guest space are
// reachable only that way.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/types.h"
#include "dialects/kintone/errors.h"
#include "dialects/kintone/settings.h"

namespace up::core {
struct Services;
}

namespace up::dialects::kintone {

struct Options {
  std::string tenant_id = "default";  // whose users X-Cybozu-Authorization logs in
  std::string basic_auth;             // "user:password" of the extra Basic layer; empty: none
  uint32_t upload_ttl_hours = 72;     // unattached uploads are deleted after this
  uint64_t max_file_bytes = 1ull << 30;
};

struct Credentials {
  std::optional<std::string> api_tokens;     // X-Cybozu-API-Token
  std::optional<std::string> authorization;  // X-Cybozu-Authorization
  std::optional<std::string> basic;          // Authorization
  std::string guest_space_id;                // from the path; empty outside /k/guest/
};

struct Caller {
  std::string tenant_id;
  std::string login;                              // a password user; empty for API tokens
  std::map<std::string, std::string> token_keys;  // app id -> API key ids ("," joined), tokens only
  std::string guest_space_id;
  std::string upload_app;        // the app file.json stores uploads in
  std::string name() const;      // who created/updated a record
  std::string identity() const;  // the login, or the API key ids: who owns a cursor
  // The API key behind the upload app's token (the first, when several were
  // sent); empty for a password user.
  std::string upload_key_id() const;
};

// An app the caller may use, with its parsed settings.
struct AppAccess {
  App app;
  AppSettings settings;
};

enum class Need { kView, kAdd, kEdit, kDelete, kAny };

// Thread-safe; calls block (metadata reads, PBKDF2).
class Authenticator {
 public:
  static constexpr uint32_t kPasswordIterations = 100'000;

  Authenticator(core::Services& services, Options options);

  KResult<Caller> authenticate(const Credentials& credentials);
  // authenticate()'s answer when caches alone give it (API tokens verified
  // within AuthService::kCacheMs), else empty. Never blocks: an I/O thread may
  // call it and go to the blocking pool only on a miss. Password users miss.
  std::optional<KResult<Caller>> authenticate_cached(const Credentials& credentials);
  // GAIA_AP01 for unknown apps (and apps of another guest space), CB_NO02 for
  // missing permissions, GAIA_IA02 when no token of the caller is the app's.
  KResult<AppAccess> open_app(const Caller& caller, std::string_view app_id, Need need);
  // open_app()'s answer from the Directory's cache, else empty. Never blocks.
  std::optional<KResult<AppAccess>> open_app_cached(const Caller& caller, std::string_view app_id,
                                                    Need need);
  // open_app_cached()'s check alone, without copying the app and its settings
  // out: a download needs only the yes or no. Never blocks.
  std::optional<KResult<void>> may_open_cached(const Caller& caller, std::string_view app_id,
                                               Need need);

  const Options& options() const { return options_; }

 private:
  // Empty when `cached_only` and a token is not in AuthService's cache.
  std::optional<KResult<Caller>> authenticate_with(const Credentials& credentials,
                                                   bool cached_only);
  std::optional<KResult<Caller>> token_caller(std::string_view header,
                                              const std::string& guest_space, bool cached_only);
  KResult<AppAccess> check_app(const Caller& caller, Result<App> app, std::string_view app_id,
                               Need need);
  // The app's settings parsed; the parse is remembered per app while its
  // settings JSON stays the same (every download checks the app).
  struct ParsedSettings {
    std::string json;
    AppSettings settings;
  };
  std::shared_ptr<const ParsedSettings> settings_of(const App& app);
  // check_app's checks of a found app: its settings when the caller may.
  KResult<std::shared_ptr<const ParsedSettings>> checked_settings(const Caller& caller,
                                                                  const App& app,
                                                                  std::string_view app_id,
                                                                  Need need);
  static Failure app_failure(const Error& e, std::string_view app_id);
  static Error app_not_found(std::string_view app_id);
  KResult<Caller> user_caller(std::string_view header, const std::string& guest_space);
  // The store's error when the guess could not be counted (then no guess is tried).
  Result<bool> password_matches(const std::string& login, const UserCredential& cred,
                                std::string_view password);

  core::Services& s_;
  Options options_;
  std::string pepper_;  // per process: cache keys reveal nothing about passwords
  std::mutex mu_;
  std::map<std::string, bool> verified_;  // hash of (login, stored hash, peppered password)
  std::mutex settings_mu_;
  // By tenant id '\0' app id.
  std::map<std::string, std::shared_ptr<const ParsedSettings>, std::less<>> settings_;
};

// PBKDF2-HMAC-SHA256 as stored in the tenant settings (for the CLI and tests).
UserCredential make_user_credential(std::string_view password, uint32_t iterations);
std::string pbkdf2_sha256_hex(std::string_view password, std::string_view salt,
                              uint32_t iterations);

}  // namespace up::dialects::kintone
