#pragma once
// Reading, listing and deleting stored objects.

#include <cstdint>
#include <string>

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

// Thread-safe; every call but open_blob blocks.
class FileService {
 public:
  FileService(meta::MetaStore& meta, storage::BlobStore& blobs, const Clock& clock);

  // kObjectNotFound for unknown, deleted, expired and other tenants' objects.
  Result<Object> get(std::string_view tenant_id, std::string_view id);
  Result<Object> get_by_key(std::string_view tenant_id, std::string_view app_id,
                            std::string_view key);
  // `length` bytes of the object's blob from `offset` (clipped to its end).
  net::awaitable<Result<ObjectReader>> open_blob(const Object& object, uint64_t offset = 0,
                                                 uint64_t length = UINT64_MAX);
  // Live objects only (expired ones are hidden even before the sweeper runs).
  Result<ObjectPage> list(ObjectQuery query);
  // Idempotent: deleting an unknown or already deleted object succeeds.
  // The blob goes with the next sweep.
  Status remove(std::string_view tenant_id, std::string_view id);
  Status set_state(std::string_view tenant_id, std::string_view id, ObjectState state,
                   std::optional<UnixMs> expires_at);

 private:
  bool live(const Object& o) const;

  meta::MetaStore& meta_;
  storage::BlobStore& blobs_;
  const Clock& clock_;
};

}  // namespace up::core
