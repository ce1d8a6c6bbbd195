#pragma once
// The local store's staged blobs (BlobStore::extend and seal): a resumable
// upload's bytes appended in place to the file at the blob's own path,
// request after request, so completing the upload links that file under the
// final locator instead of copying it.
//
// One writer at a time, in any process: the file is locked (flock) from
// extend() until its writer goes, and seal() takes the same lock. A sealed
// file has a second link (its final locator), which is how extend() knows
// never to write it again.

#include <cstdint>

#include "core/blocking.h"
#include "core/result.h"
#include "storage/blob_store.h"
#include "storage/local/local_files.h"

namespace up::storage {

// Blocking (open, lock, truncate). The writer's appends run on the caller's
// thread and its commit (fsync) on `pool`; `reserve` and `pool` outlive it.
// `size_hint`: the bytes it will append, when known (FileAppender's `expected`).
Result<BlobWriterPtr> extend_staged(const BlobPath& path, uint64_t at,
                                    std::optional<uint64_t> size_hint, const DiskReserve& reserve,
                                    core::BlockingPool& pool);

// Blocking. kObjectNotFound without the staged file; kAlreadyExists when
// `dest` exists.
Status seal_staged(const BlobPath& staged, uint64_t size, const BlobPath& dest);

}  // namespace up::storage
