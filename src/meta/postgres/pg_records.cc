// The record primitives of PgTransaction (pg_transaction.h).

#include "meta/postgres/pg_rows.h"
#include "meta/postgres/pg_transaction.h"

namespace up::meta {

Result<bool> PgTransaction::batch_key_seen(std::string_view tenant_id, std::string_view app_id,
                                           std::string_view form_id, std::string_view batch_key) {
  return db_.exists("check batch key",
                    "SELECT 1 FROM records WHERE tenant_id = $1 AND app_id = $2 AND form_id = $3 "
                    "AND batch_key = $4 AND batch_key <> ''",
                    tenant_id, app_id, form_id, batch_key);
}

Result<uint64_t> PgTransaction::next_record_seq(std::string_view tenant_id, std::string_view app_id,
                                                std::string_view form_id) {
  // The upsert locks the form's row until commit: numbers are handed out in
  // commit order and a rolled-back one is handed out again.
  auto seq = db_.first(
      "next record number", [](const PgRow& r) { return r.col<uint64_t>(0); },
      "INSERT INTO record_sequences AS s(tenant_id, app_id, form_id, last_seq) "
      "VALUES($1, $2, $3, 1) ON CONFLICT (tenant_id, app_id, form_id) "
      "DO UPDATE SET last_seq = s.last_seq + 1 RETURNING last_seq",
      tenant_id, app_id, form_id);
  if (!seq) return fail(std::move(seq.error()));
  return seq->value_or(0);
}

Status PgTransaction::insert_record(const Record& r) {
  auto inserted = db_.run("insert record",
                          "INSERT INTO records(" UP_PG_RECORD_COLUMNS
                          ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
                          "ON CONFLICT DO NOTHING",
                          r.tenant_id, r.app_id, r.form_id, r.seq, r.id, r.revision, r.data_json,
                          r.batch_key, r.creator, r.updater, r.created_at, r.updated_at);
  if (!inserted) return fail(std::move(inserted.error()));
  if (*inserted == 0) return fail(Errc::kAlreadyExists, "record id taken");
  return ok();
}

Result<Record> PgTransaction::get_record(std::string_view tenant_id, std::string_view app_id,
                                         std::string_view form_id, std::string_view id) {
  auto r = db_.one("read record", Errc::kRecordNotFound, pg_read_record,
                   "SELECT " UP_PG_RECORD_COLUMNS
                   " FROM records WHERE tenant_id = $1 AND app_id = $2 AND form_id = $3 "
                   "AND id = $4",
                   tenant_id, app_id, form_id, id);
  if (!r) return fail(std::move(r.error()));
  auto files = record_files(*r);
  if (!files) return fail(std::move(files.error()));
  r->file_ids = std::move(*files);
  return r;
}

Result<std::vector<std::string>> PgTransaction::record_files(const Record& r) {
  return db_.all(
      "read record files", [](const PgRow& row) { return row.col<std::string>(0); },
      "SELECT object_id FROM record_files WHERE tenant_id = $1 AND app_id = $2 "
      "AND form_id = $3 AND record_id = $4 ORDER BY position",
      r.tenant_id, r.app_id, r.form_id, r.id);
}

Status PgTransaction::update_record(const Record& r) {
  return db_.change("update record", Errc::kRecordNotFound,
                    "UPDATE records SET revision = $1, data_json = $2, updater = $3, "
                    "updated_at = $4 WHERE tenant_id = $5 AND app_id = $6 AND form_id = $7 "
                    "AND seq = $8",
                    r.revision, r.data_json, r.updater, r.updated_at, r.tenant_id, r.app_id,
                    r.form_id, r.seq);
}

Status PgTransaction::delete_record(const Record& r) {
  return db_.change(
      "delete record", Errc::kRecordNotFound,
      "DELETE FROM records WHERE tenant_id = $1 AND app_id = $2 AND form_id = $3 AND seq = $4",
      r.tenant_id, r.app_id, r.form_id, r.seq);
}

Status PgTransaction::set_record_files(const Record& r) {
  auto unbound = db_.run("unbind files",
                         "DELETE FROM record_files WHERE tenant_id = $1 AND app_id = $2 "
                         "AND form_id = $3 AND record_id = $4",
                         r.tenant_id, r.app_id, r.form_id, r.id);
  if (!unbound) return fail(std::move(unbound.error()));
  for (size_t i = 0; i < r.file_ids.size(); ++i) {
    // Bound to another record (record_files_object is unique): kObjectNotTemporary.
    auto bound = db_.run(
        "bind file",
        "INSERT INTO record_files(tenant_id, app_id, form_id, record_id, position, object_id) "
        "VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        r.tenant_id, r.app_id, r.form_id, r.id, static_cast<int64_t>(i), r.file_ids[i]);
    if (!bound) return fail(std::move(bound.error()));
    if (*bound == 0) return fail(Errc::kObjectNotTemporary);
  }
  return ok();
}

}  // namespace up::meta
