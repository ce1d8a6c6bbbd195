#include "core/secrets.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "core/crypto.h"
#include "core/file_modes.h"
#include "core/ids.h"

namespace up::core {

namespace {

Result<std::optional<std::string>> read_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<std::string>();
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < 32) return fail(Errc::kInternal, "master key in " + path + " is too short");
  return std::optional<std::string>(std::move(key));
}

}  // namespace

Result<Secrets> Secrets::open_or_create(const std::string& path) {
  auto existing = read_key(path);
  if (!existing) return fail(existing.error());
  if (*existing) return Secrets(std::move(**existing));
  // Written and synced under a private name, then linked into place: processes
  // sharing the file (--master-key) and starting together never read half a
  // key, and link() refuses if another made it first, whose key is then used.
  const std::string tmp = path + ".tmp-" + random_hex(8);
  std::string key = random_hex(32);
  UP_TRY(write_secret_file(tmp, key));
  const int linked = ::link(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
  ::unlink(tmp.c_str());
  if (linked == EEXIST) {
    auto theirs = read_key(path);
    if (!theirs) return fail(theirs.error());
    if (*theirs) return Secrets(std::move(**theirs));
  }
  if (linked != 0)
    return fail(Errc::kStorageIo, "cannot create " + path + ": " + std::strerror(linked));
  return Secrets(std::move(key));
}

std::string Secrets::derive(std::string_view purpose) const {
  return crypto::hmac_sha256(master_, purpose);
}

namespace {
std::atomic<uint64_t> next_links_id{1};
}  // namespace

DownloadLinks::DownloadLinks(const Secrets& secrets, const Clock& clock)
    : key_(secrets.derive("download-links/v1")), clock_(clock), id_(next_links_id++) {}

std::string DownloadLinks::message(std::string_view tenant_id, std::string_view object_id,
                                   std::string_view expires) {
  std::string msg;
  msg.reserve(tenant_id.size() + object_id.size() + expires.size() + 2);
  msg.append(tenant_id).push_back('\n');
  msg.append(object_id).push_back('\n');
  msg.append(expires);
  return msg;
}

std::string DownloadLinks::sign(std::string_view tenant_id, std::string_view object_id,
                                std::string_view expires) const {
  return crypto::to_hex(crypto::hmac_sha256(key_, message(tenant_id, object_id, expires)));
}

bool DownloadLinks::signed_here(const std::string& message, std::string_view signature_hex) const {
  // The links this thread verified lately: a link is fetched again and again
  // (every GET of a shared file), and its HMAC was a fifth of such a GET. A
  // hit needs the same key, the same message and the same signature, compared
  // in constant time as the HMAC's would be; only valid signatures are kept,
  // so a wrong one is always checked by the HMAC. Direct-mapped, a few per
  // thread.
  struct Verified {
    uint64_t links_id = 0;
    std::string message, signature_hex;
  };
  thread_local std::array<Verified, 8> memo;
  Verified& e = memo[std::hash<std::string_view>{}(message) % memo.size()];
  if (e.links_id == id_ && e.message == message &&
      crypto::equal_constant_time(e.signature_hex, signature_hex))
    return true;
  if (!crypto::equal_constant_time(crypto::to_hex(crypto::hmac_sha256(key_, message)),
                                   signature_hex))
    return false;
  e.links_id = id_;
  e.message = message;
  e.signature_hex.assign(signature_hex);
  return true;
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
  if (!signed_here(message(tenant_id, object_id, expires_unix_s), signature_hex))
    return fail(Errc::kGrantInvalid, "bad link signature");
  if (expires * 1000 < clock_.now()) return fail(Errc::kGrantExpired, "link expired");
  return ok();
}

}  // namespace up::core
