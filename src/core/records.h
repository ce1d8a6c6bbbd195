#pragma once
// Records: the minimal documents of the dialects' record APIs (a Jodoo entry's
// data, a kintone app's records) and the binding of uploaded files to them.
// Binding rules: core::BindOptions (core/queries.h), written once in records.cc
// over the store primitives (meta::MetaTransaction). The service fills in
// times and the clock; the dialect owns the field document (data_json) and
// resolves its file references to object ids before writing.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/queries.h"
#include "core/result.h"
#include "core/types.h"

namespace up::meta {
class MetaStore;
}

namespace up::core {

using RecordIds = std::vector<std::pair<std::string, std::optional<uint64_t>>>;

// The record writes, each one store transaction, all or nothing.
// insert_records assigns seq (and id, when empty, as the decimal seq),
// revision 1 and keeps the given timestamps; kAlreadyExists if an id is
// taken; kDuplicateRequest if batch_key is set and some record of the form
// already carries it (a retried batch). Returns the records as stored.
Result<std::vector<Record>> insert_records(meta::MetaStore& store, std::vector<Record> records,
                                           const BindOptions& bind);
// kRecordNotFound, kRevisionConflict. Returns the records as stored.
Result<std::vector<Record>> update_records(meta::MetaStore& store, std::string_view tenant_id,
                                           std::string_view app_id, std::string_view form_id,
                                           const std::vector<RecordUpdate>& updates,
                                           const BindOptions& bind);
// Each id with its expected revision (unset: any). kRecordNotFound,
// kRevisionConflict. The records' objects are marked kDeleted.
Status delete_records(meta::MetaStore& store, std::string_view tenant_id, std::string_view app_id,
                      std::string_view form_id, const RecordIds& ids, UnixMs now);

// Thread-safe; every call blocks.
class RecordService {
 public:
  RecordService(meta::MetaStore& meta, const Clock& clock) : meta_(meta), clock_(clock) {}

  // Binds each record's file_ids under `transaction_id` (may be empty);
  // sets created_at/updated_at to now. See insert_records.
  Result<std::vector<Record>> insert(std::vector<Record> records, std::string transaction_id = {});
  Result<std::vector<Record>> update(std::string_view tenant_id, std::string_view app_id,
                                     std::string_view form_id,
                                     const std::vector<RecordUpdate>& updates,
                                     std::string transaction_id = {});
  Result<Record> get(std::string_view tenant_id, std::string_view app_id, std::string_view form_id,
                     std::string_view id);
  Result<RecordPage> list(const RecordQuery& query);
  // Creates a transaction of an app, or extends it, so that it lasts `ttl_ms`
  // from now (uploads made under it may be bound only by writes naming it).
  Result<Transaction> open_transaction(std::string_view tenant_id, std::string_view app_id,
                                       std::string id, UnixMs ttl_ms);
  Status remove(std::string_view tenant_id, std::string_view app_id, std::string_view form_id,
                const RecordIds& ids);

 private:
  meta::MetaStore& meta_;
  const Clock& clock_;
};

}  // namespace up::core
