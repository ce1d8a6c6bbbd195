#pragma once
// The MetaTransaction primitives of both SQL stores over one connection. Db is
// SqliteDb or PgConn: they run, read and step statements alike (run, change,
// insert, exists, first, returning, one, all), take ? placeholders and tell a
// unique clash alike (insert), so one statement text serves both dialects.
// The store opens the transaction around a body (SQLite: BEGIN IMMEDIATE or a
// savepoint of a group commit; PostgreSQL: BEGIN, READ COMMITTED) and commits
// or rolls back after it; this class only reads and writes inside it. Its
// reads also serve the stores' own read calls.
//
// On PostgreSQL, exactness across connections comes from row locks, not from
// SERIALIZABLE: an insert updates the usage rows (locking them until commit)
// before core reads them back, so concurrent inserts into one app queue on its
// counter and each sees the others' committed totals; used grants and bound
// files are conditional inserts on unique keys, which wait for a concurrent
// inserter of the same key and then see its row. Conflicting writes never
// raise errors inside the transaction (PgConn::insert is ON CONFLICT DO
// NOTHING, then a look), so a body that handles a primitive's error can go on.
// REQUIRES: the connection is the caller's alone for the object's whole life
// (SQLite: the store's mutex held; PostgreSQL: the lease's connection).

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/meta_store.h"
#include "meta/sql/rows.h"

namespace up::meta {

template <class Db>
class SqlTransaction final : public MetaTransaction {
 public:
  explicit SqlTransaction(Db& db) : db_(db) {}

  // meta::MetaTransaction
  Result<bool> key_enabled(std::string_view key_id) override {
    // enabled is an INTEGER 1/0 on SQLite, a boolean on PostgreSQL: bound, it
    // is written as each wants.
    return db_.exists("lookup", "SELECT 1 FROM api_keys WHERE id = ? AND enabled = ?", key_id,
                      true);
  }
  Result<bool> use_grant(std::string_view grant_id, UnixMs grant_expires_at) override;
  Status insert_object(const Object& o) override;
  Result<Usage> usage(std::string_view tenant_id, std::string_view app_id) override;
  Result<uint64_t> expire_objects(UnixMs now, uint32_t limit, std::string_view tenant_id) override;
  Result<Object> get_object(std::string_view tenant_id, std::string_view id) override;
  Status set_object_state(std::string_view tenant_id, std::string_view id, ObjectState state,
                          std::optional<UnixMs> expires_at) override;
  Result<bool> mark_deleted(std::string_view tenant_id, std::string_view id) override;
  Result<bool> batch_key_seen(std::string_view tenant_id, std::string_view app_id,
                              std::string_view form_id, std::string_view batch_key) override;
  Result<uint64_t> next_record_seq(std::string_view tenant_id, std::string_view app_id,
                                   std::string_view form_id) override;
  Status insert_record(const Record& r) override;
  Result<Record> get_record(std::string_view tenant_id, std::string_view app_id,
                            std::string_view form_id, std::string_view id) override;
  Status update_record(const Record& r) override;
  Status delete_record(const Record& r) override;
  Status set_record_files(const Record& r) override;

  // Sets each record's file_ids: the ids of the objects it binds, in order.
  Status read_files(std::span<Record> records);

 private:
  // Adds to the running totals of the app and then of the tenant (app_id
  // ''), always in that order so that two writers lock them alike.
  Status add_usage(std::string_view tenant_id, std::string_view app_id, int64_t bytes,
                   int64_t objects);
  // One row of usage: an app's, or the tenant's when app_id is empty.
  Status add_usage_row(std::string_view tenant_id, std::string_view app_id, int64_t bytes,
                       int64_t objects);

