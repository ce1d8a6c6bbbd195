#pragma once
// Metadata of tenants, apps, keys, objects and transactions. Implementations:
// meta/sqlite (the embedded default), meta/postgres (shared by several
// processes), meta/memory (tests).
// A store offers reads and small atomic primitives (MetaTransaction); the
// rules (quotas, single-use grants, binding, expiry) are core's, written once
// over them and run inside transact().
//
// Every call blocks and is thread-safe; callers run them off the I/O threads.
// Ids and keys are compared byte for byte. Times are UnixMs.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cursors.h"
#include "core/queries.h"
#include "core/result.h"
#include "core/types.h"

namespace up::meta {

// The primitives core's rules run on (core/upload_rules.cc, core/records.cc),
// all inside one MetaStore::transact call. Each is atomic on its own; the
// transaction makes a whole rule atomic: a store with real transactions
// (SQLite, PostgreSQL) runs it as one, and the memory store undoes a failed
// one. Not thread-safe: used only by the body it was passed to, during that call.
class MetaTransaction {
 public:
  virtual ~MetaTransaction() = default;

  // Whether the API key exists and is enabled.
  virtual Result<bool> key_enabled(std::string_view key_id) = 0;
  // Conditional insert of a used grant: false (and nothing written) if the
  // grant was used before.
  virtual Result<bool> use_grant(std::string_view grant_id, UnixMs grant_expires_at) = 0;
  // Conditional insert: kAlreadyExists if the id is taken, kObjectKeyExists if
  // a live object of (tenant, app) holds its non-empty key. A live object is
  // added to the usage counters of its app and tenant in the same step.
  virtual Status insert_object(const Object& o) = 0;
  // Counters of live objects of one app, or of the tenant when app_id is empty.
  virtual Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) = 0;
  // Marks up to `limit` live objects with expires_at <= now as kDeleted (only
  // those of `tenant_id` when not empty), oldest deadline first, and takes
  // them out of usage; returns how many.
  virtual Result<uint64_t> expire_objects(UnixMs now, uint32_t limit,
                                          std::string_view tenant_id) = 0;
  // A live object of the tenant; kObjectNotFound otherwise.
  virtual Result<Object> get_object(std::string_view tenant_id, std::string_view id) = 0;
  // Sets a live object's state and expiry. REQUIRES: state is not kDeleted
  // (use mark_deleted). kObjectNotFound if not live.
  virtual Status set_object_state(std::string_view tenant_id, std::string_view id,
                                  ObjectState state, std::optional<UnixMs> expires_at) = 0;
  // Marks a live object kDeleted and takes it out of usage; false if it was not live.
  virtual Result<bool> mark_deleted(std::string_view tenant_id, std::string_view id) = 0;

  // Whether some record of the form carries this (non-empty) batch key.
  virtual Result<bool> batch_key_seen(std::string_view tenant_id, std::string_view app_id,
                                      std::string_view form_id, std::string_view batch_key) = 0;
  // The form's next record number; numbers are never given out twice by
  // committed transactions, even after a delete.
  virtual Result<uint64_t> next_record_seq(std::string_view tenant_id, std::string_view app_id,
                                           std::string_view form_id) = 0;
  // The record's row as given (seq, id, revision set); its files are written
  // by set_record_files. kAlreadyExists if the form has a record of this id.
  virtual Status insert_record(const Record& r) = 0;
  // With its file_ids. kRecordNotFound.
  virtual Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                                    std::string_view form_id, std::string_view id) = 0;
  // Writes revision, data_json, updater and updated_at of the record `r.seq`.
  virtual Status update_record(const Record& r) = 0;
  virtual Status delete_record(const Record& r) = 0;
  // Makes r.file_ids (in order) the objects bound to record r, replacing its
  // bindings. kObjectNotTemporary if one is bound to another record.
  virtual Status set_record_files(const Record& r) = 0;
};

// One fixed window of a rate limit after MetaStore::rate_hit.
struct RateCount {
  bool allowed = false;
  uint32_t count = 0;       // hits counted in the window (this one, when allowed)
  UnixMs window_start = 0;  // aligned: a multiple of the window's length
};

