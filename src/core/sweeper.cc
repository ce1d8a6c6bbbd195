#include "core/sweeper.h"

#include <algorithm>
#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "core/object_rules.h"
#include "meta/meta_store.h"
#include "storage/blob_store.h"

namespace up::core {
namespace {
// Rows and blobs per transaction. Larger batches write each touched page
// once for many rows (a sweep of 40,000 took 2.9 s in batches of 500, 1.6 s
// in batches of 1,000, the same in 2,000), but hold the metadata and pack
// locks longer: about 10-20 ms each here, which uploads wait out.
constexpr uint32_t kBatch = 1000;
// Between batches: std::mutex is not fair, and a sweeper going straight from
// one batch to the next could take the metadata lock again before the
// uploads queued on it.
constexpr auto kPause = std::chrono::milliseconds(1);
// Rate windows are a second or a minute long; an hour-old one is surely over.
constexpr UnixMs kRateWindowKeepMs = 3'600'000;
}  // namespace

Sweeper::Sweeper(meta::MetaStore& meta, storage::BlobStore& blobs, const Clock& clock)
    : meta_(meta), blobs_(blobs), clock_(clock), holder_(random_hex(16)) {}

Result<bool> Sweeper::take_lease(UnixMs ttl_ms) {
  return meta_.try_lease(kLeaseName, holder_, ttl_ms, clock_.now());
}

Result<SweepStats> Sweeper::sweep() {
  SweepStats stats;
  const UnixMs now = clock_.now();
  auto txs = meta_.expire_transactions(now);
  if (!txs) return fail(txs.error());
  stats.expired_transactions = *txs;
  UP_TRY(meta_.expire_used_grants(now));
  UP_TRY(meta_.expire_rate_windows(now - kRateWindowKeepMs));
  UP_TRY(meta_.expire_cursors(now));
  auto expired = expire_due();
  if (!expired) return fail(expired.error());
  stats.expired_objects = *expired;
  for (;;) {
    auto doomed = meta_.deleted_objects(kBatch);
    if (!doomed) return fail(doomed.error());
    std::vector<std::string> ids, locators;
    ids.reserve(doomed->size());
    locators.reserve(doomed->size());
    for (const Object& o : *doomed) {
      ids.push_back(o.id);
      locators.push_back(o.locator);
    }
    // One batch of removals (a few syncs, not one per blob), then the rows
    // whose blob went, even when a later removal failed: the others stay
    // marked deleted for the next sweep.
    storage::RemovedBlobs removed = blobs_.remove_many(locators);
    UP_TRY(meta_.purge_objects(std::span(ids).first(removed.removed)));
    stats.purged_objects += removed.removed;
    UP_TRY(removed.status);
    if (doomed->size() < kBatch) break;
    std::this_thread::sleep_for(kPause);
  }
  return stats;
}

Result<uint64_t> Sweeper::expire_due() {
  const UnixMs now = clock_.now();
  uint64_t total = 0;
  for (;;) {
    auto n = expire_objects(meta_, now, kBatch);
    if (!n) return fail(n.error());
    total += *n;
    if (*n < kBatch) return total;
    std::this_thread::sleep_for(kPause);
  }
}

Result<SweepStats> Sweeper::collect_orphans(UnixMs grace_ms) {
  SweepStats stats;
  const UnixMs cutoff = clock_.now() - grace_ms;
  // Page by page, so memory stays bounded by a page whatever the store holds;
  // each page's locators are looked up in one batch.
  std::string after;
  do {
    auto page = blobs_.list("", after, kBatch);
    if (!page) return fail(page.error());
    std::vector<std::string> candidates;
    for (const storage::BlobEntry& e : page->entries)
      if (e.modified_at < cutoff) candidates.push_back(e.locator);
    auto referenced = meta_.locators_exist(candidates);
    if (!referenced) return fail(referenced.error());
    std::vector<std::string> orphans;
    for (size_t i = 0; i < candidates.size(); ++i)
      if (!(*referenced)[i]) orphans.push_back(std::move(candidates[i]));
    storage::RemovedBlobs removed = blobs_.remove_many(orphans);
    stats.orphan_blobs += removed.removed;
    UP_TRY(removed.status);
    after = std::move(page->next_after);
  } while (!after.empty());
  auto temps = blobs_.remove_stale_temporaries(cutoff);
  if (!temps) return fail(temps.error());
  stats.stale_temporaries = *temps;
  return stats;
}

bool Sweeper::stores_shared() const { return meta_.shared() || blobs_.shared(); }

}  // namespace up::core
