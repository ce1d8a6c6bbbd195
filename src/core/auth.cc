#include "core/auth.h"

#include <array>
#include <functional>

#include "core/crypto.h"
#include "core/directory.h"
#include "core/ids.h"
#include "meta/meta_store.h"

namespace up::core {
namespace {

// A key's id is derived from its token (the first 16 hex digits of the token's
// SHA-256), so a token needs no structure and a lookup needs no scan. The full
// SHA-256 is then compared in constant time.
struct TokenHash {
  std::string key_id;
  std::string sha256_hex;
};

TokenHash hash_token(std::string_view token) {
  TokenHash h;
  h.sha256_hex = crypto::to_hex(crypto::sha256(token));
  h.key_id = h.sha256_hex.substr(0, 16);
  return h;
}

// hash_token for the hot path: the tokens this thread hashed lately, so a key
// in use is hashed once rather than per request (SHA-256 and its hex were a
// tenth of a small GET's instructions). Direct-mapped, a few entries per
// thread; a hit is a constant-time comparison. The raw tokens stay in memory
// as the request buffers that carried them do.
const TokenHash& hash_token_remembered(std::string_view token) {
  struct Entry {
    std::string token;
    TokenHash hash;
  };
  thread_local std::array<Entry, 16> memo;
  Entry& e = memo[std::hash<std::string_view>{}(token) % memo.size()];
  if (e.token.empty() || !crypto::equal_constant_time(e.token, token)) {
    e.hash = hash_token(token);
    e.token.assign(token);
  }
  return e.hash;
}

constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokenLength = 256;

}  // namespace

bool Principal::is_root() const {
  return role == KeyRole::kAdmin && tenant_id == Directory::kDefaultTenant;
}

AuthService::AuthService(meta::MetaStore& meta, const Clock& clock) : meta_(meta), clock_(clock) {}

bool AuthService::well_formed(std::string_view token) {
  if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) return false;
  for (unsigned char c : token)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

std::optional<Result<Principal>> AuthService::authenticate_cached(std::string_view token) {
  if (!well_formed(token)) return fail(Errc::kUnauthenticated);
  const TokenHash& h = hash_token_remembered(token);
  std::lock_guard lock(mu_);
  auto it = cache_.find(h.key_id);
  if (it == cache_.end() || clock_.now() - it->second.at >= kCacheMs) return std::nullopt;
  if (!crypto::equal_constant_time(it->second.secret_sha256, h.sha256_hex))
    return fail(Errc::kUnauthenticated);
  return it->second.principal;
}

Result<Principal> AuthService::authenticate(std::string_view token) {
  if (auto cached = authenticate_cached(token)) return std::move(*cached);
  const TokenHash h = hash_token(token);
  const UnixMs now = clock_.now();
  auto key = meta_.get_key(h.key_id);
  if (!key) {
    if (key.error().code == Errc::kKeyNotFound) return fail(Errc::kUnauthenticated);
    return fail(key.error());
  }
  if (!crypto::equal_constant_time(key->secret_sha256, h.sha256_hex))
    return fail(Errc::kUnauthenticated);
  if (!key->enabled) return fail(Errc::kKeyDisabled);
  Principal p{key->tenant_id, key->id, key->role, key->app_id};
  std::lock_guard lock(mu_);
  cache_.insert_or_assign(h.key_id, Cached{p, h.sha256_hex, now});
  return p;
}

Result<CreatedKey> AuthService::create_key(std::string_view tenant_id, std::string name,
                                           KeyRole role, std::string app_id) {
  std::string token = "upk_" + random_token(40);
  auto key = ensure_key(tenant_id, token, std::move(name), role, std::move(app_id));
  if (!key) return fail(key.error());
  return CreatedKey{std::move(*key), std::move(token)};
}

Result<ApiKey> AuthService::ensure_key(std::string_view tenant_id, std::string_view token,
                                       std::string name, KeyRole role, std::string app_id) {
  if (!well_formed(token))
    return fail(Errc::kInvalidArgument, "a key must be 16-256 printable ASCII characters");
  const TokenHash h = hash_token(token);
  auto same_key = [&]() -> Result<ApiKey> {
    auto existing = meta_.get_key(h.key_id);
    if (!existing) return fail(existing.error());
    if (existing->tenant_id == tenant_id &&
        crypto::equal_constant_time(existing->secret_sha256, h.sha256_hex))
      return *existing;
    return fail(Errc::kAlreadyExists, "a different key with this id exists");
  };
  if (auto existing = same_key(); existing || existing.error().code != Errc::kKeyNotFound)
    return existing;
  ApiKey k;
  k.id = h.key_id;
  k.tenant_id = std::string(tenant_id);
  k.name = std::move(name);
  k.role = role;
  k.app_id = std::move(app_id);
  k.secret_sha256 = h.sha256_hex;
  k.enabled = true;
  k.created_at = clock_.now();
  if (auto created = meta_.create_key(k, kMaxKeysPerTenant); !created) {
    // Processes started together with one bootstrap key race to create it:
    // the losers find the winner's, which is the same key.
    if (created.error().code == Errc::kAlreadyExists) return same_key();
    return fail(created.error());
  }
  return k;
}

Result<std::vector<ApiKey>> AuthService::list_keys(std::string_view tenant_id) {
  return meta_.list_keys(tenant_id);
}

Result<ApiKey> AuthService::get_key(std::string_view key_id) { return meta_.get_key(key_id); }

Status AuthService::set_key_enabled(std::string_view key_id, bool enabled) {
  UP_TRY(meta_.set_key_enabled(key_id, enabled));
  std::lock_guard lock(mu_);
  cache_.clear();
  return ok();
}

Status AuthService::delete_key(std::string_view key_id) {
  UP_TRY(meta_.delete_key(key_id));
  std::lock_guard lock(mu_);
  cache_.clear();
  return ok();
}

}  // namespace up::core
