// The record primitives of SqliteTransaction (sqlite_transaction.h).

#include "meta/sqlite/sqlite_rows.h"
#include "meta/sqlite/sqlite_transaction.h"

namespace up::meta {

Result<bool> SqliteTransaction::batch_key_seen(std::string_view tenant_id, std::string_view app_id,
                                               std::string_view form_id,
                                               std::string_view batch_key) {
  auto st = db_.prepare(
      "SELECT 1 FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
      "AND batch_key = ? AND batch_key <> ''");
  if (!st) return fail(std::move(st.error()));
  st->text(tenant_id).text(app_id).text(form_id).text(batch_key);
  return db_.row(*st, "check batch key");
}

Result<uint64_t> SqliteTransaction::next_record_seq(std::string_view tenant_id,
                                                    std::string_view app_id,
                                                    std::string_view form_id) {
  auto st = db_.prepare(
      "INSERT INTO record_sequences(tenant_id, app_id, form_id, last_seq) VALUES(?, ?, ?, 1) "
      "ON CONFLICT(tenant_id, app_id, form_id) DO UPDATE SET last_seq = last_seq + 1 "
      "RETURNING last_seq");
  if (!st) return fail(std::move(st.error()));
  st->text(tenant_id).text(app_id).text(form_id);
  auto found = db_.row(*st, "next record number");
  if (!found) return fail(std::move(found.error()));
  uint64_t seq = st->col_u64(0);
  auto end = db_.row(*st, "next record number");  // step to the end so the statement completes
  if (!end) return fail(std::move(end.error()));
  return seq;
}

Status SqliteTransaction::insert_record(const Record& r) {
  auto st = db_.prepare("INSERT INTO records(" UP_SQLITE_RECORD_COLUMNS
                        ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return fail(std::move(st.error()));
  st->text(r.tenant_id).text(r.app_id).text(r.form_id).u64(r.seq).text(r.id);
  st->u64(r.revision).text(r.data_json).text(r.batch_key).text(r.creator);
  st->text(r.updater).i64(r.created_at).i64(r.updated_at);
  if (int rc = st->step(); rc != SQLITE_DONE) {
    if (is_constraint(rc)) return fail(Errc::kAlreadyExists, "record id taken");
    return fail(db_.error(rc, "insert record"));
  }
  return ok();
}

Result<Record> SqliteTransaction::get_record(std::string_view tenant_id, std::string_view app_id,
                                             std::string_view form_id, std::string_view id) {
  Record r;
  {
    auto st =
        db_.prepare("SELECT " UP_SQLITE_RECORD_COLUMNS
                    " FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(tenant_id).text(app_id).text(form_id).text(id);
    auto found = db_.row(*st, "read record");
    if (!found) return fail(std::move(found.error()));
    if (!*found) return fail(Errc::kRecordNotFound);
    r = read_record(*st);
  }
  auto files = record_files(r);
  if (!files) return fail(std::move(files.error()));
  r.file_ids = std::move(*files);
  return r;
}

Result<std::vector<std::string>> SqliteTransaction::record_files(const Record& r) {
  auto st = db_.prepare(
      "SELECT object_id FROM record_files WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
      "AND record_id = ? ORDER BY position");
  if (!st) return fail(std::move(st.error()));
  st->text(r.tenant_id).text(r.app_id).text(r.form_id).text(r.id);
  std::vector<std::string> ids;
  while (true) {
    auto found = db_.row(*st, "read record files");
    if (!found) return fail(std::move(found.error()));
    if (!*found) break;
    ids.push_back(st->col_text(0));
  }
  return ids;
}

Status SqliteTransaction::update_record(const Record& r) {
  auto st = db_.prepare(
      "UPDATE records SET revision = ?, data_json = ?, updater = ?, updated_at = ? "
      "WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND seq = ?");
  if (!st) return fail(std::move(st.error()));
  st->u64(r.revision).text(r.data_json).text(r.updater).i64(r.updated_at);
  st->text(r.tenant_id).text(r.app_id).text(r.form_id).u64(r.seq);
  UP_TRY(db_.done(*st, "update record"));
  if (db_.changes() == 0) return fail(Errc::kRecordNotFound);
  return ok();
}

Status SqliteTransaction::delete_record(const Record& r) {
  auto st = db_.prepare(
      "DELETE FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND seq = ?");
  if (!st) return fail(std::move(st.error()));
  st->text(r.tenant_id).text(r.app_id).text(r.form_id).u64(r.seq);
  UP_TRY(db_.done(*st, "delete record"));
  if (db_.changes() == 0) return fail(Errc::kRecordNotFound);
  return ok();
}

Status SqliteTransaction::set_record_files(const Record& r) {
  {
    auto st = db_.prepare(
        "DELETE FROM record_files WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
        "AND record_id = ?");
    if (!st) return fail(std::move(st.error()));
    st->text(r.tenant_id).text(r.app_id).text(r.form_id).text(r.id);
    UP_TRY(db_.done(*st, "unbind files"));
  }
  for (size_t i = 0; i < r.file_ids.size(); ++i) {
    auto st = db_.prepare(
        "INSERT INTO record_files(tenant_id, app_id, form_id, record_id, position, object_id) "
        "VALUES(?, ?, ?, ?, ?, ?)");
    if (!st) return fail(std::move(st.error()));
    st->text(r.tenant_id).text(r.app_id).text(r.form_id).text(r.id).i64(static_cast<int64_t>(i));
    st->text(r.file_ids[i]);
    if (int rc = st->step(); rc != SQLITE_DONE) {
      // Bound to another record (record_files_object is unique).
      if (is_constraint(rc)) return fail(Errc::kObjectNotTemporary);
      return fail(db_.error(rc, "bind file"));
    }
  }
  return ok();
}

}  // namespace up::meta
