#include "meta/postgres/pg_state.h"

#include <string>

#include "meta/sql/sql_cursors.h"

namespace up::meta {
namespace {

// One statement: a new key's row, a later window's reset, or one more hit
// while the window has room. The row lock ON CONFLICT takes orders hits of one
// key across connections. A full window matches no row (the WHERE fails), so
// nothing is written and nothing returned: refused. A stored window later than
// ours (a process whose clock is ahead) is counted into, never moved back.
constexpr const char* kRateHit =
    "INSERT INTO rate_windows AS w(key, window_start, count) VALUES($1, $2, 1) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN w.window_start < excluded.window_start THEN 1 ELSE w.count + 1 END, "
    "window_start = GREATEST(w.window_start, excluded.window_start) "
    "WHERE w.window_start < excluded.window_start OR w.count < $3 "
    "RETURNING count, window_start";

// Free, expired, or already ours: taken (or renewed) in one statement.
constexpr const char* kTryLease =
    "INSERT INTO leases AS l(name, holder, expires_at) VALUES($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE l.holder = excluded.holder OR l.expires_at <= $4 "
    "RETURNING 1";

}  // namespace

Result<RateCount> pg_rate_hit(PgConn& c, std::string_view key, uint32_t limit, UnixMs window_ms,
                              UnixMs now) {
  RateCount out;
  out.window_start = now - (now % window_ms);
  if (limit == 0) return out;  // nothing is ever allowed: no need to ask
  auto row = c.first(
      "rate hit",
      [](const PgRow& r) {
        RateCount hit;
        int64_t count = 0;
        r.read(count, hit.window_start);
        hit.count = static_cast<uint32_t>(count);
        hit.allowed = true;
        return hit;
      },
      kRateHit, key, out.window_start, static_cast<int64_t>(limit));
  if (!row) return fail(std::move(row.error()));
  if (*row) return **row;
  out.count = limit;  // full: the refused hit was not counted
  return out;
}

Result<uint64_t> pg_expire_rate_windows(PgConn& c, UnixMs before) {
  return c.run("expire rate windows", "DELETE FROM rate_windows WHERE window_start < $1", before);
}

Result<bool> pg_try_lease(PgConn& c, std::string_view name, std::string_view holder, UnixMs ttl_ms,
                          UnixMs now) {
  return c.exists("take lease", kTryLease, name, holder, now + ttl_ms, now);
}

Status pg_put_cursor(PgConn& c, const core::Cursor& cursor, uint32_t max_per_tenant, UnixMs now) {
  // A per-tenant transaction lock orders concurrent opens, so the count and
  // the insert are one step across connections (as create_key's row lock).
  auto locked = c.run("lock cursors",
                      "SELECT pg_advisory_xact_lock(hashtextextended("
                      "current_setting('search_path') || '/cursors/' || $1, 14))",
                      cursor.tenant_id);
  if (!locked) return fail(std::move(locked.error()));
  return sql::insert_cursor(c, cursor, max_per_tenant, now);
}

}  // namespace up::meta
