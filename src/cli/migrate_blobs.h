#pragma once
// `upgate migrate-blobs --from local:./data --to s3://bucket/prefix?...`:
// copies the blobs of files from one BlobStore to another through the
// interface, so any pair works (local -> S3, S3 -> local, S3 -> S3). For
// users who move to several processes (issue 15); the metadata stays where it
// is, and so does the server's configuration: the summary names the flag to
// switch with.
//
// Which blobs: those a file row references (any state). A blob no row
// references is an orphan the sweeper would remove, or an upload in flight
// whose row is not committed yet; it is counted ("unreferenced"), not copied.
// The run after the server is stopped copies those that got a row meanwhile.
//
// Verification: every copied blob is hashed (SHA-256) while it streams from
// the source and must match its file row's size and hash before the copy is
// committed (a corrupt source is reported, never copied); then the committed
// copy is read back from the destination and hashed again.
//
// Resume: a blob already at the destination is read there and, if its size
// and hash match the row, skipped. Writers commit atomically, so an
// interrupted run leaves no partial blob visible (an abandoned S3 multipart
// upload goes with the next sweep's stale-upload pass).

#include <cstdint>
#include <string>

#include "core/result.h"

namespace up::meta {
class MetaStore;
}
namespace up::storage {
class BlobStore;
}

namespace up::cli {

struct MigrateBlobsOptions {
  // The --to value, shown in the summary as the flag to switch with.
  std::string to_spec;
  // Stop after this many copies (0: no limit): a migration in batches.
  uint64_t max_copies = 0;
  // Blobs migrated at once.
  unsigned jobs = 4;
};

struct MigrateBlobsSummary {
  uint64_t copied = 0, skipped = 0, failed = 0, unreferenced = 0;
  uint64_t bytes_copied = 0, bytes_skipped = 0;
  bool complete = false;  // every source blob was looked at (no --max-copies stop)
};

// Copies as described above, printing one JSON line per failed blob, a
// progress line every few seconds and a summary line. A failed blob does not
// stop the run; an error that concerns the stores themselves (a listing or
// metadata lookup that fails) does, and is returned.
Result<MigrateBlobsSummary> migrate_blobs(meta::MetaStore& meta, storage::BlobStore& from,
                                          storage::BlobStore& to,
                                          const MigrateBlobsOptions& options);

}  // namespace up::cli
