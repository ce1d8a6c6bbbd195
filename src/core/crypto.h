#pragma once
// Hashes, HMACs and encodings over OpenSSL. No I/O.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace up::crypto {

// Streaming SHA-256 / MD5 / SHA-1 (incremental update, then final()).
class Digest {
 public:
  enum class Algo { kSha256, kMd5, kSha1 };
  explicit Digest(Algo algo);
  ~Digest();
  Digest(Digest&&) noexcept;
  Digest& operator=(Digest&&) noexcept;
  void update(std::string_view data);
  // A digest in the same state, continued independently (a running hash kept
  // between requests).
  Digest copy() const;
  // Raw digest bytes; the object must not be updated afterwards.
  std::string final();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256(std::string_view data);                             // raw 32 bytes
std::string sha1(std::string_view data);                               // raw 20 bytes
std::string md5(std::string_view data);                                // raw 16 bytes
std::string hmac_sha1(std::string_view key, std::string_view data);    // raw 20 bytes
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes

// Constant-time equality (lengths may differ; that is not hidden).
bool equal_constant_time(std::string_view a, std::string_view b);

std::string to_hex(std::string_view raw);
std::string base64(std::string_view raw);               // standard, padded
std::string base64url(std::string_view raw, bool pad);  // '-' '_'
// Accepts standard and url-safe alphabets, padded or not; nullopt-like empty+false on error.
bool base64_decode(std::string_view in, std::string& out);

// CRC-32 (IEEE, as zlib's crc32), incremental: crc = crc32_update(crc, data), start at 0.
uint32_t crc32_update(uint32_t crc, std::string_view data);

}  // namespace up::crypto
