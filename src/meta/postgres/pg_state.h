#pragma once
// MetaStore's shared-state primitives on PostgreSQL (rate windows, leases,
// cursors: migration v3), each one statement or one short transaction on a
// borrowed connection. Semantics as meta_store.h states them.

#include <cstdint>
#include <string_view>

#include "core/cursors.h"
#include "meta/meta_store.h"
#include "meta/postgres/pg_conn.h"

namespace up::meta {

Result<RateCount> pg_rate_hit(PgConn& c, std::string_view key, uint32_t limit, UnixMs window_ms,
                              UnixMs now);
Result<uint64_t> pg_expire_rate_windows(PgConn& c, UnixMs before);
Result<bool> pg_try_lease(PgConn& c, std::string_view name, std::string_view holder, UnixMs ttl_ms,
                          UnixMs now);
// REQUIRES: c is inside a transaction (its lock orders concurrent puts).
Status pg_put_cursor(PgConn& c, const core::Cursor& cursor, uint32_t max_per_tenant, UnixMs now);
Result<core::Cursor> pg_get_cursor(PgConn& c, std::string_view tenant_id, std::string_view id,
                                   UnixMs now);
Result<bool> pg_advance_cursor(PgConn& c, std::string_view tenant_id, std::string_view id,
                               uint64_t from, uint64_t to);
Result<bool> pg_delete_cursor(PgConn& c, std::string_view tenant_id, std::string_view id);
Result<uint64_t> pg_expire_cursors(PgConn& c, UnixMs now);

}  // namespace up::meta
