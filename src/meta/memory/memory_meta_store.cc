#include "meta/memory/memory_meta_store.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

namespace up::meta {
namespace {

using Pair = std::pair<std::string, std::string>;
using Triple = std::tuple<std::string, std::string, std::string>;

bool is_live(const Object& o) { return o.state != ObjectState::kDeleted; }

class MemoryMetaStore final : public MetaStore {
 public:
  // meta::MetaStore
  Status create_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    if (!tenants_.emplace(t.id, t).second) return fail(Errc::kAlreadyExists);
    return ok();
  }

  Result<Tenant> get_tenant(std::string_view id) override {
    std::lock_guard lock(mu_);
    auto it = tenants_.find(std::string(id));
    if (it == tenants_.end()) return fail(Errc::kTenantNotFound);
    return it->second;
  }

  Result<std::vector<Tenant>> list_tenants() override {
    std::lock_guard lock(mu_);
    std::vector<Tenant> out;
    for (const auto& [id, t] : tenants_) out.push_back(t);
    return out;
  }

  Status update_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    auto it = tenants_.find(t.id);
    if (it == tenants_.end()) return fail(Errc::kTenantNotFound);
    // created_at is immutable, as in the SQLite store.
    it->second.name = t.name;
    it->second.quota = t.quota;
    it->second.cors_origins = t.cors_origins;
    it->second.settings_json = t.settings_json;
    return ok();
  }

  Status create_app(const App& a) override {
    std::lock_guard lock(mu_);
    if (!tenants_.contains(a.tenant_id)) return fail(Errc::kTenantNotFound);
    if (!apps_.emplace(Pair{a.tenant_id, a.id}, a).second) return fail(Errc::kAlreadyExists);
    return ok();
  }

  Result<App> get_app(std::string_view tenant_id, std::string_view app_id) override {
    std::lock_guard lock(mu_);
    auto it = apps_.find(Pair{tenant_id, app_id});
    if (it == apps_.end()) return fail(Errc::kAppNotFound);
    return it->second;
  }

  Result<std::vector<App>> list_apps(std::string_view tenant_id) override {
    std::lock_guard lock(mu_);
    std::vector<App> out;
    for (auto it = apps_.lower_bound(Pair{tenant_id, ""});
         it != apps_.end() && it->first.first == tenant_id; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Status update_app(const App& a) override {
    std::lock_guard lock(mu_);
    auto it = apps_.find(Pair{a.tenant_id, a.id});
    if (it == apps_.end()) return fail(Errc::kAppNotFound);
    it->second.name = a.name;
    it->second.dialect = a.dialect;
    it->second.quota = a.quota;
    it->second.settings_json = a.settings_json;
    return ok();
  }

  Status create_key(const ApiKey& k, uint32_t max_per_tenant) override {
    std::lock_guard lock(mu_);
    if (!tenants_.contains(k.tenant_id)) return fail(Errc::kTenantNotFound);
    if (keys_.contains(k.id)) return fail(Errc::kAlreadyExists);
    auto n = std::count_if(keys_.begin(), keys_.end(),
                           [&](const auto& kv) { return kv.second.tenant_id == k.tenant_id; });
    if (static_cast<uint64_t>(n) >= max_per_tenant) return fail(Errc::kKeyLimit);
    keys_.emplace(k.id, k);
    return ok();
  }

  Result<ApiKey> get_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    auto it = keys_.find(std::string(key_id));
    if (it == keys_.end()) return fail(Errc::kKeyNotFound);
    return it->second;
  }

  Result<std::vector<ApiKey>> list_keys(std::string_view tenant_id) override {
    std::lock_guard lock(mu_);
    std::vector<ApiKey> out;
    for (const auto& [id, k] : keys_) {
      if (k.tenant_id == tenant_id) out.push_back(k);
    }
    return out;
  }

  Status set_key_enabled(std::string_view key_id, bool enabled) override {
    std::lock_guard lock(mu_);
    auto it = keys_.find(std::string(key_id));
    if (it == keys_.end()) return fail(Errc::kKeyNotFound);
    it->second.enabled = enabled;
    return ok();
  }

  Status delete_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    if (keys_.erase(std::string(key_id)) == 0) return fail(Errc::kKeyNotFound);
    return ok();
  }

