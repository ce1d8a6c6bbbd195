#include "meta/sqlite/sqlite_cursors.h"

#include <string>

namespace up::meta {
namespace {

constexpr const char* kColumns = "id, tenant_id, owner, app_id, state, position, expires_at";

core::Cursor read_cursor(const Stmt& st) {
  core::Cursor c;
  st.read(c.id, c.tenant_id, c.owner, c.app_id, c.state, c.position, c.expires_at);
  return c;
}

}  // namespace

Status sqlite_put_cursor(SqliteDb& db, const core::Cursor& c, uint32_t max_per_tenant, UnixMs now) {
  // The count and the insert in one transaction: one writer at a time.
  return db.in_transaction([&]() -> Status {
    auto open = db.first(
        "count cursors", [](const Stmt& st) { return st.col<uint64_t>(0); },
        "SELECT COUNT(*) FROM cursors WHERE tenant_id = ? AND expires_at > ?", c.tenant_id, now);
    if (!open) return fail(std::move(open.error()));
    if (open->value_or(0) >= max_per_tenant) return fail(Errc::kRateLimited, "too many cursors");
    return db.insert(
        "put cursor", Errc::kAlreadyExists,
        std::string("INSERT INTO cursors(") + kColumns + ") VALUES(?, ?, ?, ?, ?, ?, ?)", c.id,
        c.tenant_id, c.owner, c.app_id, c.state, c.position, c.expires_at);
  });
}

Result<core::Cursor> sqlite_get_cursor(SqliteDb& db, std::string_view tenant_id,
                                       std::string_view id, UnixMs now) {
  return db.one("get cursor", Errc::kNotFound, read_cursor,
                std::string("SELECT ") + kColumns +
                    " FROM cursors WHERE tenant_id = ? AND id = ? AND expires_at > ?",
                tenant_id, id, now);
}

Result<bool> sqlite_advance_cursor(SqliteDb& db, std::string_view tenant_id, std::string_view id,
                                   uint64_t from, uint64_t to) {
  auto n = db.run("advance cursor",
                  "UPDATE cursors SET position = ? WHERE tenant_id = ? AND id = ? AND position = ?",
                  to, tenant_id, id, from);
  if (!n) return fail(std::move(n.error()));
  return *n > 0;
}

Result<bool> sqlite_delete_cursor(SqliteDb& db, std::string_view tenant_id, std::string_view id) {
  auto n =
      db.run("delete cursor", "DELETE FROM cursors WHERE tenant_id = ? AND id = ?", tenant_id, id);
  if (!n) return fail(std::move(n.error()));
  return *n > 0;
}

Result<uint64_t> sqlite_expire_cursors(SqliteDb& db, UnixMs now) {
  return db.run("expire cursors", "DELETE FROM cursors WHERE expires_at <= ?", now);
}

}  // namespace up::meta
