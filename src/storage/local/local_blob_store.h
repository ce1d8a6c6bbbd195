#pragma once
// A BlobStore over a folder on a local file system.
//
// Layout under `root`:
//   blobs/<aa>/<bb>/<locator>   committed blobs; aa/bb are the first two bytes of
//                               FNV-1a(locator) in hex, so time-ordered ids spread
//                               over 65536 folders instead of piling into one
//   tmp/<unique>.tmp            writers in progress (and leftovers of crashes)
//
// Durability: commit() fsyncs the file, then renames it into place without ever
// replacing an existing blob, then fsyncs the folder that received it.
// The store object is thread-safe; writers and readers are not (one per caller).

#include <string>

#include "core/result.h"
#include "storage/blob_store.h"

namespace up::storage {

// Opens (creating if needed) a store rooted at `root`. kStorageIo when the
// folders cannot be created or are not accessible.
Result<BlobStorePtr> open_local_blob_store(const std::string& root);

}  // namespace up::storage
