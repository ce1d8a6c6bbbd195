#pragma once
// A BlobStore in memory, for tests. Same semantics as the local store (locator
// rules, invisible until commit, never overwrites, idempotent remove); thread-safe.
// Writers and readers may outlive the store. Nothing survives a crash, so
// remove_stale_temporaries() always finds nothing.

#include "storage/blob_store.h"

namespace up::storage {

BlobStorePtr make_memory_blob_store();

}  // namespace up::storage
