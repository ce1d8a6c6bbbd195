#include "core/auth.h"

#include <array>
#include <cstring>
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

// The tokens this thread saw lately, for the hot path: each one's hash, so a
// key in use is hashed once rather than per request (SHA-256 and its hex were
// a tenth of a small GET's instructions), and the key it was last verified
// as, so a request within the cache's bound takes no lock (the service's
// mutex, shared by every I/O thread, and its map). Direct-mapped, a few
// entries per thread; a hit is a constant-time comparison of the token. The
// raw tokens stay in memory as the request buffers that carried them do.
struct MemoEntry {
  std::string token;
  TokenHash hash;
  // The service's answer for this token, while `instance` and `generation`
  // are the service's and its cache time `at` is within kCacheMs.
  uint64_t instance = 0;  // 0: none
  uint64_t generation = 0;
  UnixMs at = 0;
  Principal principal;
};

// The entry for `token`, its token and hash filled in.
MemoEntry& memo_entry(std::string_view token) {
  thread_local std::array<MemoEntry, 16> memo;
  // The slot from the length and the last 8 bytes (a token has 16 at least):
  // cheaper than hashing it all, and a collision only costs a SHA-256.
  uint64_t tail = 0;
  std::memcpy(&tail, token.data() + token.size() - 8, 8);
  const uint64_t mixed = (tail ^ token.size()) * 0x9E3779B97F4A7C15ull;
  MemoEntry& e = memo[(mixed >> 60) % memo.size()];
  if (e.token.empty() || !crypto::equal_constant_time(e.token, token)) {
    e.hash = hash_token(token);
    e.token.assign(token);
    e.instance = 0;
  }
  return e;
}

std::atomic<uint64_t> next_instance{1};

constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokenLength = 256;

// Whether every byte of `s` is printable ASCII but space (0x21-0x7E), 8 bytes
// a step. REQUIRES: s.size() >= 8.
bool all_visible_ascii(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  uint64_t flagged = 0;  // a high bit where a byte is <= 0x20 or >= 0x7F
  const auto check = [&flagged](const char* at) {
    uint64_t w = 0;
    std::memcpy(&w, at, 8);
    // Below 0x21: the borrow of w - 0x21 reaches the high bit of a byte < 0x80.
    // 0x7F and up: w + 0x01 sets the high bit of 0x7F; bytes >= 0x80 have it.
    flagged |= ((w - kOnes * 0x21) & ~w & kHigh) | ((w & ~kHigh) + kOnes) | w;
  };
  for (size_t i = 0; i + 8 <= s.size(); i += 8) check(s.data() + i);
  check(s.data() + s.size() - 8);
  return (flagged & kHigh) == 0;
}

}  // namespace

bool Principal::is_root() const {
  return role == KeyRole::kAdmin && tenant_id == Directory::kDefaultTenant;
}

AuthService::AuthService(meta::MetaStore& meta, const Clock& clock)
    : meta_(meta), clock_(clock), instance_(next_instance.fetch_add(1)) {}

bool AuthService::well_formed(std::string_view token) {
  if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) return false;
  return all_visible_ascii(token);
}

std::optional<Result<Principal>> AuthService::authenticate_cached(std::string_view token) {
  if (!well_formed(token)) return fail(Errc::kUnauthenticated);
  MemoEntry& e = memo_entry(token);
  const UnixMs now = clock_.now();
  // This thread verified this very token against the cache lately: the same
  // answer, within the same bound, and none once keys were disabled or deleted.
  if (e.instance == instance_ && e.generation == generation_.load(std::memory_order_acquire) &&
      now - e.at < kCacheMs)
    return e.principal;
  std::lock_guard lock(mu_);
  auto it = cache_.find(e.hash.key_id);
  if (it == cache_.end() || now - it->second.at >= kCacheMs) return std::nullopt;
  if (!crypto::equal_constant_time(it->second.secret_sha256, e.hash.sha256_hex))
    return fail(Errc::kUnauthenticated);
  e.instance = instance_;
  e.generation = generation_.load(std::memory_order_relaxed);  // mu_ held: as cache_ is
  e.at = it->second.at;
  e.principal = it->second.principal;
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
  forget_cached();
  return ok();
}

Status AuthService::delete_key(std::string_view key_id) {
  UP_TRY(meta_.delete_key(key_id));
  std::lock_guard lock(mu_);
  cache_.clear();
  forget_cached();
  return ok();
}

}  // namespace up::core
