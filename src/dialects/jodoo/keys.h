#pragma once
// Per-tenant Qiniu signing keys. The AccessKey is public and names the tenant
// and key version ("<tenant>.v<version>"); the SecretKey is derived from the
// server's master key for that tenant and version and is never stored, nor
// sent over the network (`upgate jodoo credentials` prints it on the server's
// host for the receiver of upload callbacks, which verifies their signature).
// Rotation: bump the tenant's jodoo.key_version; tokens signed with the
// previous version stay valid (they live an hour at most), older ones do not.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace up::core {
class Secrets;
}

namespace up::dialects::jodoo {

struct AccessKey {
  std::string tenant_id;
  uint32_t version = 0;
};

std::string access_key(std::string_view tenant_id, uint32_t version);
std::optional<AccessKey> parse_access_key(std::string_view ak);
std::string secret_key(const core::Secrets& secrets, std::string_view tenant_id, uint32_t version);
// Whether a token signed with `version` is still accepted when the tenant is at `current`.
bool version_accepted(uint32_t version, uint32_t current);

// The bucket (put-policy scope) of an app: "<tenant>.<app>".
std::string bucket_of(std::string_view tenant_id, std::string_view app_id);
// The app id a bucket names for `tenant_id`; nullopt when it is not that tenant's.
std::optional<std::string> app_of_bucket(std::string_view bucket, std::string_view tenant_id);

}  // namespace up::dialects::jodoo
