#pragma once
// API keys: creation, verification and lifecycle. A key is presented as a
// bearer token ("upk_" + 40 random characters when upgate makes it); only its
// SHA-256 is stored, and it is compared in constant time.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/types.h"

namespace up::meta {
class MetaStore;
}

namespace up::core {

// Who a request acts as.
struct Principal {
  std::string tenant_id;
  std::string key_id;
  KeyRole role = KeyRole::kMember;
  std::string app_id;  // empty: any app of the tenant
  // An admin key of the default tenant: may manage every tenant.
  bool is_root() const;
  bool is_admin() const { return role == KeyRole::kAdmin; }
};

struct CreatedKey {
  ApiKey key;
  std::string token;  // shown once; never stored
};

// Thread-safe. Calls may block on the metadata store.
class AuthService {
 public:
  static constexpr uint32_t kMaxKeysPerTenant = 500;
  // Verified keys are cached this long, so a key disabled by another process
  // stops working within this time (at once in this process).
  static constexpr UnixMs kCacheMs = 2000;

  AuthService(meta::MetaStore& meta, const Clock& clock);

  Result<Principal> authenticate(std::string_view token);
  // The answer when the cache alone can give it (a malformed token, a key
  // verified within kCacheMs), else empty. Never touches the store, so an I/O
  // thread may call it and go to the blocking pool only on a miss.
  std::optional<Result<Principal>> authenticate_cached(std::string_view token);

  Result<CreatedKey> create_key(std::string_view tenant_id, std::string name, KeyRole role,
                                std::string app_id = {});
  // Creates a key with a caller-chosen token (the bootstrap key); idempotent
  // when a key with that token already exists, also when processes sharing the
  // store create it at once. kAlreadyExists if that key id belongs to another
  // token or tenant; kInvalidArgument for a token not of 16-256 printable ASCII
  // characters.
  Result<ApiKey> ensure_key(std::string_view tenant_id, std::string_view token, std::string name,
                            KeyRole role, std::string app_id = {});
  Result<std::vector<ApiKey>> list_keys(std::string_view tenant_id);
  Result<ApiKey> get_key(std::string_view key_id);
  Status set_key_enabled(std::string_view key_id, bool enabled);
  Status delete_key(std::string_view key_id);

  static bool well_formed(std::string_view token);

 private:
  // Drops every thread's copy of this service's cached keys (ThreadMemo in
  // auth.cc). REQUIRES: mu_ held, cache_ just cleared.
  void forget_cached() { generation_.fetch_add(1, std::memory_order_release); }

  meta::MetaStore& meta_;
  const Clock& clock_;
  // Tells this service's entries in a thread's memo from another's that had
  // its address (tests make many).
  const uint64_t instance_;
  // Bumped when keys are disabled or deleted: a thread's memo of a verified
  // key counts only while it is equal.
  std::atomic<uint64_t> generation_{0};
  std::mutex mu_;
  struct Cached {
    Principal principal;
    std::string secret_sha256;
    UnixMs at;
  };
  std::map<std::string, Cached, std::less<>> cache_;  // by key id
};

}  // namespace up::core