// A body run as one transaction (MetaStore::transact_each), with its result.
struct TransactionBody {
  std::function<Status(MetaTransaction&)> run;
  Status result = ok();
};

class MetaStore {
 public:
  virtual ~MetaStore() = default;
  MetaStore() = default;
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  // Tenants. kAlreadyExists / kTenantNotFound. Lists are ordered by id;
  // update_* replace every field but the ids and created_at.
  virtual Status create_tenant(const Tenant& t) = 0;
  virtual Result<Tenant> get_tenant(std::string_view id) = 0;
  virtual Result<std::vector<Tenant>> list_tenants() = 0;
  virtual Status update_tenant(const Tenant& t) = 0;

  // Apps. kAlreadyExists / kAppNotFound; create_app: kTenantNotFound.
  virtual Status create_app(const App& a) = 0;
  virtual Result<App> get_app(std::string_view tenant_id, std::string_view app_id) = 0;
  virtual Result<std::vector<App>> list_apps(std::string_view tenant_id) = 0;
  virtual Status update_app(const App& a) = 0;

  // API keys. create_key fails with kKeyLimit when the tenant already has
  // `max_per_tenant` keys (checked atomically with the insert); kTenantNotFound,
  // kAlreadyExists.
  virtual Status create_key(const ApiKey& k, uint32_t max_per_tenant) = 0;
  virtual Result<ApiKey> get_key(std::string_view key_id) = 0;  // kKeyNotFound
  virtual Result<std::vector<ApiKey>> list_keys(std::string_view tenant_id) = 0;
  virtual Status set_key_enabled(std::string_view key_id, bool enabled) = 0;
  virtual Status delete_key(std::string_view key_id) = 0;  // kKeyNotFound

  // Runs `body` as one transaction over this store's primitives: every
  // change it makes is committed if it returns ok, none if it fails (its error
  // is returned). kTransactionConflict if the store aborted it for a
  // serialization conflict (nothing written; core runs it again). `body` may
  // run on another caller's thread (group commit) and must not call the store.
  virtual Status transact(const std::function<Status(MetaTransaction&)>& body) = 0;
  // Several independent bodies, each all-or-nothing with its own result, in
  // as few transactions (syncs) as the store can: SQLite commits them in one,
  // each under its own savepoint.
  virtual void transact_each(std::span<TransactionBody> bodies) {
    for (TransactionBody& b : bodies) b.result = transact(b.run);
  }
  // Whether other processes may use this store at once (PostgreSQL): then no
  // process may assume that what it finds unreferenced was not just written.
  virtual bool shared() const { return false; }

