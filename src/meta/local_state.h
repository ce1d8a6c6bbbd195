#pragma once
// Rate windows, leases and cursors for a store only one process uses (SQLite,
// memory): MetaStore's shared-state primitives over maps in this process, with
// the same semantics as the PostgreSQL tables. Nothing survives the process;
// none of it needs to (windows and cursors are short-lived; a lease only
// orders processes, and there is one). Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/cursors.h"
#include "meta/meta_store.h"

namespace up::meta {

class LocalState {
 public:
  // As MetaStore's calls of the same names.
  RateCount rate_hit(std::string_view key, uint32_t limit, UnixMs window_ms, UnixMs now);
  uint64_t expire_rate_windows(UnixMs before);
  bool try_lease(std::string_view name, std::string_view holder, UnixMs ttl_ms, UnixMs now);
  Status put_cursor(const core::Cursor& c, uint32_t max_per_tenant, UnixMs now);
  Result<core::Cursor> get_cursor(std::string_view tenant_id, std::string_view id, UnixMs now);
  bool advance_cursor(std::string_view tenant_id, std::string_view id, uint64_t from, uint64_t to);
  bool delete_cursor(std::string_view tenant_id, std::string_view id);
  uint64_t expire_cursors(UnixMs now);

 private:
  struct Window {
    UnixMs start = 0;
    uint32_t count = 0;
  };
  struct Lease {
    std::string holder;
    UnixMs expires_at = 0;
  };
  using CursorKey = std::pair<std::string, std::string>;  // tenant, id

  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
  std::map<std::string, Lease, std::less<>> leases_;
  std::map<CursorKey, core::Cursor> cursors_;
};

// The base of a store one process owns: MetaStore's shared-state primitives
// over a LocalState.
class ProcessLocalMetaStore : public MetaStore {
 public:
  // meta::MetaStore
  Result<RateCount> rate_hit(std::string_view key, uint32_t limit, UnixMs window_ms,
                             UnixMs now) override {
    return state_.rate_hit(key, limit, window_ms, now);
  }
  Result<uint64_t> expire_rate_windows(UnixMs before) override {
    return state_.expire_rate_windows(before);
  }
  Result<bool> try_lease(std::string_view name, std::string_view holder, UnixMs ttl_ms,
                         UnixMs now) override {
    return state_.try_lease(name, holder, ttl_ms, now);
  }
  Status put_cursor(const core::Cursor& c, uint32_t max_per_tenant, UnixMs now) override {
    return state_.put_cursor(c, max_per_tenant, now);
  }
  Result<core::Cursor> get_cursor(std::string_view tenant_id, std::string_view id,
                                  UnixMs now) override {
    return state_.get_cursor(tenant_id, id, now);
  }
  Result<bool> advance_cursor(std::string_view tenant_id, std::string_view id, uint64_t from,
                              uint64_t to) override {
    return state_.advance_cursor(tenant_id, id, from, to);
  }
  Result<bool> delete_cursor(std::string_view tenant_id, std::string_view id) override {
    return state_.delete_cursor(tenant_id, id);
  }
  Result<uint64_t> expire_cursors(UnixMs now) override { return state_.expire_cursors(now); }

 private:
  LocalState state_;
};

}  // namespace up::meta
