#pragma once
// `upgate kintone ...`: the kintone dialect's users, guest spaces and API
// tokens (dialects/kintone/settings.h says where each is kept). Like the other
// commands they print JSON on stdout and return a process exit code.

#include <string>
#include <vector>

namespace up::core {
struct Services;
}

namespace up::cli {

// Creates or replaces a password user of the tenant (salted PBKDF2-HMAC-SHA256).
int kintone_users_set(core::Services& s, const std::string& tenant, const std::string& login,
                      const std::string& password);
int kintone_users_delete(core::Services& s, const std::string& tenant, const std::string& login);
// Sets the member list of a guest space.
int kintone_spaces_set(core::Services& s, const std::string& tenant, const std::string& space_id,
                       const std::vector<std::string>& members);
// Creates an API key bound to the kintone app with these permissions
// (view, add, edit, delete); prints its token once.
int kintone_tokens_create(core::Services& s, const std::string& tenant, const std::string& app,
                          const std::vector<std::string>& permissions);

}  // namespace up::cli
