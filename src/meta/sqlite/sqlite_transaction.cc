#include "meta/sqlite/sqlite_transaction.h"

#include "meta/sqlite/sqlite_rows.h"

namespace up::meta {

Result<bool> SqliteTransaction::key_enabled(std::string_view key_id) {
  return db_.exists("SELECT 1 FROM api_keys WHERE id = ? AND enabled = 1", key_id);
}

Result<bool> SqliteTransaction::use_grant(std::string_view grant_id, UnixMs grant_expires_at) {
  auto st = db_.prepare(
      "INSERT INTO used_grants(grant_id, expires_at) VALUES(?, ?) "
      "ON CONFLICT(grant_id) DO NOTHING");
  if (!st) return fail(std::move(st.error()));
  st->text(grant_id).i64(grant_expires_at);
  UP_TRY(db_.done(*st, "use grant"));
  return db_.changes() > 0;
}

Status SqliteTransaction::insert_object(const Object& o) {
  auto dup = db_.exists("SELECT 1 FROM objects WHERE id = ?", o.id);
  if (!dup) return fail(std::move(dup.error()));
  if (*dup) return fail(Errc::kAlreadyExists);
  auto st = db_.prepare("INSERT INTO objects(" UP_SQLITE_OBJECT_COLUMNS
                        ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return fail(std::move(st.error()));
  st->text(o.id).text(o.tenant_id).text(o.app_id).text(o.key).text(o.name);
  st->text(o.content_type).u64(o.size).text(o.sha256).text(o.md5).text(o.qetag);
  st->text(o.locator).text(to_string(o.state)).i64(o.created_at).opt_i64(o.expires_at);
  st->text(o.transaction_id).text(o.owner).text(o.meta_json);
  if (int rc = st->step(); rc != SQLITE_DONE) {
    // The id is free, so the one constraint left is objects_live_key.
    if (is_constraint(rc)) return fail(Errc::kObjectKeyExists);
    return fail(db_.error(rc, "insert object"));
  }
  if (o.state == ObjectState::kDeleted) return ok();
  return add_usage(o.tenant_id, o.app_id, static_cast<int64_t>(o.size), 1);
}

Result<Usage> SqliteTransaction::usage(std::string_view tenant_id, std::string_view app_id) {
  auto st = db_.prepare("SELECT bytes, objects FROM usage WHERE tenant_id = ? AND app_id = ?");
  if (!st) return fail(std::move(st.error()));
  st->text(tenant_id).text(app_id);
  auto found = db_.row(*st, "read usage");
  if (!found) return fail(std::move(found.error()));
  if (!*found) return Usage{};
  return Usage{st->col_u64(0), st->col_u64(1)};
}

Status SqliteTransaction::add_usage(std::string_view tenant_id, std::string_view app_id,
                                    int64_t bytes, int64_t objects) {
  for (std::string_view app : {app_id, std::string_view("")}) {
    auto st = db_.prepare(
        "INSERT INTO usage(tenant_id, app_id, bytes, objects) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(tenant_id, app_id) DO UPDATE SET "
        "bytes = bytes + excluded.bytes, objects = objects + excluded.objects");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app).i64(bytes).i64(objects);
    UP_TRY(db_.done(*st, "update usage"));
  }
  return ok();
}

Result<uint64_t> SqliteTransaction::expire_objects(UnixMs now, uint32_t limit,
                                                   std::string_view tenant_id) {
  struct Due {
    std::string id, tenant_id;
  };
  std::vector<Due> due;
  {
    auto st = db_.prepare(
        "SELECT id, tenant_id FROM objects "
        "WHERE expires_at IS NOT NULL AND state <> 'deleted' AND expires_at <= ? "
        "AND (? = '' OR tenant_id = ?) ORDER BY expires_at LIMIT ?");
    if (!st) return fail(std::move(st.error()));
    st->i64(now).text(tenant_id).text(tenant_id).i64(limit);
    while (true) {
      auto found = db_.row(*st, "find expired objects");
      if (!found) return fail(std::move(found.error()));
      if (!*found) break;
      due.push_back({st->col_text(0), st->col_text(1)});
    }
  }
  // Updated after the scan is finished: changing rows under an open cursor
  // on the same index is not something to rely on.
  for (const Due& d : due) {
    auto gone = mark_deleted(d.tenant_id, d.id);
    if (!gone) return fail(std::move(gone.error()));
  }
  return static_cast<uint64_t>(due.size());
}

Result<Object> SqliteTransaction::get_object(std::string_view tenant_id, std::string_view id) {
  auto st = db_.prepare("SELECT " UP_SQLITE_OBJECT_COLUMNS
                        " FROM objects WHERE id = ? AND tenant_id = ? AND state <> 'deleted'");
  if (!st) return fail(std::move(st.error()));
  st->text(id).text(tenant_id);
  auto found = db_.row(*st, "get object");
  if (!found) return fail(std::move(found.error()));
  if (!*found) return fail(Errc::kObjectNotFound);
  return read_object(*st);
}

Status SqliteTransaction::set_object_state(std::string_view tenant_id, std::string_view id,
                                           ObjectState state, std::optional<UnixMs> expires_at) {
  auto st = db_.prepare(
      "UPDATE objects SET state = ?, expires_at = ? "
      "WHERE id = ? AND tenant_id = ? AND state <> 'deleted'");
  if (!st) return fail(std::move(st.error()));
  st->text(to_string(state)).opt_i64(expires_at).text(id).text(tenant_id);
  UP_TRY(db_.done(*st, "update object state"));
  if (db_.changes() == 0) return fail(Errc::kObjectNotFound);
  return ok();
}

Result<bool> SqliteTransaction::mark_deleted(std::string_view tenant_id, std::string_view id) {
  std::string app_id;
  int64_t size = 0;
  {
    auto st = db_.prepare(
        "UPDATE objects SET state = 'deleted' WHERE id = ? AND tenant_id = ? "
        "AND state <> 'deleted' RETURNING app_id, size");
    if (!st) return fail(std::move(st.error()));
    st->text(id).text(tenant_id);
    auto found = db_.row(*st, "delete object");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return false;
    app_id = st->col_text(0);
    size = st->col_i64(1);
    auto end = db_.row(*st, "delete object");  // step to the end so the statement completes
    if (!end) return fail(std::move(end.error()));
  }
  UP_TRY(add_usage(tenant_id, app_id, -size, -1));
  return true;
}

}  // namespace up::meta
