#include "core/records.h"

namespace up::core {

Result<std::vector<Record>> RecordService::insert(std::vector<Record> records,
                                                  std::string transaction_id) {
  const UnixMs now = clock_.now();
  for (Record& r : records) {
    r.created_at = now;
    r.updated_at = now;
  }
  return meta_.insert_records(std::move(records),
                              meta::BindOptions{std::move(transaction_id), now});
}

Result<std::vector<Record>> RecordService::update(std::string_view tenant_id,
                                                  std::string_view app_id, std::string_view form_id,
                                                  std::vector<meta::RecordUpdate> updates,
                                                  std::string transaction_id) {
  return meta_.update_records(tenant_id, app_id, form_id, std::move(updates),
                              meta::BindOptions{std::move(transaction_id), clock_.now()});
}

Result<Record> RecordService::get(std::string_view tenant_id, std::string_view app_id,
                                  std::string_view form_id, std::string_view id) {
  return meta_.get_record(tenant_id, app_id, form_id, id);
}

Result<meta::RecordPage> RecordService::list(const meta::RecordQuery& query) {
  return meta_.list_records(query);
}

Result<Transaction> RecordService::open_transaction(std::string_view tenant_id,
                                                    std::string_view app_id, std::string id,
                                                    UnixMs ttl_ms) {
  Transaction t;
  t.tenant_id = std::string(tenant_id);
  t.app_id = std::string(app_id);
  t.id = std::move(id);
  t.created_at = clock_.now();
  t.expires_at = t.created_at + ttl_ms;
  UP_TRY(meta_.put_transaction(t));
  return t;
}

Status RecordService::remove(
    std::string_view tenant_id, std::string_view app_id, std::string_view form_id,
    const std::vector<std::pair<std::string, std::optional<uint64_t>>>& ids) {
  return meta_.delete_records(tenant_id, app_id, form_id, ids, clock_.now());
}

}  // namespace up::core
