#include "meta/postgres/pg_transaction.h"

#include "meta/postgres/pg_rows.h"

namespace up::meta {

Result<bool> PgTransaction::key_enabled(std::string_view key_id) {
  return db_.exists("lookup", "SELECT 1 FROM api_keys WHERE id = $1 AND enabled", key_id);
}

Result<bool> PgTransaction::use_grant(std::string_view grant_id, UnixMs grant_expires_at) {
  // A concurrent first use of the same grant makes this wait for its commit
  // (then nothing is inserted) or its rollback (then this one inserts).
  auto used = db_.run("use grant",
                      "INSERT INTO used_grants(grant_id, expires_at) VALUES($1, $2) "
                      "ON CONFLICT (grant_id) DO NOTHING",
                      grant_id, grant_expires_at);
  if (!used) return fail(std::move(used.error()));
  return *used > 0;
}

Status PgTransaction::insert_object(const Object& o) {
  // DO NOTHING rather than a unique-violation error: an error would abort
  // the whole transaction, and the body decides what a clash means.
  auto inserted = db_.run("insert object",
                          "INSERT INTO objects(" UP_PG_OBJECT_COLUMNS
                          ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
                          "$15, $16, $17) ON CONFLICT DO NOTHING",
                          o.id, o.tenant_id, o.app_id, o.key, o.name, o.content_type, o.size,
                          o.sha256, o.md5, o.qetag, o.locator, to_string(o.state), o.created_at,
                          o.expires_at, o.transaction_id, o.owner, o.meta_json);
  if (!inserted) return fail(std::move(inserted.error()));
  if (*inserted == 0) {
    auto dup = db_.exists("lookup", "SELECT 1 FROM objects WHERE id = $1", o.id);
    if (!dup) return fail(std::move(dup.error()));
    return fail(*dup ? Errc::kAlreadyExists : Errc::kObjectKeyExists);
  }
  if (o.state == ObjectState::kDeleted) return ok();
  return add_usage(o.tenant_id, o.app_id, static_cast<int64_t>(o.size), 1);
}

Result<Usage> PgTransaction::usage(std::string_view tenant_id, std::string_view app_id) {
  auto found = db_.first(
      "read usage",
      [](const PgRow& r) {
        return Usage{r.col<uint64_t>(0), r.col<uint64_t>(1)};
      },
      "SELECT bytes, objects FROM usage WHERE tenant_id = $1 AND app_id = $2", tenant_id, app_id);
  if (!found) return fail(std::move(found.error()));
  return found->value_or(Usage{});
}

Status PgTransaction::add_usage(std::string_view tenant_id, std::string_view app_id, int64_t bytes,
                                int64_t objects) {
  for (std::string_view app : {app_id, std::string_view("")}) {
    auto added = db_.run("update usage",
                         "INSERT INTO usage AS u(tenant_id, app_id, bytes, objects) "
                         "VALUES($1, $2, $3, $4) ON CONFLICT (tenant_id, app_id) DO UPDATE SET "
                         "bytes = u.bytes + excluded.bytes, objects = u.objects + excluded.objects",
                         tenant_id, app, bytes, objects);
    if (!added) return fail(std::move(added.error()));
  }
  return ok();
}

Result<uint64_t> PgTransaction::expire_objects(UnixMs now, uint32_t limit,
                                               std::string_view tenant_id) {
  struct Due {
    std::string id, tenant_id;
  };
  auto due = db_.all(
      "find expired objects",
      [](const PgRow& r) {
        return Due{r.col<std::string>(0), r.col<std::string>(1)};
      },
      "SELECT id, tenant_id FROM objects "
      "WHERE expires_at IS NOT NULL AND state <> 'deleted' AND expires_at <= $1 "
      "AND ($2 = '' OR tenant_id = $2) ORDER BY expires_at LIMIT $3",
      now, tenant_id, static_cast<int64_t>(limit));
  if (!due) return fail(std::move(due.error()));
  // Counts only what this transaction marked: a concurrent one may have
  // expired some of them first (mark_deleted re-checks the state).
  uint64_t n = 0;
  for (const Due& d : *due) {
    auto gone = mark_deleted(d.tenant_id, d.id);
    if (!gone) return fail(std::move(gone.error()));
    n += *gone ? 1 : 0;
  }
  return n;
}

Result<Object> PgTransaction::get_object(std::string_view tenant_id, std::string_view id) {
  return db_.one("get object", Errc::kObjectNotFound, pg_read_object,
                 "SELECT " UP_PG_OBJECT_COLUMNS
                 " FROM objects WHERE id = $1 AND tenant_id = $2 AND state <> 'deleted'",
                 id, tenant_id);
}

Status PgTransaction::set_object_state(std::string_view tenant_id, std::string_view id,
                                       ObjectState state, std::optional<UnixMs> expires_at) {
  return db_.change("update object state", Errc::kObjectNotFound,
                    "UPDATE objects SET state = $1, expires_at = $2 "
                    "WHERE id = $3 AND tenant_id = $4 AND state <> 'deleted'",
                    to_string(state), expires_at, id, tenant_id);
}

Result<bool> PgTransaction::mark_deleted(std::string_view tenant_id, std::string_view id) {
  struct Deleted {
    std::string app_id;
    int64_t size = 0;
  };
  auto deleted = db_.first(
      "delete object",
      [](const PgRow& r) {
        return Deleted{r.col<std::string>(0), r.col<int64_t>(1)};
      },
      "UPDATE objects SET state = 'deleted' WHERE id = $1 AND tenant_id = $2 "
      "AND state <> 'deleted' RETURNING app_id, size",
      id, tenant_id);
  if (!deleted) return fail(std::move(deleted.error()));
  if (!*deleted) return false;
  UP_TRY(add_usage(tenant_id, (*deleted)->app_id, -(*deleted)->size, -1));
  return true;
}

}  // namespace up::meta
