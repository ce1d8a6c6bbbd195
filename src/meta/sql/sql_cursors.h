#pragma once
// MetaStore's cursor calls (migration v3) over either SQL connection (SqliteDb
// or PgConn, as SqlTransaction), as meta_store.h states them. The stores add
// what orders concurrent opens: SQLite's write transaction, PostgreSQL's
// per-tenant lock.
// REQUIRES: the connection is the caller's alone for the call.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/cursors.h"
#include "core/result.h"

namespace up::meta::sql {

#define UP_META_CURSOR_COLUMNS "id, tenant_id, owner, app_id, state, position, expires_at"

template <class Row>
core::Cursor read_cursor(const Row& row) {
  core::Cursor c;
  row.read(c.id, c.tenant_id, c.owner, c.app_id, c.state, c.position, c.expires_at);
  return c;
}

// Counts the tenant's open cursors and, below max_per_tenant, inserts c.
// REQUIRES: inside a transaction that orders this against other opens.
template <class Db>
Status insert_cursor(Db& db, const core::Cursor& c, uint32_t max_per_tenant, UnixMs now) {
  auto open = db.first(
      "count cursors", [](const auto& row) { return row.template col<uint64_t>(0); },
      "SELECT COUNT(*) FROM cursors WHERE tenant_id = ? AND expires_at > ?", c.tenant_id, now);
  if (!open) return fail(std::move(open.error()));
  if (open->value_or(0) >= max_per_tenant) return fail(Errc::kRateLimited, "too many cursors");
  return db.insert("put cursor", Errc::kAlreadyExists,
                   "INSERT INTO cursors(" UP_META_CURSOR_COLUMNS ") VALUES(?, ?, ?, ?, ?, ?, ?)",
                   c.id, c.tenant_id, c.owner, c.app_id, c.state, c.position, c.expires_at);
}

template <class Db>
Result<core::Cursor> get_cursor(Db& db, std::string_view tenant_id, std::string_view id,
                                UnixMs now) {
  return db.one("get cursor", Errc::kNotFound, read_cursor<typename Db::Row>,
                "SELECT " UP_META_CURSOR_COLUMNS
                " FROM cursors WHERE tenant_id = ? AND id = ? AND expires_at > ?",
                tenant_id, id, now);
}

template <class Db>
Result<bool> advance_cursor(Db& db, std::string_view tenant_id, std::string_view id, uint64_t from,
                            uint64_t to) {
  auto n = db.run("advance cursor",
                  "UPDATE cursors SET position = ? WHERE tenant_id = ? AND id = ? AND position = ?",
                  to, tenant_id, id, from);
  if (!n) return fail(std::move(n.error()));
  return *n > 0;
}

template <class Db>
Result<bool> delete_cursor(Db& db, std::string_view tenant_id, std::string_view id) {
  auto n =
      db.run("delete cursor", "DELETE FROM cursors WHERE tenant_id = ? AND id = ?", tenant_id, id);
  if (!n) return fail(std::move(n.error()));
  return *n > 0;
}

template <class Db>
Result<uint64_t> expire_cursors(Db& db, UnixMs now) {
  return db.run("expire cursors", "DELETE FROM cursors WHERE expires_at <= ?", now);
}

}  // namespace up::meta::sql
