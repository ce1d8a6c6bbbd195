#pragma once
// Reading, listing and deleting stored objects.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "core/clock.h"
#include "core/object_reader.h"
#include "core/queries.h"
#include "core/result.h"
#include "core/types.h"
#include "storage/blob_store.h"

namespace up::meta {
class MetaStore;
}

namespace up::core {

// Thread-safe; every call but open_blob, open_blob_in_memory and get_cached blocks.
class FileService {
 public:
  // Objects read by get() are kept this long for get_cached (downloads), so an
  // object deleted by another process (or by a record write or a tus replacement
  // in this one) may still be served for this time; a delete through remove()
  // and an expiry take effect at once. Same bound as AuthService::kCacheMs.
  static constexpr UnixMs kCacheMs = 2000;
  static constexpr size_t kCacheEntries = 8192;

  FileService(meta::MetaStore& meta, storage::BlobStore& blobs, const Clock& clock);

  // kObjectNotFound for unknown, deleted, expired and other tenants' objects.
  Result<Object> get(std::string_view tenant_id, std::string_view id);
  // The live object as get() read it within kCacheMs, else empty (a miss, or an
  // entry no longer live: the store decides). Never touches the store, so an
  // I/O thread may call it and go to the blocking pool only on a miss. Shared,
  // not copied: a download only reads it (the cache replaces, never changes, it).
  std::shared_ptr<const Object> get_cached(std::string_view tenant_id, std::string_view id);
  Result<Object> get_by_key(std::string_view tenant_id, std::string_view app_id,
                            std::string_view key);
  // `length` bytes of the object's blob from `offset` (clipped to its end).
  net::awaitable<Result<ObjectReader>> open_blob(const Object& object, uint64_t offset = 0,
                                                 uint64_t length = UINT64_MAX);
  // As open_blob, when the store holds the blob in memory now (a small blob
  // read lately): never blocks nor suspends. Empty otherwise: then open_blob.
  std::optional<ObjectReader> open_blob_in_memory(const Object& object, uint64_t offset = 0,
                                                  uint64_t length = UINT64_MAX);
  // Live objects only (expired ones are hidden even before the sweeper runs).
  Result<ObjectPage> list(ObjectQuery query);
  // Idempotent: deleting an unknown or already deleted object succeeds.
  // The blob goes with the next sweep.
  Status remove(std::string_view tenant_id, std::string_view id);
  Status set_state(std::string_view tenant_id, std::string_view id, ObjectState state,
                   std::optional<UnixMs> expires_at);
  // Drops the tenant's cached objects: for writes that change objects without
  // going through this service (record writes bind and delete files).
  void forget_tenant(std::string_view tenant_id);

 private:
  bool live(const Object& o) const;
  void remember(const Object& o, UnixMs now);
  void forget(std::string_view tenant_id, std::string_view id);

  meta::MetaStore& meta_;
  storage::BlobStore& blobs_;
  const Clock& clock_;
  struct Cached {
    std::shared_ptr<const Object> object;
    UnixMs at;
    const uint64_t* tenant_epoch;  // into tenant_epochs_ (its nodes never move)
    uint64_t epoch;                // *tenant_epoch when cached: stale once it moved on
  };
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;  // key: tenant + '\0' + id
  // forget_tenant() calls per tenant: it drops a tenant's entries in O(1) by
  // counting one up, rather than by scanning the cache under the lock. One
  // entry per tenant ever cached.
  std::unordered_map<std::string, uint64_t> tenant_epochs_;
};

}  // namespace up::core
