// The record primitives of SqliteTransaction (sqlite_transaction.h).

#include "meta/sqlite/sqlite_rows.h"
#include "meta/sqlite/sqlite_transaction.h"

namespace up::meta {

Result<bool> SqliteTransaction::batch_key_seen(std::string_view tenant_id, std::string_view app_id,
                                               std::string_view form_id,
                                               std::string_view batch_key) {
  return db_.exists("check batch key",
                    "SELECT 1 FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
                    "AND batch_key = ? AND batch_key <> ''",
                    tenant_id, app_id, form_id, batch_key);
}

Result<uint64_t> SqliteTransaction::next_record_seq(std::string_view tenant_id,
                                                    std::string_view app_id,
                                                    std::string_view form_id) {
  auto seq = db_.returning(
      "next record number", [](const Stmt& st) { return st.col<uint64_t>(0); },
      "INSERT INTO record_sequences(tenant_id, app_id, form_id, last_seq) VALUES(?, ?, ?, 1) "
      "ON CONFLICT(tenant_id, app_id, form_id) DO UPDATE SET last_seq = last_seq + 1 "
      "RETURNING last_seq",
      tenant_id, app_id, form_id);
  if (!seq) return fail(std::move(seq.error()));
  return seq->value_or(0);
}

Status SqliteTransaction::insert_record(const Record& r) {
  return db_.insert("insert record", Error(Errc::kAlreadyExists, "record id taken"),
                    "INSERT INTO records(" UP_SQLITE_RECORD_COLUMNS
                    ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    r.tenant_id, r.app_id, r.form_id, r.seq, r.id, r.revision, r.data_json,
                    r.batch_key, r.creator, r.updater, r.created_at, r.updated_at);
}

Result<Record> SqliteTransaction::get_record(std::string_view tenant_id, std::string_view app_id,
                                             std::string_view form_id, std::string_view id) {
  auto r = db_.one("read record", Errc::kRecordNotFound, read_record,
                   "SELECT " UP_SQLITE_RECORD_COLUMNS
                   " FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND id = ?",
                   tenant_id, app_id, form_id, id);
  if (!r) return fail(std::move(r.error()));
  auto files = record_files(*r);
  if (!files) return fail(std::move(files.error()));
  r->file_ids = std::move(*files);
  return r;
}

Result<std::vector<std::string>> SqliteTransaction::record_files(const Record& r) {
  return db_.all(
      "read record files", [](const Stmt& st) { return st.col<std::string>(0); },
      "SELECT object_id FROM record_files WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
      "AND record_id = ? ORDER BY position",
      r.tenant_id, r.app_id, r.form_id, r.id);
}

Status SqliteTransaction::update_record(const Record& r) {
  return db_.change("update record", Errc::kRecordNotFound,
                    "UPDATE records SET revision = ?, data_json = ?, updater = ?, updated_at = ? "
                    "WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND seq = ?",
                    r.revision, r.data_json, r.updater, r.updated_at, r.tenant_id, r.app_id,
                    r.form_id, r.seq);
}

Status SqliteTransaction::delete_record(const Record& r) {
  return db_.change(
      "delete record", Errc::kRecordNotFound,
      "DELETE FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND seq = ?",
      r.tenant_id, r.app_id, r.form_id, r.seq);
}

Status SqliteTransaction::set_record_files(const Record& r) {
  auto unbound = db_.run("unbind files",
                         "DELETE FROM record_files WHERE tenant_id = ? AND app_id = ? "
                         "AND form_id = ? AND record_id = ?",
                         r.tenant_id, r.app_id, r.form_id, r.id);
  if (!unbound) return fail(std::move(unbound.error()));
  for (size_t i = 0; i < r.file_ids.size(); ++i) {
    // Bound to another record (record_files_object is unique): kObjectNotTemporary.
    UP_TRY(db_.insert(
        "bind file", Errc::kObjectNotTemporary,
        "INSERT INTO record_files(tenant_id, app_id, form_id, record_id, position, object_id) "
        "VALUES(?, ?, ?, ?, ?, ?)",
        r.tenant_id, r.app_id, r.form_id, r.id, static_cast<int64_t>(i), r.file_ids[i]));
  }
  return ok();
}

}  // namespace up::meta
