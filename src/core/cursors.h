#pragma once
// Read cursors kept between requests (kintone's records/cursor). They live in
// the metadata store, so a cursor made through one upgate process is read
// through another; expired ones are dropped by the sweeper.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace up::meta {
class MetaStore;
}

namespace up::core {

struct Cursor {
  std::string id;
  std::string tenant_id;
  std::string owner;  // who made it; only they may read it (the dialect checks)
  std::string app_id;
  std::string state;      // the dialect's own (query, fields, totals); opaque to stores
  uint64_t position = 0;  // records served so far
  UnixMs expires_at = 0;
};

// Thread-safe; calls block on the metadata store.
class CursorService {
 public:
  CursorService(meta::MetaStore& meta, const Clock& clock) : meta_(meta), clock_(clock) {}

  // Stores `c` (id, tenant, owner, app, state, expires_at set) at position 0.
  // kRateLimited when its tenant has `max_per_tenant` unexpired cursors.
  Status open(const Cursor& c, uint32_t max_per_tenant);
  // An unexpired cursor of the tenant; kNotFound otherwise.
  Result<Cursor> get(std::string_view tenant_id, std::string_view id);
  // Moves the cursor on from `from` to `to`; kNotFound if it is gone or a
  // concurrent read moved it first (that read served those records).
  Status advance(std::string_view tenant_id, std::string_view id, uint64_t from, uint64_t to);
  // kNotFound if there was none.
  Status close(std::string_view tenant_id, std::string_view id);

 private:
  meta::MetaStore& meta_;
  const Clock& clock_;
};

}  // namespace up::core
