#include "meta/memory/memory_meta_store.h"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include "meta/local_state.h"

namespace up::meta {
namespace {

using Pair = std::pair<std::string, std::string>;
using Triple = std::tuple<std::string, std::string, std::string>;

bool is_live(const Object& o) { return o.state != ObjectState::kDeleted; }

// The value stored under `key`, or null.
template <class Map, class Key>
auto* value_at(Map& m, const Key& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

// update_tenant and update_app: every field but created_at (immutable, as in
// the SQLite store); the ids are those `stored` was found by.
template <class T>
void update_all_but_created_at(T& stored, const T& now) {
  const UnixMs created_at = stored.created_at;
  stored = now;
  stored.created_at = created_at;
}

// A copy of the value stored under `key`, or `missing`.
template <class Map, class Key>
Result<typename Map::mapped_type> copy_at(const Map& m, const Key& key, Errc missing) {
  if (const auto* v = value_at(m, key)) return *v;
  return fail(missing);
}

class MemoryMetaStore final : public ProcessLocalMetaStore {
 public:
  // meta::MetaStore
  Status create_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    if (!tenants_.emplace(t.id, t).second) return fail(Errc::kAlreadyExists);
    return ok();
  }

  Result<Tenant> get_tenant(std::string_view id) override {
    std::lock_guard lock(mu_);
    return copy_at(tenants_, id, Errc::kTenantNotFound);
  }

  Result<std::vector<Tenant>> list_tenants() override {
    std::lock_guard lock(mu_);
    std::vector<Tenant> out;
    for (const auto& [id, t] : tenants_) out.push_back(t);
    return out;
  }

  Status update_tenant(const Tenant& t) override {
    std::lock_guard lock(mu_);
    Tenant* stored = value_at(tenants_, t.id);
    if (!stored) return fail(Errc::kTenantNotFound);
    update_all_but_created_at(*stored, t);
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
    return copy_at(apps_, Pair{tenant_id, app_id}, Errc::kAppNotFound);
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
    App* stored = value_at(apps_, Pair{a.tenant_id, a.id});
    if (!stored) return fail(Errc::kAppNotFound);
    update_all_but_created_at(*stored, a);
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
    return copy_at(keys_, key_id, Errc::kKeyNotFound);
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
    ApiKey* stored = value_at(keys_, key_id);
    if (!stored) return fail(Errc::kKeyNotFound);
    stored->enabled = enabled;
    return ok();
  }

  Status delete_key(std::string_view key_id) override {
    std::lock_guard lock(mu_);
    if (keys_.erase(std::string(key_id)) == 0) return fail(Errc::kKeyNotFound);
    return ok();
  }

  // Defined after Txn.
  Status transact(const std::function<Status(MetaTransaction&)>& body) override;

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

  Result<std::vector<Object>> objects_by_key_prefix(std::string_view tenant_id,
                                                    std::string_view app_id,
                                                    std::string_view prefix, std::string_view after,
                                                    uint32_t limit) override {
    std::lock_guard lock(mu_);
    std::vector<Object> out;
    for (auto it =
             keys_by_name_.upper_bound(Triple{tenant_id, app_id, after.empty() ? prefix : after});
         it != keys_by_name_.end() && out.size() < limit; ++it) {
      const Object& o = objects_.at(it->second);
      if (o.tenant_id != tenant_id || o.app_id != app_id || !o.key.starts_with(prefix)) break;
      out.push_back(o);
    }
    return out;
  }

  Result<core::ObjectPage> list_objects(const core::ObjectQuery& q) override {
    std::lock_guard lock(mu_);
    core::ObjectPage page;
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

  Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) override {
    std::lock_guard lock(mu_);
    return usage_of(tenant_id, app_id);
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

  Status purge_objects(std::span<const std::string> ids) override {
    std::lock_guard lock(mu_);
    for (const std::string& id : ids) {
      auto it = objects_.find(id);
      if (it != objects_.end() && is_live(it->second))
        return fail(Errc::kFailedPrecondition, "object " + id + " is not deleted");
    }
    // Ids already gone are skipped: a retried sweep is fine.
    for (const std::string& id : ids) objects_.erase(id);
    return ok();
  }

  Result<std::vector<bool>> locators_exist(std::span<const std::string> locators) override {
    std::lock_guard lock(mu_);
    std::set<std::string_view> referenced;  // one pass over the rows for the whole batch
    for (const auto& [id, o] : objects_) referenced.insert(o.locator);
    std::vector<bool> out;
    out.reserve(locators.size());
    for (const std::string& l : locators) out.push_back(referenced.contains(l));
    return out;
  }

  Result<std::vector<std::optional<Object>>> objects_by_locator(
      std::span<const std::string> locators) override {
    std::lock_guard lock(mu_);
    std::map<std::string_view, const Object*> by_locator;  // one pass for the whole batch
    for (const auto& [id, o] : objects_) by_locator.emplace(o.locator, &o);
    std::vector<std::optional<Object>> out;
    out.reserve(locators.size());
    for (const std::string& l : locators) {
      auto it = by_locator.find(l);
      out.push_back(it == by_locator.end() ? std::nullopt : std::optional<Object>(*it->second));
    }
    return out;
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
    return copy_at(transactions_, Triple{tenant_id, app_id, id}, Errc::kTransactionNotFound);
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

  Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                            std::string_view form_id, std::string_view id) override {
    std::lock_guard lock(mu_);
    const Record* rec = find_record(Triple{tenant_id, app_id, form_id}, id);
    if (!rec) return fail(Errc::kRecordNotFound);
    return *rec;
  }

  Result<core::RecordPage> list_records(const core::RecordQuery& q) override {
    std::lock_guard lock(mu_);
    core::RecordPage page;
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

 private:
  class Txn;

  // Live objects past their expiry (of `tenant_id` when given), oldest
  // deadline first like the SQLite store's index order, up to `limit`.
  std::vector<Object*> due(UnixMs now, uint32_t limit, std::string_view tenant_id) {
    std::vector<Object*> out;
    for (auto& [id, o] : objects_) {
      if (is_live(o) && o.expires_at && *o.expires_at <= now &&
          (tenant_id.empty() || o.tenant_id == tenant_id))
        out.push_back(&o);
    }
    std::sort(out.begin(), out.end(),
              [](const Object* a, const Object* b) { return *a->expires_at < *b->expires_at; });
    if (out.size() > limit) out.resize(limit);
    return out;
  }

  Record* find_record(const Triple& form, std::string_view id) {
    auto it = records_.find(form);
    if (it == records_.end()) return nullptr;
    for (auto& [seq, rec] : it->second)
      if (rec.id == id) return &rec;
    return nullptr;
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

// The primitives over the store's maps, under its mutex (held by transact).
// Every change logs its inverse, so a failed body is undone in reverse order.
class MemoryMetaStore::Txn final : public MetaTransaction {
 public:
  explicit Txn(MemoryMetaStore& s) : s_(s) {}

  void undo() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
    undo_.clear();
  }

  // meta::MetaTransaction
  Result<bool> key_enabled(std::string_view key_id) override {
    auto k = s_.keys_.find(key_id);
    return k != s_.keys_.end() && k->second.enabled;
  }

  Result<bool> use_grant(std::string_view grant_id, UnixMs grant_expires_at) override {
    auto [it, fresh] = s_.used_grants_.emplace(std::string(grant_id), grant_expires_at);
    if (fresh) undo_.push_back([this, id = it->first] { s_.used_grants_.erase(id); });
    return fresh;
  }

  Status insert_object(const Object& o) override {
    if (s_.objects_.contains(o.id)) return fail(Errc::kAlreadyExists);
    const bool live = is_live(o);
    if (live && !o.key.empty() && s_.keys_by_name_.contains(Triple{o.tenant_id, o.app_id, o.key}))
      return fail(Errc::kObjectKeyExists);
    Object& stored = s_.objects_.emplace(o.id, o).first->second;
    if (live) s_.add_live(stored);
    undo_.push_back([this, id = o.id] {
      Object& x = s_.objects_.at(id);
      if (is_live(x)) s_.remove_live(x);
      s_.objects_.erase(id);
    });
    return ok();
  }

  Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) override {
    return s_.usage_of(tenant_id, app_id);
  }

  Result<uint64_t> expire_objects(UnixMs now, uint32_t limit, std::string_view tenant_id) override {
    const std::vector<Object*> due = s_.due(now, limit, tenant_id);
    for (Object* o : due) kill(*o);
    return due.size();
  }

  Result<Object> get_object(std::string_view tenant_id, std::string_view id) override {
    const Object* o = s_.find_live(tenant_id, id);
    if (!o) return fail(Errc::kObjectNotFound);
    return *o;
  }

  Status set_object_state(std::string_view tenant_id, std::string_view id, ObjectState state,
                          std::optional<UnixMs> expires_at) override {
    Object* o = s_.find_live(tenant_id, id);
    if (!o) return fail(Errc::kObjectNotFound);
    undo_.push_back([o, was = o->state, until = o->expires_at] {
      o->state = was;
      o->expires_at = until;
    });
    o->state = state;
    o->expires_at = expires_at;
    return ok();
  }

  Result<bool> mark_deleted(std::string_view tenant_id, std::string_view id) override {
    Object* o = s_.find_live(tenant_id, id);
    if (!o) return false;
    kill(*o);
    return true;
  }

  Result<bool> batch_key_seen(std::string_view tenant_id, std::string_view app_id,
                              std::string_view form_id, std::string_view batch_key) override {
    auto it = s_.records_.find(Triple{tenant_id, app_id, form_id});
    if (it == s_.records_.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [&](const auto& kv) { return kv.second.batch_key == batch_key; });
  }

  Result<uint64_t> next_record_seq(std::string_view tenant_id, std::string_view app_id,
                                   std::string_view form_id) override {
    uint64_t& last = s_.sequences_[Triple{tenant_id, app_id, form_id}];  // never erased
    undo_.push_back([&last, was = last] { last = was; });
    return ++last;
  }

  Status insert_record(const Record& r) override {
    const Triple form{r.tenant_id, r.app_id, r.form_id};
    if (s_.find_record(form, r.id)) return fail(Errc::kAlreadyExists, "record id taken");
    Record& stored = s_.records_[form].emplace(r.seq, r).first->second;
    stored.file_ids.clear();  // set_record_files writes them
    undo_.push_back([this, form, seq = r.seq] { s_.records_[form].erase(seq); });
    return ok();
  }

  Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                            std::string_view form_id, std::string_view id) override {
    const Record* rec = s_.find_record(Triple{tenant_id, app_id, form_id}, id);
    if (!rec) return fail(Errc::kRecordNotFound);
    return *rec;
  }

  Status update_record(const Record& r) override {
    Record* rec = stored(r);
    if (!rec) return fail(Errc::kRecordNotFound);
    log_restore(*rec);
    rec->revision = r.revision;
    rec->data_json = r.data_json;
    rec->updater = r.updater;
    rec->updated_at = r.updated_at;
    return ok();
  }

  Status delete_record(const Record& r) override {
    Record* rec = stored(r);
    if (!rec) return fail(Errc::kRecordNotFound);
    log_restore(*rec);
    s_.records_[Triple{r.tenant_id, r.app_id, r.form_id}].erase(r.seq);
    return ok();
  }

  Status set_record_files(const Record& r) override {
    const std::pair<Triple, std::string> binding{Triple{r.tenant_id, r.app_id, r.form_id}, r.id};
    for (auto it = s_.bound_.begin(); it != s_.bound_.end();) {
      if (it->second != binding) {
        ++it;
        continue;
      }
      undo_.push_back([this, entry = *it] { s_.bound_.insert(entry); });
      it = s_.bound_.erase(it);
    }
    for (const std::string& id : r.file_ids) {
      if (!s_.bound_.emplace(id, binding).second) return fail(Errc::kObjectNotTemporary);
      undo_.push_back([this, id] { s_.bound_.erase(id); });
    }
    if (Record* rec = stored(r)) {
      log_restore(*rec);
      rec->file_ids = r.file_ids;
    }
    return ok();
  }

 private:
  // Marks a live object deleted (out of usage and of the key index).
  void kill(Object& o) {
    undo_.push_back([this, &o, was = o.state] {
      o.state = was;
      s_.add_live(o);
    });
    s_.remove_live(o);
  }

  Record* stored(const Record& r) {
    auto form = s_.records_.find(Triple{r.tenant_id, r.app_id, r.form_id});
    if (form == s_.records_.end()) return nullptr;
    auto it = form->second.find(r.seq);
    return it == form->second.end() ? nullptr : &it->second;
  }

  // Puts the record back as it is now (by key: the node may be gone by then).
  void log_restore(const Record& rec) {
    undo_.push_back([this, old = rec] {
      s_.records_[Triple{old.tenant_id, old.app_id, old.form_id}][old.seq] = old;
    });
  }

  MemoryMetaStore& s_;
  std::vector<std::function<void()>> undo_;
};

Status MemoryMetaStore::transact(const std::function<Status(MetaTransaction&)>& body) {
  std::lock_guard lock(mu_);
  Txn tx(*this);
  Status r = body(tx);
  if (!r) tx.undo();
  return r;
}

}  // namespace

MetaStorePtr make_memory_meta_store() { return std::make_unique<MemoryMetaStore>(); }

}  // namespace up::meta