  Status insert_object(const Object& o, const InsertOptions& opts) override {
    std::lock_guard lock(mu_);
    // Same order of checks as the SQLite store, so both report the same code.
    if (!opts.key_id.empty()) {
      auto key = keys_.find(opts.key_id);
      if (key == keys_.end() || !key->second.enabled)
        return fail(Errc::kKeyDisabled, "the key of this upload was disabled or deleted");
    }
    if (!opts.grant_id.empty() && used_grants_.contains(opts.grant_id)) {
      return fail(Errc::kGrantUsed);
    }
    if (objects_.contains(o.id)) return fail(Errc::kAlreadyExists);
    const bool live = is_live(o);
    if (live && !o.key.empty() && keys_by_name_.contains(Triple{o.tenant_id, o.app_id, o.key})) {
      return fail(Errc::kObjectKeyExists);
    }
    if (live) {
      Status within = check_limits(o, opts);
      if (!within && opts.now > 0 && expire_due(opts.now, UINT32_MAX, o.tenant_id) > 0)
        within = check_limits(o, opts);
      UP_TRY(within);
    }
    if (!opts.grant_id.empty()) used_grants_.emplace(opts.grant_id, opts.grant_expires_at);
    objects_.emplace(o.id, o);
    if (live) add_live(o);
    return ok();
  }

  Result<Object> get_object(std::string_view tenant_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    const Object* o = find_live(tenant_id, id);
    if (!o) return fail(Errc::kObjectNotFound);
    return *o;
  }

  Result<Object> get_object_by_key(std::string_view tenant_id, std::string_view app_id,
                                   std::string_view key) override {
    std::lock_guard lock(mu_);
    auto it = keys_by_name_.find(Triple{tenant_id, app_id, key});
    if (key.empty() || it == keys_by_name_.end()) return fail(Errc::kObjectNotFound);
    return objects_.at(it->second);
  }

  Result<ObjectPage> list_objects(const ObjectQuery& q) override {
    std::lock_guard lock(mu_);
    ObjectPage page;
    for (auto it = objects_.upper_bound(q.after_id); it != objects_.end(); ++it) {
      const Object& o = it->second;
      if (o.tenant_id != q.tenant_id) continue;
      if (!q.app_id.empty() && o.app_id != q.app_id) continue;
      if (q.state ? o.state != *q.state : !is_live(o)) continue;
      if (q.live_at && o.expires_at && *o.expires_at <= *q.live_at) continue;
      if (page.objects.size() >= q.limit) {
        page.more = true;
        break;
      }
      page.objects.push_back(o);
    }
    return page;
  }

  Status update_object_state(std::string_view tenant_id, std::string_view id, ObjectState state,
                             std::optional<UnixMs> expires_at) override {
    std::lock_guard lock(mu_);
    Object* o = find_live(tenant_id, id);
    if (!o) return fail(Errc::kObjectNotFound);
    if (state == ObjectState::kDeleted) {
      remove_live(*o);  // leaving the live set also leaves usage, as mark_deleted
    } else {
      o->state = state;
      o->expires_at = expires_at;
    }
    return ok();
  }

