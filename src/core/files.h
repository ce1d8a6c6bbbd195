#pragma once
// Reading, listing and deleting stored objects.

#include <string>

#include "core/clock.h"
#include "core/queries.h"
#include "core/result.h"
#include "core/types.h"
#include "storage/blob_store.h"

namespace up::meta {
class MetaStore;
}

namespace up::core {

struct OpenedObject {
  Object object;
  storage::BlobReaderPtr reader;
};

// Thread-safe; every call blocks.
class FileService {
 public:
  FileService(meta::MetaStore& meta, storage::BlobStore& blobs, const Clock& clock);

  // kObjectNotFound for unknown, deleted, expired and other tenants' objects.
  Result<Object> get(std::string_view tenant_id, std::string_view id);
  Result<Object> get_by_key(std::string_view tenant_id, std::string_view app_id,
                            std::string_view key);
  Result<OpenedObject> open(std::string_view tenant_id, std::string_view id);
  Result<storage::BlobReaderPtr> open_blob(const Object& object);
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
