#include "core/cursors.h"

#include "meta/meta_store.h"

namespace up::core {

Status CursorService::open(const Cursor& c, uint32_t max_per_tenant) {
  Cursor fresh = c;
  fresh.position = 0;
  return meta_.put_cursor(fresh, max_per_tenant, clock_.now());
}

Result<Cursor> CursorService::get(std::string_view tenant_id, std::string_view id) {
  return meta_.get_cursor(tenant_id, id, clock_.now());
}

Status CursorService::advance(std::string_view tenant_id, std::string_view id, uint64_t from,
                              uint64_t to) {
  auto moved = meta_.advance_cursor(tenant_id, id, from, to);
  if (!moved) return fail(moved.error());
  if (!*moved) return fail(Errc::kNotFound, "cursor gone or moved");
  return ok();
}

Status CursorService::close(std::string_view tenant_id, std::string_view id) {
  auto gone = meta_.delete_cursor(tenant_id, id);
  if (!gone) return fail(gone.error());
  if (!*gone) return fail(Errc::kNotFound, "no such cursor");
  return ok();
}

}  // namespace up::core
