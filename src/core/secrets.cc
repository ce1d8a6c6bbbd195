#include "core/secrets.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/crypto.h"
#include "core/file_modes.h"
#include "core/ids.h"

namespace up::core {

Result<Secrets> Secrets::open_or_create(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string key = random_hex(32);
    UP_TRY(write_secret_file(path, key));
    return Secrets(std::move(key));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < 32) return fail(Errc::kInternal, "master key in " + path + " is too short");
  return Secrets(std::move(key));
}

std::string Secrets::derive(std::string_view purpose) const {
  return crypto::hmac_sha256(master_, purpose);
}

DownloadLinks::DownloadLinks(const Secrets& secrets, const Clock& clock)
    : key_(secrets.derive("download-links/v1")), clock_(clock) {}

std::string DownloadLinks::sign(std::string_view tenant_id, std::string_view object_id,
                                std::string_view expires) const {
  std::string msg;
  msg.append(tenant_id).push_back('\n');
  msg.append(object_id).push_back('\n');
  msg.append(expires);
  return crypto::to_hex(crypto::hmac_sha256(key_, msg));
}

std::string DownloadLinks::path_for(std::string_view tenant_id, std::string_view object_id,
                                    UnixMs expires_at) const {
  std::string expires = std::to_string((expires_at + 999) / 1000);
  std::string path = "/v1/links/";
  path.append(tenant_id).push_back('/');
  path.append(object_id);
  path += "?expires=" + expires + "&signature=" + sign(tenant_id, object_id, expires);
  return path;
}

Status DownloadLinks::verify(std::string_view tenant_id, std::string_view object_id,
                             std::string_view expires_unix_s,
                             std::string_view signature_hex) const {
  int64_t expires = 0;
  auto [end, ec] = std::from_chars(expires_unix_s.data(),
                                   expires_unix_s.data() + expires_unix_s.size(), expires);
  if (ec != std::errc() || end != expires_unix_s.data() + expires_unix_s.size())
    return fail(Errc::kGrantInvalid, "bad link expiry");
  if (!crypto::equal_constant_time(sign(tenant_id, object_id, expires_unix_s), signature_hex))
    return fail(Errc::kGrantInvalid, "bad link signature");
  if (expires * 1000 < clock_.now()) return fail(Errc::kGrantExpired, "link expired");
  return ok();
}

}  // namespace up::core
