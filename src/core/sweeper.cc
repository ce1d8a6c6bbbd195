#include "core/sweeper.h"

#include <vector>

#include "meta/meta_store.h"
#include "storage/blob_store.h"

namespace up::core {
namespace {
constexpr uint32_t kBatch = 500;
}

Sweeper::Sweeper(meta::MetaStore& meta, storage::BlobStore& blobs, const Clock& clock)
    : meta_(meta), blobs_(blobs), clock_(clock) {}

Result<SweepStats> Sweeper::sweep() {
  SweepStats stats;
  const UnixMs now = clock_.now();
  auto txs = meta_.expire_transactions(now);
  if (!txs) return fail(txs.error());
  stats.expired_transactions = *txs;
  UP_TRY(meta_.expire_used_grants(now));
  auto expired = expire_due();
  if (!expired) return fail(expired.error());
  stats.expired_objects = *expired;
  for (;;) {
    auto doomed = meta_.deleted_objects(kBatch);
    if (!doomed) return fail(doomed.error());
    for (const Object& o : *doomed) {
      UP_TRY(blobs_.remove(o.locator));
      UP_TRY(meta_.purge_object(o.id));
      ++stats.purged_objects;
    }
    if (doomed->size() < kBatch) break;
  }
  return stats;
}

Result<uint64_t> Sweeper::expire_due() {
  const UnixMs now = clock_.now();
  uint64_t total = 0;
  for (;;) {
    auto n = meta_.expire_objects(now, kBatch);
    if (!n) return fail(n.error());
    total += *n;
    if (*n < kBatch) return total;
  }
}

Result<SweepStats> Sweeper::collect_orphans(UnixMs grace_ms) {
  SweepStats stats;
  const UnixMs cutoff = clock_.now() - grace_ms;
  // Page by page, so memory stays bounded by a page whatever the store holds.
  std::string after;
  do {
    auto page = blobs_.list("", after, kBatch);
    if (!page) return fail(page.error());
    for (const storage::BlobEntry& e : page->entries) {
      if (e.modified_at >= cutoff) continue;
      auto referenced = meta_.locator_exists(e.locator);
      if (!referenced) return fail(referenced.error());
      if (*referenced) continue;
      UP_TRY(blobs_.remove(e.locator));
      ++stats.orphan_blobs;
    }
    after = std::move(page->next_after);
  } while (!after.empty());
  auto temps = blobs_.remove_stale_temporaries(cutoff);
  if (!temps) return fail(temps.error());
  stats.stale_temporaries = *temps;
  return stats;
}

}  // namespace up::core
