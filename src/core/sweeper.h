#pragma once
// Background lifecycle shared by every dialect: expires transactions, used
// grants and objects past their expiry (temporaries nobody bound, TTL'd files),
// and removes deleted objects in a crash-safe order:
//   1. the row is marked deleted (invisible at once, out of the usage totals),
//   2. the blob is removed,
//   3. the row is dropped.
// A crash between any two steps is finished by the next sweep; a blob is never
// removed while a live row references it. Orphans (a blob committed by an
// upload that crashed before its metadata commit) and stale temporaries are
// removed once older than a grace period, so uploads in flight are never hit.
// Several processes sharing the stores sweep one at a time: each pass of the
// background sweeper first takes a lease (take_lease); a crashed holder's
// lease runs out after its ttl and another process takes over.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace up::meta {
class MetaStore;
}
namespace up::storage {
class BlobStore;
}

namespace up::core {

struct SweepStats {
  uint64_t expired_objects = 0;
  uint64_t purged_objects = 0;
  uint64_t expired_transactions = 0;
  uint64_t orphan_blobs = 0;
  uint64_t stale_temporaries = 0;
};

class Sweeper {
 public:
  Sweeper(meta::MetaStore& meta, storage::BlobStore& blobs, const Clock& clock);

  static constexpr std::string_view kLeaseName = "sweeper";

  // Takes or renews the sweeper's lease for this process until now + ttl_ms:
  // false while another process holds it (then skip the pass). Blocking.
  Result<bool> take_lease(UnixMs ttl_ms);
  // Who this process is as a lease holder (random per Sweeper).
  const std::string& holder() const { return holder_; }

  // One pass over expiries and deletions, and the shared state that expires
  // (rate windows, cursors). Runs whoever holds the lease. Blocking.
  Result<SweepStats> sweep();
  // Only the first step: objects past their expiry leave the usage totals now
  // (for quota checks that must not count them). Returns how many. Blocking.
  Result<uint64_t> expire_due();
  // Removes orphan blobs and temp files last written before now - grace_ms.
  // Walks the whole blob store: run at start-up and now and then, not often.
  Result<SweepStats> collect_orphans(UnixMs grace_ms);
  // Whether another process may share the metadata or the blob store: then
  // nothing may be collected without a grace period (no start-up sweep at 0).
  bool stores_shared() const;

 private:
  meta::MetaStore& meta_;
  storage::BlobStore& blobs_;
  const Clock& clock_;
  std::string holder_;
};

}  // namespace up::core
