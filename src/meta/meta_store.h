#pragma once
// Metadata of tenants, apps, keys, objects and transactions. Implementations:
// meta/sqlite (the embedded default), meta/memory (tests); PostgreSQL later.
//
// Every call blocks and is thread-safe; callers run them off the I/O threads.
// Ids and keys are compared byte for byte. Times are UnixMs.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace up::meta {

// How insert_object guards the commit; all checks and the insert are one
// atomic step, so two racing uploads can never both succeed.
struct InsertOptions {
  // When set, recorded as used; kGrantUsed if it already was (single-use grants).
  std::string grant_id;
  UnixMs grant_expires_at = 0;  // after this the record of its use may be dropped
  // When set, the API key that authorized the upload must still exist and be
  // enabled as the insert commits, else kKeyDisabled: revoking a key stops its
  // uploads in flight too.
  std::string key_id;
  // Limits checked against the usage of the object's app and of its tenant,
  // including the new object. Unset: unchecked. kQuotaExceeded / kObjectLimit.
  std::optional<uint64_t> app_max_bytes, app_max_objects;
  std::optional<uint64_t> tenant_max_bytes, tenant_max_objects;
  // Objects of the tenant already expired at `now` do not count: when a limit
  // would refuse the insert, they are marked kDeleted first (as the sweeper
  // would) and the limits checked again. 0: no such step.
  UnixMs now = 0;
};

// One insert of a batch (MetaStore::insert_objects) and its result.
struct ObjectInsert {
  const Object* object = nullptr;
  const InsertOptions* opts = nullptr;
  Status result = ok();
};

struct ObjectQuery {
  std::string tenant_id;
  std::string app_id;                // empty: all apps of the tenant
  std::optional<ObjectState> state;  // unset: every state but kDeleted
  std::string after_id;              // cursor: ids strictly greater than this
  uint32_t limit = 100;
  std::optional<UnixMs> live_at;  // when set, hide objects with expires_at <= live_at
};

struct ObjectPage {
  std::vector<Object> objects;  // ascending by id
  bool more = false;            // another page exists after the last id
};

// How a record write binds files. Every object id in a written record's
// file_ids must name a live object of the record's tenant and app that is
//  - kTemporary, unexpired at `now`, and of transaction `transaction_id` when
//    it has one: it becomes kAttached with no expiry; or
//  - already bound to this same record (an update keeping it).
// Else kObjectNotFound / kTransactionMismatch / kObjectNotTemporary, and the
// write changes nothing. Objects an update or a delete leaves unreferenced are
// marked kDeleted (the sweeper removes them).
struct BindOptions {
  std::string transaction_id;
  UnixMs now = 0;
};

struct RecordUpdate {
  std::string id;
  std::optional<uint64_t> expected_revision;  // kRevisionConflict if it differs
  std::string data_json;                      // replaces the record's
  std::vector<std::string> file_ids;          // replaces the record's
  std::string updater;
};

struct RecordQuery {
  std::string tenant_id;
  std::string app_id;
  std::string form_id;
  uint64_t after_seq = 0;   // only records with seq strictly greater
  bool descending = false;  // by seq
  uint32_t limit = 100;
  uint64_t offset = 0;
  bool with_total = false;  // count every record after_seq selects, ignoring limit/offset
};

struct RecordPage {
  std::vector<Record> records;
  std::optional<uint64_t> total;  // when with_total
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

  // Objects. insert_object: kObjectKeyExists if (tenant, app, key) is taken
  // by a live object (key not empty), kAlreadyExists if the id is taken, plus
  // the InsertOptions checks. Check order: grant, id, key, app then tenant limits.
  virtual Status insert_object(const Object& o, const InsertOptions& opts) = 0;
  // Several inserts, each with insert_object's checks and its own result; a
  // store that can commit them in one transaction (one sync) does so.
  virtual void insert_objects(std::span<ObjectInsert> inserts) {
    for (ObjectInsert& i : inserts) i.result = insert_object(*i.object, *i.opts);
  }
  // kObjectNotFound for unknown ids, other tenants' ids, and kDeleted objects.
  virtual Result<Object> get_object(std::string_view tenant_id, std::string_view id) = 0;
  virtual Result<Object> get_object_by_key(std::string_view tenant_id, std::string_view app_id,
                                           std::string_view key) = 0;
  virtual Result<ObjectPage> list_objects(const ObjectQuery& q) = 0;
  // Moves a live object to `state` (kAttached, kStored, ...), setting its expiry.
  // kObjectNotFound if not live. `state` kDeleted acts as mark_deleted.
  virtual Status update_object_state(std::string_view tenant_id, std::string_view id,
                                     ObjectState state, std::optional<UnixMs> expires_at) = 0;
  // Marks an object kDeleted (it disappears from reads and from usage at once);
  // the sweeper removes its blob and then its row. Returns false if it was not live.
  virtual Result<bool> mark_deleted(std::string_view tenant_id, std::string_view id) = 0;
  // Totals of live objects of one app, or of the whole tenant when app_id is empty.
  virtual Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) = 0;

  // Sweeper support. Marks up to `limit` live objects with expires_at <= now
  // as kDeleted; returns how many.
  virtual Result<uint64_t> expire_objects(UnixMs now, uint32_t limit) = 0;
  // Objects in state kDeleted (id, tenant, locator filled), up to `limit`, in
  // no particular order.
  virtual Result<std::vector<Object>> deleted_objects(uint32_t limit) = 0;
  // Drops the row of a kDeleted object, after its blob is gone. OK if the row
  // is already gone (a retried sweep); kFailedPrecondition if it is live.
  virtual Status purge_object(std::string_view id) = 0;
  // Whether any row (any state) references this locator.
  virtual Result<bool> locator_exists(std::string_view locator) = 0;

  // Records (see BindOptions). All writes are all-or-nothing.
  // insert_records assigns seq (and id, when empty, as the decimal seq),
  // revision 1 and keeps the given timestamps; kAlreadyExists if an id is
  // taken; kDuplicateRequest if batch_key is set and some record of the form
  // already carries it (a retried batch). Returns the records as stored.
  virtual Result<std::vector<Record>> insert_records(std::vector<Record> records,
                                                     const BindOptions& bind) = 0;
  // kRecordNotFound, kRevisionConflict. Returns the records as stored.
  virtual Result<std::vector<Record>> update_records(std::string_view tenant_id,
                                                     std::string_view app_id,
                                                     std::string_view form_id,
                                                     std::vector<RecordUpdate> updates,
                                                     const BindOptions& bind) = 0;
  virtual Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                                    std::string_view form_id, std::string_view id) = 0;
  virtual Result<RecordPage> list_records(const RecordQuery& q) = 0;
  // Each id with its expected revision (unset: any). kRecordNotFound,
  // kRevisionConflict. The records' objects are marked kDeleted.
  virtual Status delete_records(
      std::string_view tenant_id, std::string_view app_id, std::string_view form_id,
      const std::vector<std::pair<std::string, std::optional<uint64_t>>>& ids, UnixMs now) = 0;

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
};
using MetaStorePtr = std::unique_ptr<MetaStore>;

}  // namespace up::meta
