#pragma once
// Records: the minimal documents of the dialects' record APIs (a Jodoo entry's
// data, a kintone app's records) and the binding of uploaded files to them.
// Binding rules: meta::BindOptions (meta/meta_store.h). The service fills in
// times and the clock; the dialect owns the field document (data_json) and
// resolves its file references to object ids before writing.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/types.h"
#include "meta/meta_store.h"

namespace up::core {

// Thread-safe; every call blocks.
class RecordService {
 public:
  RecordService(meta::MetaStore& meta, const Clock& clock) : meta_(meta), clock_(clock) {}

  // Binds each record's file_ids under `transaction_id` (may be empty);
  // sets created_at/updated_at to now. See MetaStore::insert_records.
  Result<std::vector<Record>> insert(std::vector<Record> records, std::string transaction_id = {});
  Result<std::vector<Record>> update(std::string_view tenant_id, std::string_view app_id,
                                     std::string_view form_id,
                                     std::vector<meta::RecordUpdate> updates,
                                     std::string transaction_id = {});
  Result<Record> get(std::string_view tenant_id, std::string_view app_id, std::string_view form_id,
                     std::string_view id);
  Result<meta::RecordPage> list(const meta::RecordQuery& query);
  // Creates a transaction of an app, or extends it, so that it lasts `ttl_ms`
  // from now (uploads made under it may be bound only by writes naming it).
  Result<Transaction> open_transaction(std::string_view tenant_id, std::string_view app_id,
                                       std::string id, UnixMs ttl_ms);
  Status remove(std::string_view tenant_id, std::string_view app_id, std::string_view form_id,
                const std::vector<std::pair<std::string, std::optional<uint64_t>>>& ids);

 private:
  meta::MetaStore& meta_;
  const Clock& clock_;
};

}  // namespace up::core
