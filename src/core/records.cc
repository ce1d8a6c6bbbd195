#include "core/records.h"

#include <algorithm>

#include "core/transact.h"
#include "meta/meta_store.h"

namespace up::core {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Flips one unbound temporary object of r's app to attached (BindOptions).
Status attach(meta::MetaTransaction& tx, const Record& r, const std::string& object_id,
              const BindOptions& bind) {
  auto o = tx.get_object(r.tenant_id, object_id);
  if (!o) return fail(std::move(o.error()));
  if (o->app_id != r.app_id) return fail(Errc::kObjectNotFound);
  // Bound to a record already (this one would have kept it): attached, not temporary.
  if (o->state != ObjectState::kTemporary) return fail(Errc::kObjectNotTemporary);
  if (o->expires_at && *o->expires_at <= bind.now) return fail(Errc::kObjectNotFound);
  if (!o->transaction_id.empty() && o->transaction_id != bind.transaction_id)
    return fail(Errc::kTransactionMismatch);
  return tx.set_object_state(r.tenant_id, object_id, ObjectState::kAttached, std::nullopt);
}

// The binding rules of BindOptions: record `r` now binds r.file_ids and used
// to bind `old_ids`. Files it keeps are not checked again; files it dropped
// are marked deleted.
Status bind_files(meta::MetaTransaction& tx, const Record& r,
                  const std::vector<std::string>& old_ids, const BindOptions& bind) {
  const std::vector<std::string>& ids = r.file_ids;
  for (auto it = ids.begin(); it != ids.end(); ++it) {
    if (std::find(ids.begin(), it, *it) != it)
      return fail(Errc::kInvalidArgument, "a file is listed twice");
    if (!contains(old_ids, *it)) UP_TRY(attach(tx, r, *it, bind));
  }
  UP_TRY(tx.set_record_files(r));
  for (const std::string& id : old_ids) {
    if (contains(ids, id)) continue;
    auto gone = tx.mark_deleted(r.tenant_id, id);
    if (!gone) return fail(std::move(gone.error()));
  }
  return ok();
}

// A batch key seen before this write means a retried batch (the records of
// this write may all carry the same key).
Status check_batch_keys(meta::MetaTransaction& tx, const std::vector<Record>& records) {
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    if (r.batch_key.empty() || (i > 0 && records[i - 1].batch_key == r.batch_key)) continue;
    auto seen = tx.batch_key_seen(r.tenant_id, r.app_id, r.form_id, r.batch_key);
    if (!seen) return fail(std::move(seen.error()));
    if (*seen) return fail(Errc::kDuplicateRequest);
  }
  return ok();
}

}  // namespace

Result<std::vector<Record>> insert_records(meta::MetaStore& store, std::vector<Record> records,
                                           const BindOptions& bind) {
  std::vector<Record> out;
  UP_TRY(transact(store, [&](meta::MetaTransaction& tx) -> Status {
    UP_TRY(check_batch_keys(tx, records));
    out = records;  // afresh on every run: a retried run keeps nothing
    for (Record& r : out) {
      auto seq = tx.next_record_seq(r.tenant_id, r.app_id, r.form_id);
      if (!seq) return fail(std::move(seq.error()));
      r.seq = *seq;
      if (r.id.empty()) r.id = std::to_string(r.seq);
      r.revision = 1;
      UP_TRY(tx.insert_record(r));
      UP_TRY(bind_files(tx, r, {}, bind));
    }
    return ok();
  }));
  return out;
}

Result<std::vector<Record>> update_records(meta::MetaStore& store, std::string_view tenant_id,
                                           std::string_view app_id, std::string_view form_id,
                                           const std::vector<RecordUpdate>& updates,
                                           const BindOptions& bind) {
  std::vector<Record> out;
  UP_TRY(transact(store, [&](meta::MetaTransaction& tx) -> Status {
    out.clear();
    for (const RecordUpdate& u : updates) {
      auto r = tx.get_record(tenant_id, app_id, form_id, u.id);
      if (!r) return fail(std::move(r.error()));
      if (u.expected_revision && *u.expected_revision != r->revision)
        return fail(Errc::kRevisionConflict);
      std::vector<std::string> old_files = std::move(r->file_ids);
      r->file_ids = u.file_ids;
      r->data_json = u.data_json;
      r->updater = u.updater;
      r->updated_at = bind.now;
      r->revision += 1;
      UP_TRY(tx.update_record(*r));
      UP_TRY(bind_files(tx, *r, old_files, bind));
      out.push_back(std::move(*r));
    }
    return ok();
  }));
  return out;
}

Status delete_records(meta::MetaStore& store, std::string_view tenant_id, std::string_view app_id,
                      std::string_view form_id, const RecordIds& ids, UnixMs now) {
  return transact(store, [&](meta::MetaTransaction& tx) -> Status {
    for (const auto& [id, revision] : ids) {
      auto r = tx.get_record(tenant_id, app_id, form_id, id);
      if (!r) return fail(std::move(r.error()));
      if (revision && *revision != r->revision) return fail(Errc::kRevisionConflict);
      std::vector<std::string> files;
      files.swap(r->file_ids);  // it binds nothing now; its files go
      UP_TRY(bind_files(tx, *r, files, BindOptions{{}, now}));
      UP_TRY(tx.delete_record(*r));
    }
    return ok();
  });
}

Result<std::vector<Record>> RecordService::insert(std::vector<Record> records,
                                                  std::string transaction_id) {
  const UnixMs now = clock_.now();
  for (Record& r : records) {
    r.created_at = now;
    r.updated_at = now;
  }
  return insert_records(meta_, std::move(records), BindOptions{std::move(transaction_id), now});
}

Result<std::vector<Record>> RecordService::update(std::string_view tenant_id,
                                                  std::string_view app_id, std::string_view form_id,
                                                  const std::vector<RecordUpdate>& updates,
                                                  std::string transaction_id) {
  return update_records(meta_, tenant_id, app_id, form_id, updates,
                        BindOptions{std::move(transaction_id), clock_.now()});
}

Result<Record> RecordService::get(std::string_view tenant_id, std::string_view app_id,
                                  std::string_view form_id, std::string_view id) {
  return meta_.get_record(tenant_id, app_id, form_id, id);
}

Result<RecordPage> RecordService::list(const RecordQuery& query) {
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

Status RecordService::remove(std::string_view tenant_id, std::string_view app_id,
                             std::string_view form_id, const RecordIds& ids) {
  return delete_records(meta_, tenant_id, app_id, form_id, ids, clock_.now());
}

}  // namespace up::core
