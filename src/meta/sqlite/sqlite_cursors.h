#pragma once
// MetaStore's cursor calls on SQLite (migration v3), as meta_store.h states
// them. REQUIRES: the caller holds the store's lock (one statement at a time).

#include <cstdint>
#include <string_view>

#include "core/cursors.h"
#include "meta/sqlite/sqlite_db.h"

namespace up::meta {

Status sqlite_put_cursor(SqliteDb& db, const core::Cursor& c, uint32_t max_per_tenant, UnixMs now);
Result<core::Cursor> sqlite_get_cursor(SqliteDb& db, std::string_view tenant_id,
                                       std::string_view id, UnixMs now);
Result<bool> sqlite_advance_cursor(SqliteDb& db, std::string_view tenant_id, std::string_view id,
                                   uint64_t from, uint64_t to);
Result<bool> sqlite_delete_cursor(SqliteDb& db, std::string_view tenant_id, std::string_view id);
Result<uint64_t> sqlite_expire_cursors(SqliteDb& db, UnixMs now);

}  // namespace up::meta
