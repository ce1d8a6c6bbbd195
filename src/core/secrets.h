#pragma once
// Server-held secrets. One master key, made on first start and kept in the data
// directory (mode 0600), or in the file --master-key names (which several
// processes sharing one database point at); every signing key (a tenant's
// Qiniu secret key, the S3 form credentials, download links) is derived from
// it by purpose, so no such key is stored anywhere else and none ever leaves
// the server. Rotating a dialect key means deriving under a new purpose (e.g.
// bumping a version).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace up::core {

// Thread-safe (immutable after construction).
class Secrets {
 public:
  explicit Secrets(std::string master_key) : master_(std::move(master_key)) {}
  // Reads the master key from `path`, creating it (32 random bytes, 0600,
  // fsynced, appearing whole) if the file does not exist. Processes opening
  // one path together all get the key of whichever created it.
  static Result<Secrets> open_or_create(const std::string& path);

  // HMAC-SHA256(master, purpose): a stable 32-byte key for one purpose,
  // e.g. "qiniu-sk/<tenant>/v1". Use raw, or hex/base64 it for a printable key.
  std::string derive(std::string_view purpose) const;

 private:
  std::string master_;
};

// Signed, expiring download links that upgate serves itself
// (GET /v1/links/{tenant}/{object id}?expires=<unix s>&signature=<hex>, in the
// native dialect). Dialects hand them out as their "download url".
class DownloadLinks {
 public:
  DownloadLinks(const Secrets& secrets, const Clock& clock);
  // The path and query of a link (append to the public base URL).
  std::string path_for(std::string_view tenant_id, std::string_view object_id,
                       UnixMs expires_at) const;
  // kGrantInvalid for a bad signature, kGrantExpired past `expires_unix_s`.
  Status verify(std::string_view tenant_id, std::string_view object_id,
                std::string_view expires_unix_s, std::string_view signature_hex) const;

 private:
  static std::string message(std::string_view tenant_id, std::string_view object_id,
                             std::string_view expires);
  std::string sign(std::string_view tenant_id, std::string_view object_id,
                   std::string_view expires) const;
  // Whether `signature_hex` is the signature of `message`.
  bool signed_here(const std::string& message, std::string_view signature_hex) const;
  std::string key_;
  const Clock& clock_;
  // Unique per instance made (copies share it, and the key with it): names
  // the key in the signatures a thread remembers verifying.
  uint64_t id_;
};

}  // namespace up::core