  Db& db_;
};

template <class Db>
Result<bool> SqlTransaction<Db>::use_grant(std::string_view grant_id, UnixMs grant_expires_at) {
  // On PostgreSQL a concurrent first use of the same grant makes this wait for
  // its commit (then nothing is inserted) or its rollback (then this inserts).
  auto used = db_.run("use grant",
                      "INSERT INTO used_grants(grant_id, expires_at) VALUES(?, ?) "
                      "ON CONFLICT(grant_id) DO NOTHING",
                      grant_id, grant_expires_at);
  if (!used) return fail(std::move(used.error()));
  return *used > 0;
}

template <class Db>
Status SqlTransaction<Db>::insert_object(const Object& o) {
  auto inserted = db_.insert("insert object", Errc::kObjectKeyExists,
                             "INSERT INTO objects(" UP_META_OBJECT_COLUMNS
                             ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             o.id, o.tenant_id, o.app_id, o.key, o.name, o.content_type, o.size,
                             o.sha256, o.md5, o.qetag, o.locator, to_string(o.state), o.created_at,
                             o.expires_at, o.transaction_id, o.owner, o.meta_json);
  if (!inserted) {
    if (inserted.error().code != Errc::kObjectKeyExists) return inserted;
    // A clash: with the id (a second insert of one object), else with
    // objects_live_key.
    auto dup = db_.exists("lookup", "SELECT 1 FROM objects WHERE id = ?", o.id);
    if (!dup) return fail(std::move(dup.error()));
    return fail(*dup ? Errc::kAlreadyExists : Errc::kObjectKeyExists);
  }
  if (o.state == ObjectState::kDeleted) return ok();
  return add_usage(o.tenant_id, o.app_id, static_cast<int64_t>(o.size), 1);
}

template <class Db>
Result<Usage> SqlTransaction<Db>::usage(std::string_view tenant_id, std::string_view app_id) {
  auto found = db_.first(
      "read usage",
      [](const auto& row) {
        return Usage{row.template col<uint64_t>(0), row.template col<uint64_t>(1)};
      },
      "SELECT bytes, objects FROM usage WHERE tenant_id = ? AND app_id = ?", tenant_id, app_id);
  if (!found) return fail(std::move(found.error()));
  return found->value_or(Usage{});
}

template <class Db>
Status SqlTransaction<Db>::add_usage(std::string_view tenant_id, std::string_view app_id,
                                     int64_t bytes, int64_t objects) {
  UP_TRY(add_usage_row(tenant_id, app_id, bytes, objects));
  return add_usage_row(tenant_id, "", bytes, objects);
}

template <class Db>
Status SqlTransaction<Db>::add_usage_row(std::string_view tenant_id, std::string_view app_id,
                                         int64_t bytes, int64_t objects) {
  // The table is aliased: in DO UPDATE a bare column would be ambiguous
  // between the row and excluded on PostgreSQL.
  auto added = db_.run("update usage",
                       "INSERT INTO usage AS u(tenant_id, app_id, bytes, objects) "
                       "VALUES(?, ?, ?, ?) ON CONFLICT(tenant_id, app_id) DO UPDATE SET "
                       "bytes = u.bytes + excluded.bytes, objects = u.objects + excluded.objects",
                       tenant_id, app_id, bytes, objects);
  if (!added) return fail(std::move(added.error()));
  return ok();
}

template <class Db>
Result<uint64_t> SqlTransaction<Db>::expire_objects(UnixMs now, uint32_t limit,
                                                    std::string_view tenant_id) {
  struct Gone {
    std::string tenant_id, app_id;
    int64_t size = 0;
  };
  // One statement for the whole batch (the sweeper's are thousands of rows),
  // then one usage update per app and tenant. The subquery is evaluated
  // before any row changes; the outer state check counts only what this
  // transaction marked (on PostgreSQL a concurrent one may have expired some
  // first).
  auto gone = db_.all(
      "expire objects",
      [](const auto& row) {
        return Gone{row.template col<std::string>(0), row.template col<std::string>(1),
                    row.template col<int64_t>(2)};
      },
      "UPDATE objects SET state = 'deleted' WHERE id IN (SELECT id FROM objects "
      "WHERE expires_at IS NOT NULL AND state <> 'deleted' AND expires_at <= ? "
      "AND (? = '' OR tenant_id = ?) ORDER BY expires_at LIMIT ?) AND state <> 'deleted' "
      "RETURNING tenant_id, app_id, size",
      now, tenant_id, tenant_id, limit);
  if (!gone) return fail(std::move(gone.error()));
  // Apps first, then tenants, each in key order: an insert locks its app's
  // row before its tenant's, so on PostgreSQL the two cannot wait on each other.
  std::map<std::pair<std::string, std::string>, Usage> apps;
  std::map<std::string, Usage> tenants;
  for (const Gone& g : *gone) {
    Usage& a = apps[{g.tenant_id, g.app_id}];
    a.bytes += static_cast<uint64_t>(g.size);
    ++a.objects;
    Usage& t = tenants[g.tenant_id];
    t.bytes += static_cast<uint64_t>(g.size);
    ++t.objects;
  }
  for (const auto& [key, u] : apps)
    UP_TRY(add_usage_row(key.first, key.second, -static_cast<int64_t>(u.bytes),
                         -static_cast<int64_t>(u.objects)));
  for (const auto& [tenant, u] : tenants)
    UP_TRY(add_usage_row(tenant, "", -static_cast<int64_t>(u.bytes),
                         -static_cast<int64_t>(u.objects)));
  return gone->size();
}

template <class Db>
Result<Object> SqlTransaction<Db>::get_object(std::string_view tenant_id, std::string_view id) {
  return db_.one("get object", Errc::kObjectNotFound, read_object<typename Db::Row>,
                 "SELECT " UP_META_OBJECT_COLUMNS
                 " FROM objects WHERE id = ? AND tenant_id = ? AND state <> 'deleted'",
                 id, tenant_id);
}

template <class Db>
Status SqlTransaction<Db>::set_object_state(std::string_view tenant_id, std::string_view id,
                                            ObjectState state, std::optional<UnixMs> expires_at) {
  return db_.change("update object state", Errc::kObjectNotFound,
                    "UPDATE objects SET state = ?, expires_at = ? "
                    "WHERE id = ? AND tenant_id = ? AND state <> 'deleted'",
                    to_string(state), expires_at, id, tenant_id);
}

template <class Db>
Result<bool> SqlTransaction<Db>::mark_deleted(std::string_view tenant_id, std::string_view id) {
  struct Deleted {
    std::string app_id;
    int64_t size = 0;
  };
  auto deleted = db_.returning(
      "delete object",
      [](const auto& row) {
        return Deleted{row.template col<std::string>(0), row.template col<int64_t>(1)};
      },
      "UPDATE objects SET state = 'deleted' WHERE id = ? AND tenant_id = ? "
      "AND state <> 'deleted' RETURNING app_id, size",
      id, tenant_id);
  if (!deleted) return fail(std::move(deleted.error()));
  if (!*deleted) return false;
  UP_TRY(add_usage(tenant_id, (*deleted)->app_id, -(*deleted)->size, -1));
  return true;
}

template <class Db>
Result<bool> SqlTransaction<Db>::batch_key_seen(std::string_view tenant_id, std::string_view app_id,
                                                std::string_view form_id,
                                                std::string_view batch_key) {
  return db_.exists("check batch key",
                    "SELECT 1 FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
                    "AND batch_key = ? AND batch_key <> ''",
                    tenant_id, app_id, form_id, batch_key);
}

template <class Db>
Result<uint64_t> SqlTransaction<Db>::next_record_seq(std::string_view tenant_id,
                                                     std::string_view app_id,
                                                     std::string_view form_id) {
  // On PostgreSQL the upsert locks the form's row until commit: numbers are
  // handed out in commit order and a rolled-back one is handed out again.
  auto seq = db_.returning(
      "next record number", [](const auto& row) { return row.template col<uint64_t>(0); },
      "INSERT INTO record_sequences AS s(tenant_id, app_id, form_id, last_seq) "
      "VALUES(?, ?, ?, 1) ON CONFLICT(tenant_id, app_id, form_id) "
      "DO UPDATE SET last_seq = s.last_seq + 1 RETURNING last_seq",
      tenant_id, app_id, form_id);
  if (!seq) return fail(std::move(seq.error()));
  return seq->value_or(0);
}

template <class Db>
Status SqlTransaction<Db>::insert_record(const Record& r) {
  return db_.insert("insert record", Error(Errc::kAlreadyExists, "record id taken"),
                    "INSERT INTO records(" UP_META_RECORD_COLUMNS
                    ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    r.tenant_id, r.app_id, r.form_id, r.seq, r.id, r.revision, r.data_json,
                    r.batch_key, r.creator, r.updater, r.created_at, r.updated_at);
}

template <class Db>
Result<Record> SqlTransaction<Db>::get_record(std::string_view tenant_id, std::string_view app_id,
                                              std::string_view form_id, std::string_view id) {
  auto r = db_.one("read record", Errc::kRecordNotFound, read_record<typename Db::Row>,
                   "SELECT " UP_META_RECORD_COLUMNS
                   " FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND id = ?",
                   tenant_id, app_id, form_id, id);
  if (!r) return fail(std::move(r.error()));
  UP_TRY(read_files(std::span<Record>(&*r, 1)));
  return r;
}

template <class Db>
Status SqlTransaction<Db>::read_files(std::span<Record> records) {
  for (Record& r : records) {
    auto files = db_.all(
        "read record files", [](const auto& row) { return row.template col<std::string>(0); },
        "SELECT object_id FROM record_files WHERE tenant_id = ? AND app_id = ? AND form_id = ? "
        "AND record_id = ? ORDER BY position",
        r.tenant_id, r.app_id, r.form_id, r.id);
    if (!files) return fail(std::move(files.error()));
    r.file_ids = std::move(*files);
  }
  return ok();
}

template <class Db>
Status SqlTransaction<Db>::update_record(const Record& r) {
  return db_.change("update record", Errc::kRecordNotFound,
                    "UPDATE records SET revision = ?, data_json = ?, updater = ?, updated_at = ? "
                    "WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND seq = ?",
                    r.revision, r.data_json, r.updater, r.updated_at, r.tenant_id, r.app_id,
                    r.form_id, r.seq);
}

template <class Db>
Status SqlTransaction<Db>::delete_record(const Record& r) {
  return db_.change(
      "delete record", Errc::kRecordNotFound,
      "DELETE FROM records WHERE tenant_id = ? AND app_id = ? AND form_id = ? AND seq = ?",
      r.tenant_id, r.app_id, r.form_id, r.seq);
}

template <class Db>
Status SqlTransaction<Db>::set_record_files(const Record& r) {
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
