#pragma once
// A BlobStore over a folder on a local file system.
//
// Layout under `root`:
//   small-blobs.db          blobs up to small_blob_max bytes, as rows of one
//                           SQLite database (small_blob_pack.h): those up to
//   small-blobs/<id>.pack   8 KiB hold their bytes, larger ones point into
//                           a segment file of appended blobs
//   blobs/<aa>/<locator>    larger blobs, one file each; aa is the first byte of
//                           FNV-1a(locator) in hex, so time-ordered ids spread
//                           over 256 folders instead of piling into one
//                           (staged blobs too: resumable uploads grown in
//                           place, then linked under their final locator;
//                           staged_blob.h)
//   tmp/<s>/<unique>.tmp    files being written (and leftovers of crashes)
//
// Durability: a small blob's commit() joins a group-committed SQLite
// transaction (WAL, synchronous=FULL; core/group_commit.h), awaited without
// holding a thread; a segment's bytes are synced before that commits. A file's commit() fsyncs it,
// renames it into place without ever replacing an existing blob, then fsyncs the folder that got
// it, on the blocking pool. Appends and reads of files run on the caller's thread (page cache); a
// file reader offers its descriptor for sendfile. The store object is thread-safe; writers and
// readers are not (one per caller).

#include <cstdint>
#include <optional>
#include <string>

#include "core/blocking.h"
#include "core/result.h"
#include "storage/blob_store.h"

namespace up::storage {

struct LocalBlobStoreOptions {
  // Blobs up to this size go to the pack; 0 keeps every blob in a file.
  // At most 64 KiB (the writer's buffer): larger values are capped.
  uint64_t small_blob_max = 64 * 1024;
  // Free space on the root's file system that uploads never take, so deletes,
  // sweeps and metadata commits (on the same disk) still find room: writers
  // fail with kDiskFull below it. Unset: the smaller of 1% of the file system
  // and kDefaultReserveMax; 0: no reserve.
  std::optional<uint64_t> reserve_bytes;
  static constexpr uint64_t kDefaultReserveMax = 256ull << 20;
};

// Opens (creating if needed) a store rooted at `root`; its blocking work (fsync,
// rename, the pack's transactions) runs on `pool`, which must outlive it.
// kStorageIo when the folders cannot be created or are not accessible.
Result<BlobStorePtr> open_local_blob_store(const std::string& root, core::BlockingPool& pool,
                                           const LocalBlobStoreOptions& options = {});

}  // namespace up::storage
