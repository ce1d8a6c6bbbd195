#include "core/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace up::crypto {
namespace {

// The digest's implementation, fetched once: with EVP_sha256() and the like,
// OpenSSL 3 looks it up again on every EVP_DigestInit_ex (locks and a hash
// lookup), which showed in the profile of small downloads (the key's SHA-256).
// The legacy pointer if the fetch fails; the init then reports the failure.
const EVP_MD* fetched(const char* name, const EVP_MD* legacy) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md ? md : legacy;
}

const EVP_MD* md_of(Digest::Algo algo) {
  static const EVP_MD* const sha256 = fetched("SHA256", EVP_sha256());
  static const EVP_MD* const md5 = fetched("MD5", EVP_md5());
  static const EVP_MD* const sha1 = fetched("SHA1", EVP_sha1());
  switch (algo) {
    case Digest::Algo::kSha256: return sha256;
    case Digest::Algo::kMd5: return md5;
    case Digest::Algo::kSha1: return sha1;
  }
  return sha256;
}

std::string one_shot(Digest::Algo algo, std::string_view data) {
  Digest d(algo);
  d.update(data);
  return d.final();
}

// HMAC through a MAC context kept per thread and digest. OpenSSL 3's one-shot
// HMAC() fetches the MAC and its digest on every call (locks and lookups),
// which was a third of a signed-link download's instructions. The digest is
// set once; each call only re-keys the context.
class HmacContext {
 public:
  explicit HmacContext(const char* digest) {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end()};
    // Allocation failure of a MAC context is not recoverable here.
    if (!ctx_ || EVP_MAC_CTX_set_params(ctx_, params) != 1) std::abort();
  }
  ~HmacContext() {
    EVP_MAC_CTX_free(ctx_);
    OPENSSL_cleanse(key_.data(), key_.size());
  }
  HmacContext(const HmacContext&) = delete;
  HmacContext& operator=(const HmacContext&) = delete;

  std::string mac(std::string_view key, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    size_t len = 0;
    int keyed = 0;
    // The same key as the last call's (a signed link's secret, every time):
    // the context restarts from its keyed state, without hashing the key and
    // pads again. That state is as secret as the key it keeps a copy of.
    if (keyed_ && equal_constant_time(key, key_)) {
      keyed = EVP_MAC_init(ctx_, nullptr, 0, nullptr);
    } else {
      // An empty key is a valid HMAC key; a null pointer would mean "keep the last one".
      static const unsigned char kNoKey = 0;
      const auto* k = key.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(key.data());
      OPENSSL_cleanse(key_.data(), key_.size());
      key_.assign(key);
      keyed = EVP_MAC_init(ctx_, k, key.size(), nullptr);
      keyed_ = keyed == 1;
    }
    if (keyed != 1 ||
        EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
            1 ||
        EVP_MAC_final(ctx_, out.data(), &len, out.size()) != 1)
      std::abort();
    return std::string(reinterpret_cast<const char*>(out.data()), len);
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
  std::string key_;  // the key the context holds, when keyed_
  bool keyed_ = false;
};

}  // namespace

struct Digest::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Digest::Digest(Algo algo) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  // Allocation failure of a digest context is not recoverable here.
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, md_of(algo), nullptr) != 1) std::abort();
}
Digest::~Digest() = default;
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;

void Digest::update(std::string_view data) {
  EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

Digest Digest::copy() const {
  Digest d(Algo::kSha256);  // its state is replaced by this one's
  if (EVP_MD_CTX_copy_ex(d.impl_->ctx, impl_->ctx) != 1) std::abort();
  return d;
}

std::string Digest::final() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, out.data(), &len);
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string sha256(std::string_view data) { return one_shot(Digest::Algo::kSha256, data); }
std::string sha1(std::string_view data) { return one_shot(Digest::Algo::kSha1, data); }
std::string md5(std::string_view data) { return one_shot(Digest::Algo::kMd5, data); }
std::string hmac_sha1(std::string_view key, std::string_view data) {
  thread_local HmacContext ctx("SHA1");
  return ctx.mac(key, data);
}
std::string hmac_sha256(std::string_view key, std::string_view data) {
  thread_local HmacContext ctx("SHA256");
  return ctx.mac(key, data);
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  // As CRYPTO_memcmp, but 8 bytes a step: its byte loop over an API key's token
  // and secret hash was 3% of a small GET's instructions. The empty asm keeps
  // the compiler from stopping at the first difference.
  if (a.size() != b.size()) return false;
  uint64_t diff = 0;
  size_t i = 0;
  for (; i + 8 <= a.size(); i += 8) {
    uint64_t x = 0, y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    diff |= x ^ y;
    asm volatile("" : "+r"(diff));
  }
  for (; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    asm volatile("" : "+r"(diff));
  }
  return diff == 0;
}

std::string to_hex(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string encode(std::string_view raw, bool url, bool pad) {
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  size_t i = 0;
  auto put = [&](unsigned v) {
    char c = kB64[v & 63];
    if (url && c == '+') c = '-';
    if (url && c == '/') c = '_';
    out.push_back(c);
  };
  for (; i + 3 <= raw.size(); i += 3) {
    unsigned v =
        (unsigned char)raw[i] << 16 | (unsigned char)raw[i + 1] << 8 | (unsigned char)raw[i + 2];
    put(v >> 18);
    put(v >> 12);
    put(v >> 6);
    put(v);
  }
  size_t rest = raw.size() - i;
  if (rest == 1) {
    unsigned v = (unsigned char)raw[i] << 16;
    put(v >> 18);
    put(v >> 12);
    if (pad) out += "==";
  } else if (rest == 2) {
    unsigned v = (unsigned char)raw[i] << 16 | (unsigned char)raw[i + 1] << 8;
    put(v >> 18);
    put(v >> 12);
    put(v >> 6);
    if (pad) out += "=";
  }
  return out;
}
}  // namespace

std::string base64(std::string_view raw) { return encode(raw, false, true); }
std::string base64url(std::string_view raw, bool pad) { return encode(raw, true, pad); }

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out.reserve(in.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else return false;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

uint32_t crc32_update(uint32_t crc, std::string_view data) {
  // zlib's is table-braided: several times faster than a byte-wise loop.
  while (!data.empty()) {
    const auto n = static_cast<uInt>(std::min<size_t>(data.size(), 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, reinterpret_cast<const Bytef*>(data.data()), n));
    data.remove_prefix(n);
  }
  return crc;
}

}  // namespace up::crypto
