#include "meta/local_state.h"

#include <algorithm>

namespace up::meta {

RateCount LocalState::rate_hit(std::string_view key, uint32_t limit, UnixMs window_ms, UnixMs now) {
  const UnixMs start = now - (now % window_ms);
  std::lock_guard lock(mu_);
  Window& w = windows_[std::string(key)];
  if (w.start < start) w = Window{start, 0};
  RateCount r;
  r.window_start = w.start;
  if (w.count >= limit) {
    r.count = w.count;
    return r;
  }
  r.allowed = true;
  r.count = ++w.count;
  return r;
}

uint64_t LocalState::expire_rate_windows(UnixMs before) {
  std::lock_guard lock(mu_);
  return std::erase_if(windows_, [&](const auto& kv) { return kv.second.start < before; });
}

bool LocalState::try_lease(std::string_view name, std::string_view holder, UnixMs ttl_ms,
                           UnixMs now) {
  std::lock_guard lock(mu_);
  auto it = leases_.find(name);
  if (it == leases_.end()) it = leases_.emplace(std::string(name), Lease{}).first;
  Lease& l = it->second;
  if (l.holder != holder && l.expires_at > now) return false;
  l.holder = std::string(holder);
  l.expires_at = now + ttl_ms;
  return true;
}

Status LocalState::put_cursor(const core::Cursor& c, uint32_t max_per_tenant, UnixMs now) {
  std::lock_guard lock(mu_);
  const auto open = std::count_if(cursors_.begin(), cursors_.end(), [&](const auto& kv) {
    return kv.first.first == c.tenant_id && kv.second.expires_at > now;
  });
  if (static_cast<uint64_t>(open) >= max_per_tenant)
    return fail(Errc::kRateLimited, "too many cursors");
  if (!cursors_.emplace(CursorKey(c.tenant_id, c.id), c).second) return fail(Errc::kAlreadyExists);
  return ok();
}

Result<core::Cursor> LocalState::get_cursor(std::string_view tenant_id, std::string_view id,
                                            UnixMs now) {
  std::lock_guard lock(mu_);
  auto it = cursors_.find(CursorKey(tenant_id, id));
  if (it == cursors_.end() || it->second.expires_at <= now) return fail(Errc::kNotFound);
  return it->second;
}

bool LocalState::advance_cursor(std::string_view tenant_id, std::string_view id, uint64_t from,
                                uint64_t to) {
  std::lock_guard lock(mu_);
  auto it = cursors_.find(CursorKey(tenant_id, id));
  if (it == cursors_.end() || it->second.position != from) return false;
  it->second.position = to;
  return true;
}

bool LocalState::delete_cursor(std::string_view tenant_id, std::string_view id) {
  std::lock_guard lock(mu_);
  return cursors_.erase(CursorKey(tenant_id, id)) > 0;
}

uint64_t LocalState::expire_cursors(UnixMs now) {
  std::lock_guard lock(mu_);
  return std::erase_if(cursors_, [&](const auto& kv) { return kv.second.expires_at <= now; });
}

}  // namespace up::meta
