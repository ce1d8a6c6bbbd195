#include "dialects/jodoo/keys.h"

#include "core/crypto.h"
#include "core/secrets.h"

namespace up::dialects::jodoo {

std::string access_key(std::string_view tenant_id, uint32_t version) {
  return std::string(tenant_id) + ".v" + std::to_string(version);
}

// Tenant ids may contain '.', versions are digits: the last ".v" splits them.
std::optional<AccessKey> parse_access_key(std::string_view ak) {
  const auto dot = ak.rfind(".v");
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  const std::string_view digits = ak.substr(dot + 2);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  AccessKey out;
  out.tenant_id = std::string(ak.substr(0, dot));
  out.version = static_cast<uint32_t>(std::stoul(std::string(digits)));
  return out;
}

// Printable (url-safe base64 of the derived bytes), as Qiniu secret keys are:
// a callback receiver hands it to a Qiniu SDK as a string.
std::string secret_key(const core::Secrets& secrets, std::string_view tenant_id, uint32_t version) {
  return crypto::base64url(
      secrets.derive("qiniu-sk/" + std::string(tenant_id) + "/v" + std::to_string(version)), false);
}

bool version_accepted(uint32_t version, uint32_t current) {
  return version == current || (current > 1 && version == current - 1);
}

std::string bucket_of(std::string_view tenant_id, std::string_view app_id) {
  return std::string(tenant_id) + "." + std::string(app_id);
}

std::optional<std::string> app_of_bucket(std::string_view bucket, std::string_view tenant_id) {
  if (bucket.size() <= tenant_id.size() + 1 || !bucket.starts_with(tenant_id) ||
      bucket[tenant_id.size()] != '.')
    return std::nullopt;
  return std::string(bucket.substr(tenant_id.size() + 1));
}

}  // namespace up::dialects::jodoo