  Result<bool> mark_deleted(std::string_view tenant_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    Object* o = find_live(tenant_id, id);
    if (!o) return false;
    remove_live(*o);
    return true;
  }

  Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) override {
    std::lock_guard lock(mu_);
    return usage_of(tenant_id, app_id);
  }

  Result<uint64_t> expire_objects(UnixMs now, uint32_t limit) override {
    std::lock_guard lock(mu_);
    return expire_due(now, limit, {});
  }
  Result<std::vector<Object>> deleted_objects(uint32_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<Object> out;
    for (const auto& [id, o] : objects_) {
      if (out.size() >= limit) break;
      if (!is_live(o)) out.push_back(o);
    }
    return out;
  }

  Status purge_object(std::string_view id) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(std::string(id));
    if (it == objects_.end()) return ok();  // already purged: a retried sweep is fine
    if (is_live(it->second)) return fail(Errc::kFailedPrecondition, "object is not deleted");
    objects_.erase(it);
    return ok();
  }

  Result<bool> locator_exists(std::string_view locator) override {
    std::lock_guard lock(mu_);
    return std::any_of(objects_.begin(), objects_.end(),
                       [&](const auto& kv) { return kv.second.locator == locator; });
  }

  Status put_transaction(const Transaction& t) override {
    std::lock_guard lock(mu_);
    auto [it, inserted] = transactions_.emplace(Triple{t.tenant_id, t.app_id, t.id}, t);
    if (!inserted) it->second.expires_at = std::max(it->second.expires_at, t.expires_at);
    return ok();
  }

  Result<Transaction> get_transaction(std::string_view tenant_id, std::string_view app_id,
                                      std::string_view id) override {
    std::lock_guard lock(mu_);
    auto it = transactions_.find(Triple{tenant_id, app_id, id});
    if (it == transactions_.end()) return fail(Errc::kTransactionNotFound);
    return it->second;
  }

  Result<uint64_t> expire_transactions(UnixMs now) override {
    std::lock_guard lock(mu_);
    return std::erase_if(transactions_,
                         [&](const auto& kv) { return kv.second.expires_at <= now; });
  }

  Result<uint64_t> expire_used_grants(UnixMs now) override {
    std::lock_guard lock(mu_);
    return std::erase_if(used_grants_, [&](const auto& kv) { return kv.second < now; });
  }

  // Records. Writes are all-or-nothing: they work on a copy of the state they
  // touch and put it back on failure (a test double; simplicity over speed).
  Result<std::vector<Record>> insert_records(std::vector<Record> records,
                                             const BindOptions& bind) override {
    std::lock_guard lock(mu_);
    Snapshot before = snapshot();
    auto r = [&]() -> Result<std::vector<Record>> {
      // A batch key seen before this write means a retried batch.
      for (const Record& rec : records) {
        const auto& rows = records_[Triple{rec.tenant_id, rec.app_id, rec.form_id}];
        if (!rec.batch_key.empty() && std::any_of(rows.begin(), rows.end(), [&](const auto& kv) {
              return kv.second.batch_key == rec.batch_key;
            }))
          return fail(Errc::kDuplicateRequest);
      }
      for (Record& rec : records) {
        const Triple form{rec.tenant_id, rec.app_id, rec.form_id};
        auto& rows = records_[form];
        rec.seq = ++sequences_[form];
        if (rec.id.empty()) rec.id = std::to_string(rec.seq);
        if (find_record(form, rec.id)) return fail(Errc::kAlreadyExists, "record id taken");
        rec.revision = 1;
        UP_TRY(bind_files(form, rec.id, {}, rec.file_ids, bind));
        rows.emplace(rec.seq, rec);
      }
      return std::move(records);
    }();
    if (!r) restore(std::move(before));
    return r;
  }

  Result<std::vector<Record>> update_records(std::string_view tenant_id, std::string_view app_id,
                                             std::string_view form_id,
                                             std::vector<RecordUpdate> updates,
                                             const BindOptions& bind) override {
    std::lock_guard lock(mu_);
    Snapshot before = snapshot();
    const Triple form{tenant_id, app_id, form_id};
    auto r = [&]() -> Result<std::vector<Record>> {
      std::vector<Record> out;
      for (RecordUpdate& u : updates) {
        Record* rec = find_record(form, u.id);
        if (!rec) return fail(Errc::kRecordNotFound);
        if (u.expected_revision && *u.expected_revision != rec->revision)
          return fail(Errc::kRevisionConflict);
        UP_TRY(bind_files(form, rec->id, rec->file_ids, u.file_ids, bind));
        rec->data_json = std::move(u.data_json);
        rec->file_ids = std::move(u.file_ids);
        rec->updater = std::move(u.updater);
        rec->updated_at = bind.now;
        rec->revision += 1;
        out.push_back(*rec);
      }
      return out;
    }();
    if (!r) restore(std::move(before));
    return r;
  }

  Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                            std::string_view form_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    const Record* rec = find_record(Triple{tenant_id, app_id, form_id}, id);
    if (!rec) return fail(Errc::kRecordNotFound);
    return *rec;
  }

  Result<RecordPage> list_records(const RecordQuery& q) override {
    std::lock_guard lock(mu_);
    RecordPage page;
    std::vector<const Record*> selected;
    if (auto it = records_.find(Triple{q.tenant_id, q.app_id, q.form_id}); it != records_.end()) {
      for (auto r = it->second.upper_bound(q.after_seq); r != it->second.end(); ++r)
        selected.push_back(&r->second);
    }
    if (q.descending) std::reverse(selected.begin(), selected.end());
    if (q.with_total) page.total = selected.size();
    for (size_t i = q.offset; i < selected.size() && page.records.size() < q.limit; ++i)
      page.records.push_back(*selected[i]);
    return page;
  }

  Status delete_records(std::string_view tenant_id, std::string_view app_id,
                        std::string_view form_id,
                        const std::vector<std::pair<std::string, std::optional<uint64_t>>>& ids,
                        UnixMs) override {
    std::lock_guard lock(mu_);
    Snapshot before = snapshot();
    const Triple form{tenant_id, app_id, form_id};
    auto r = [&]() -> Status {
      for (const auto& [id, revision] : ids) {
        Record* rec = find_record(form, id);
        if (!rec) return fail(Errc::kRecordNotFound);
        if (revision && *revision != rec->revision) return fail(Errc::kRevisionConflict);
        for (const std::string& object_id : rec->file_ids) {
          bound_.erase(object_id);
          if (Object* o = find_live(tenant_id, object_id)) remove_live(*o);
        }
        records_[form].erase(rec->seq);
      }
      return ok();
    }();
    if (!r) restore(std::move(before));
    return r;
  }

 private:
  Status check_limits(const Object& o, const InsertOptions& opts) const {
    const Usage app = usage_of(o.tenant_id, o.app_id);
    const Usage tenant = usage_of(o.tenant_id, "");
    if (opts.app_max_bytes && app.bytes + o.size > *opts.app_max_bytes)
      return fail(Errc::kQuotaExceeded);
    if (opts.app_max_objects && app.objects + 1 > *opts.app_max_objects)
      return fail(Errc::kObjectLimit);
    if (opts.tenant_max_bytes && tenant.bytes + o.size > *opts.tenant_max_bytes)
      return fail(Errc::kQuotaExceeded);
    if (opts.tenant_max_objects && tenant.objects + 1 > *opts.tenant_max_objects)
      return fail(Errc::kObjectLimit);
    return ok();
  }

  // Live objects past their expiry (of `tenant_id` when given), oldest
  // deadline first like the SQLite store's index order, leave the live set.
  uint64_t expire_due(UnixMs now, uint32_t limit, std::string_view tenant_id) {
    std::vector<Object*> due;
    for (auto& [id, o] : objects_) {
      if (is_live(o) && o.expires_at && *o.expires_at <= now &&
          (tenant_id.empty() || o.tenant_id == tenant_id))
        due.push_back(&o);
    }
    std::sort(due.begin(), due.end(),
              [](const Object* a, const Object* b) { return *a->expires_at < *b->expires_at; });
    if (due.size() > limit) due.resize(limit);
    for (Object* o : due) remove_live(*o);
    return due.size();
  }

  struct Snapshot {
    std::map<std::string, Object, std::less<>> objects;
    std::map<Triple, std::string, std::less<>> keys_by_name;
    std::map<Pair, Usage, std::less<>> usage;
    std::map<Triple, std::map<uint64_t, Record>, std::less<>> records;
    std::map<Triple, uint64_t, std::less<>> sequences;
    std::map<std::string, std::pair<Triple, std::string>, std::less<>> bound;
  };
  Snapshot snapshot() const {
    return {objects_, keys_by_name_, usage_, records_, sequences_, bound_};
  }
  void restore(Snapshot s) {
    objects_ = std::move(s.objects);
    keys_by_name_ = std::move(s.keys_by_name);
    usage_ = std::move(s.usage);
    records_ = std::move(s.records);
    sequences_ = std::move(s.sequences);
    bound_ = std::move(s.bound);
  }

  Record* find_record(const Triple& form, std::string_view id) {
    auto it = records_.find(form);
    if (it == records_.end()) return nullptr;
    for (auto& [seq, rec] : it->second)
      if (rec.id == id) return &rec;
    return nullptr;
  }

  // The binding rules of BindOptions, for a record whose files go from `old_ids`
  // to `new_ids`; the caller restores the snapshot if this fails.
  Status bind_files(const Triple& form, const std::string& record_id,
                    const std::vector<std::string>& old_ids,
                    const std::vector<std::string>& new_ids, const BindOptions& bind) {
    const auto& [tenant_id, app_id, form_id] = form;
    for (size_t i = 0; i < new_ids.size(); ++i) {
      const std::string& id = new_ids[i];
      if (std::find(new_ids.begin(), new_ids.begin() + i, id) != new_ids.begin() + i)
        return fail(Errc::kInvalidArgument, "a file is listed twice");
      Object* o = find_live(tenant_id, id);
      if (!o || o->app_id != app_id) return fail(Errc::kObjectNotFound);
      if (auto b = bound_.find(id); b != bound_.end()) {
        if (b->second != std::pair{form, record_id}) return fail(Errc::kObjectNotTemporary);
        continue;
      }
      if (o->state != ObjectState::kTemporary) return fail(Errc::kObjectNotTemporary);
      if (o->expires_at && *o->expires_at <= bind.now) return fail(Errc::kObjectNotFound);
      if (!o->transaction_id.empty() && o->transaction_id != bind.transaction_id)
        return fail(Errc::kTransactionMismatch);
      o->state = ObjectState::kAttached;
      o->expires_at.reset();
      bound_[id] = {form, record_id};
    }
    for (const std::string& id : old_ids) {
      if (std::find(new_ids.begin(), new_ids.end(), id) != new_ids.end()) continue;
      bound_.erase(id);
      if (Object* o = find_live(tenant_id, id)) remove_live(*o);
    }
    return ok();
  }

  Object* find_live(std::string_view tenant_id, std::string_view id) {
    auto it = objects_.find(std::string(id));
    if (it == objects_.end() || it->second.tenant_id != tenant_id || !is_live(it->second)) {
      return nullptr;
    }
    return &it->second;
  }

  Usage usage_of(std::string_view tenant_id, std::string_view app_id) const {
    auto it = usage_.find(Pair{tenant_id, app_id});
    return it == usage_.end() ? Usage{} : it->second;
  }

  // Usage is kept per (tenant, app) and per (tenant, "") for the tenant total.
  void add_live(const Object& o) {
    for (const std::string& app : {o.app_id, std::string()}) {
      Usage& u = usage_[Pair{o.tenant_id, app}];
      u.bytes += o.size;
      u.objects += 1;
    }
    if (!o.key.empty()) keys_by_name_[Triple{o.tenant_id, o.app_id, o.key}] = o.id;
  }

  void remove_live(Object& o) {
    for (const std::string& app : {o.app_id, std::string()}) {
      Usage& u = usage_[Pair{o.tenant_id, app}];
      u.bytes -= o.size;
      u.objects -= 1;
    }
    if (!o.key.empty()) keys_by_name_.erase(Triple{o.tenant_id, o.app_id, o.key});
    o.state = ObjectState::kDeleted;
  }

  std::mutex mu_;
  std::map<std::string, Tenant, std::less<>> tenants_;
  std::map<Pair, App, std::less<>> apps_;
  std::map<std::string, ApiKey, std::less<>> keys_;
  std::map<std::string, Object, std::less<>> objects_;       // by id, so listing is ordered
  std::map<Triple, std::string, std::less<>> keys_by_name_;  // live objects with a key -> id
  std::map<Pair, Usage, std::less<>> usage_;
  std::map<Triple, Transaction, std::less<>> transactions_;
  std::map<std::string, UnixMs, std::less<>> used_grants_;             // grant id -> grant deadline
  std::map<Triple, std::map<uint64_t, Record>, std::less<>> records_;  // form -> seq -> record
  std::map<Triple, uint64_t, std::less<>> sequences_;                  // form -> last seq given out
  std::map<std::string, std::pair<Triple, std::string>, std::less<>>
      bound_;  // object -> form, record
};

}  // namespace

MetaStorePtr make_memory_meta_store() { return std::make_unique<MemoryMetaStore>(); }

}  // namespace up::meta
