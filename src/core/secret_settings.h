#pragma once
// Secret members of tenant and app settings. Settings are the dialects' JSON,
// opaque to core, and a few members are secrets a dialect reads but no answer
// may show (kintone's password salts and hashes). Each dialect names its
// secret members (e.g. the kintone dialect's kintone.h); the composition root
// gathers them into Services::secret_settings, and whoever shows settings
// (the native admin API, `upgate apps`) passes them through redact_settings.

#include <string>
#include <string_view>
#include <vector>

namespace up::core {

// Member names from the settings' root; "*" stands for every member of an
// object, e.g. {"kintone", "users", "*", "salt"}.
using SettingsPath = std::vector<std::string>;

struct SecretSettings {
  std::vector<SettingsPath> tenant;  // in Tenant::settings_json
  std::vector<SettingsPath> app;     // in App::settings_json

  SecretSettings& operator+=(const SecretSettings& o);
};

// `settings_json` without the members `secret` names. Text that is not a JSON
// object gives "{}" (nothing of it can be shown safely).
std::string redact_settings(std::string_view settings_json,
                            const std::vector<SettingsPath>& secret);

// `replacement` (a JSON object) with the secret members of `stored` that it
// lacks put back, wherever the object holding them is still in `replacement`.
// A client that writes back the settings it read (redacted) keeps the secrets;
// one that drops a whole entry (a user) drops its secrets with it.
// `replacement` that is not an object is returned as it is.
std::string keep_secret_settings(std::string_view stored, std::string_view replacement,
                                 const std::vector<SettingsPath>& secret);

}  // namespace up::core
