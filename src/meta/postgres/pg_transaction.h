#pragma once
// The MetaTransaction primitives over one PostgreSQL connection.
// PostgresMetaStore opens the transaction (BEGIN, READ COMMITTED) around a
// body and commits or rolls back after it; this class only reads and writes
// inside it. Its reads also serve the store's own read calls.
//
// Exactness across connections comes from row locks, not from SERIALIZABLE:
// an insert updates the usage rows (locking them until commit) before core
// reads them back, so concurrent inserts into one app queue on its counter
// and each sees the others' committed totals; used grants and bound files
// are conditional inserts on unique keys, which wait for a concurrent
// inserter of the same key and then see its row. Conflicting writes never
// raise errors inside the transaction (ON CONFLICT DO NOTHING, then a look),
// so a body that handles a primitive's error can go on.
// REQUIRES: the lease's connection is inside a transaction for the object's
// whole life, or (for the store's reads) outside one.

#include <string>
#include <vector>

#include "meta/meta_store.h"
#include "meta/postgres/pg_conn.h"

namespace up::meta {

class PgTransaction final : public MetaTransaction {
 public:
  explicit PgTransaction(PgConn& db) : db_(db) {}

  // meta::MetaTransaction
  Result<bool> key_enabled(std::string_view key_id) override;
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

  // The ids of the objects record r binds, in order.
  Result<std::vector<std::string>> record_files(const Record& r);

 private:
  // Adds to the running totals of the app and then of the tenant (app_id
  // ''), always in that order so that two inserters lock them alike.
  Status add_usage(std::string_view tenant_id, std::string_view app_id, int64_t bytes,
                   int64_t objects);

  PgConn& db_;
};

}  // namespace up::meta