  // Object reads. kObjectNotFound for unknown ids, other tenants' ids, and
  // kDeleted objects.
  virtual Result<Object> get_object(std::string_view tenant_id, std::string_view id) = 0;
  virtual Result<Object> get_object_by_key(std::string_view tenant_id, std::string_view app_id,
                                           std::string_view key) = 0;
  virtual Result<core::ObjectPage> list_objects(const core::ObjectQuery& q) = 0;
  // Live objects of one app whose key starts with `prefix`, in ascending
  // byte order of key, after key `after` (empty: from the first), at most
  // `limit` (a resumable upload's pieces, core/resumable.h).
  // REQUIRES: prefix starts with "//" (a reserved key) and ends with '/'.
  virtual Result<std::vector<Object>> objects_by_key_prefix(std::string_view tenant_id,
                                                            std::string_view app_id,
                                                            std::string_view prefix,
                                                            std::string_view after,
                                                            uint32_t limit) = 0;
  // Totals of live objects of one app, or of the whole tenant when app_id is empty.
  virtual Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) = 0;

  // Sweeper support. Objects in state kDeleted (id, tenant, locator filled),
  // up to `limit`, in no particular order.
  virtual Result<std::vector<Object>> deleted_objects(uint32_t limit) = 0;
  // Drops the rows of kDeleted objects, after their blobs are gone. Ids whose
  // row is already gone (a retried sweep) are skipped; kFailedPrecondition,
  // and nothing dropped, if one is live.
  virtual Status purge_objects(std::span<const std::string> ids) = 0;
  // For each locator, whether any row (any state) references it.
  virtual Result<std::vector<bool>> locators_exist(std::span<const std::string> locators) = 0;
  // For each locator, the object of a row (any state) that references it, if
  // any: migrate-blobs checks each blob it copies against the row's size and
  // SHA-256.
  virtual Result<std::vector<std::optional<Object>>> objects_by_locator(
      std::span<const std::string> locators) = 0;

  // Record reads (writes are core's rules over MetaTransaction).
  virtual Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                                    std::string_view form_id, std::string_view id) = 0;
  virtual Result<core::RecordPage> list_records(const core::RecordQuery& q) = 0;

  // Transactions. put_transaction creates or extends (expires_at = max). It
  // need not be durable when it returns (it is with the next durable write):
  // a transaction's uploads carry its id and expiry themselves, so a crash
  // that loses the row loses nothing.
  virtual Status put_transaction(const Transaction& t) = 0;
  virtual Result<Transaction> get_transaction(std::string_view tenant_id, std::string_view app_id,
                                              std::string_view id) = 0;
  // Drops transactions with expires_at <= now; returns how many.
  virtual Result<uint64_t> expire_transactions(UnixMs now) = 0;
  // Drops records of used grants whose grant expired before `now` (a grant
  // past its deadline is refused anyway, so its record is no longer needed).
  virtual Result<uint64_t> expire_used_grants(UnixMs now) = 0;

  // State that must hold across the processes sharing a store (DESIGN.md,
  // "Several processes"). A store only one process uses (SQLite, memory) may
  // keep rate windows and leases in that process.

  // Counts one hit of `key` in the fixed window of `window_ms` holding `now`
  // (start = now - now % window_ms). Allowed, and counted, while fewer than
  // `limit` hits were counted in that window; a refused hit is not counted.
  // Atomic across every process of the store. A window stored by a process
  // whose clock is ahead is counted into, never reset backwards.
  // REQUIRES: window_ms > 0.
  virtual Result<RateCount> rate_hit(std::string_view key, uint32_t limit, UnixMs window_ms,
                                     UnixMs now) = 0;
  // Drops rate windows that started before `before`; returns how many.
  virtual Result<uint64_t> expire_rate_windows(UnixMs before) = 0;

  // Takes or renews the lease `name` for `holder` until now + ttl_ms. True if
  // `holder` holds it now (it was free, expired, or already its own); false,
  // and nothing changed, while another holder's lease runs.
  virtual Result<bool> try_lease(std::string_view name, std::string_view holder, UnixMs ttl_ms,
                                 UnixMs now) = 0;

  // Cursors (kintone's records/cursor): a read position kept between requests,
  // which may reach different processes. put_cursor stores a new one unless
  // its tenant already has `max_per_tenant` cursors unexpired at `now`
  // (kRateLimited; counted and inserted atomically); kAlreadyExists for a
  // taken id.
  virtual Status put_cursor(const core::Cursor& c, uint32_t max_per_tenant, UnixMs now) = 0;
  // An unexpired cursor of the tenant; kNotFound otherwise.
  virtual Result<core::Cursor> get_cursor(std::string_view tenant_id, std::string_view id,
                                          UnixMs now) = 0;
  // Moves a cursor from `from` to `to` records served: false, and nothing
  // changed, if it is gone or no longer at `from` (a concurrent read moved it).
  virtual Result<bool> advance_cursor(std::string_view tenant_id, std::string_view id,
                                      uint64_t from, uint64_t to) = 0;
  // Drops a cursor; false if there was none.
  virtual Result<bool> delete_cursor(std::string_view tenant_id, std::string_view id) = 0;
  // Drops cursors with expires_at <= now; returns how many.
  virtual Result<uint64_t> expire_cursors(UnixMs now) = 0;
};
using MetaStorePtr = std::unique_ptr<MetaStore>;

}  // namespace up::meta
