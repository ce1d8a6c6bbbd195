#pragma once
// MetaStore's shared-state primitives on PostgreSQL (rate windows, leases,
// opening a cursor: migration v3), each one statement or one short
// transaction on a borrowed connection. Semantics as meta_store.h states them;
// the other cursor calls are meta/sql/sql_cursors.h.

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

}  // namespace up::meta
