#include "meta/sqlite/sqlite_transaction.h"

#include "meta/sqlite/sqlite_rows.h"

namespace up::meta {

Result<bool> SqliteTransaction::key_enabled(std::string_view key_id) {
  return db_.exists("lookup", "SELECT 1 FROM api_keys WHERE id = ? AND enabled = 1", key_id);
}

Result<bool> SqliteTransaction::use_grant(std::string_view grant_id, UnixMs grant_expires_at) {
  auto used = db_.run("use grant",
                      "INSERT INTO used_grants(grant_id, expires_at) VALUES(?, ?) "
                      "ON CONFLICT(grant_id) DO NOTHING",
                      grant_id, grant_expires_at);
  if (!used) return fail(std::move(used.error()));
  return *used > 0;
}

Status SqliteTransaction::insert_object(const Object& o) {
  auto dup = db_.exists("lookup", "SELECT 1 FROM objects WHERE id = ?", o.id);
  if (!dup) return fail(std::move(dup.error()));
  if (*dup) return fail(Errc::kAlreadyExists);
  // The id is free, so the one constraint left is objects_live_key.
  UP_TRY(db_.insert("insert object", Errc::kObjectKeyExists,
                    "INSERT INTO objects(" UP_SQLITE_OBJECT_COLUMNS
                    ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    o.id, o.tenant_id, o.app_id, o.key, o.name, o.content_type, o.size, o.sha256,
                    o.md5, o.qetag, o.locator, to_string(o.state), o.created_at, o.expires_at,
                    o.transaction_id, o.owner, o.meta_json));
  if (o.state == ObjectState::kDeleted) return ok();
  return add_usage(o.tenant_id, o.app_id, static_cast<int64_t>(o.size), 1);
}

Result<Usage> SqliteTransaction::usage(std::string_view tenant_id, std::string_view app_id) {
  auto found = db_.first(
      "read usage",
      [](const Stmt& st) {
        return Usage{st.col<uint64_t>(0), st.col<uint64_t>(1)};
      },
      "SELECT bytes, objects FROM usage WHERE tenant_id = ? AND app_id = ?", tenant_id, app_id);
  if (!found) return fail(std::move(found.error()));
  return found->value_or(Usage{});
}

Status SqliteTransaction::add_usage(std::string_view tenant_id, std::string_view app_id,
                                    int64_t bytes, int64_t objects) {
  for (std::string_view app : {app_id, std::string_view("")}) {
    auto added = db_.run("update usage",
                         "INSERT INTO usage(tenant_id, app_id, bytes, objects) VALUES(?, ?, ?, ?) "
                         "ON CONFLICT(tenant_id, app_id) DO UPDATE SET "
                         "bytes = bytes + excluded.bytes, objects = objects + excluded.objects",
                         tenant_id, app, bytes, objects);
    if (!added) return fail(std::move(added.error()));
  }
  return ok();
}

Result<uint64_t> SqliteTransaction::expire_objects(UnixMs now, uint32_t limit,
                                                   std::string_view tenant_id) {
  struct Due {
    std::string id, tenant_id;
  };
  auto due = db_.all(
      "find expired objects",
      [](const Stmt& st) {
        return Due{st.col<std::string>(0), st.col<std::string>(1)};
      },
      "SELECT id, tenant_id FROM objects "
      "WHERE expires_at IS NOT NULL AND state <> 'deleted' AND expires_at <= ? "
      "AND (? = '' OR tenant_id = ?) ORDER BY expires_at LIMIT ?",
      now, tenant_id, tenant_id, limit);
  if (!due) return fail(std::move(due.error()));
  // Updated after the scan is finished: changing rows under an open cursor
  // on the same index is not something to rely on.
  for (const Due& d : *due) {
    auto gone = mark_deleted(d.tenant_id, d.id);
    if (!gone) return fail(std::move(gone.error()));
  }
  return static_cast<uint64_t>(due->size());
}

Result<Object> SqliteTransaction::get_object(std::string_view tenant_id, std::string_view id) {
  return db_.one("get object", Errc::kObjectNotFound, read_object,
                 "SELECT " UP_SQLITE_OBJECT_COLUMNS
                 " FROM objects WHERE id = ? AND tenant_id = ? AND state <> 'deleted'",
                 id, tenant_id);
}

Status SqliteTransaction::set_object_state(std::string_view tenant_id, std::string_view id,
                                           ObjectState state, std::optional<UnixMs> expires_at) {
  return db_.change("update object state", Errc::kObjectNotFound,
                    "UPDATE objects SET state = ?, expires_at = ? "
                    "WHERE id = ? AND tenant_id = ? AND state <> 'deleted'",
                    to_string(state), expires_at, id, tenant_id);
}

Result<bool> SqliteTransaction::mark_deleted(std::string_view tenant_id, std::string_view id) {
  struct Deleted {
    std::string app_id;
    int64_t size = 0;
  };
  auto deleted = db_.returning(
      "delete object",
      [](const Stmt& st) {
        return Deleted{st.col<std::string>(0), st.col<int64_t>(1)};
      },
      "UPDATE objects SET state = 'deleted' WHERE id = ? AND tenant_id = ? "
      "AND state <> 'deleted' RETURNING app_id, size",
      id, tenant_id);
  if (!deleted) return fail(std::move(deleted.error()));
  if (!*deleted) return false;
  UP_TRY(add_usage(tenant_id, (*deleted)->app_id, -(*deleted)->size, -1));
  return true;
}

}  // namespace up::meta
