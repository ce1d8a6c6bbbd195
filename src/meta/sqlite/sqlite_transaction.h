#pragma once
// The MetaTransaction primitives over one SQLite connection. SqliteMetaStore
// opens the transaction (BEGIN IMMEDIATE, or a savepoint of a group commit)
// around a body and commits or rolls back after it; this class only reads and
// writes inside it. Its reads also serve the store's own read calls.
// REQUIRES: the store's mutex held for the object's whole life.

#include <string>
#include <vector>

#include "meta/meta_store.h"
#include "meta/sqlite/sqlite_db.h"

namespace up::meta {

class SqliteTransaction final : public MetaTransaction {
 public:
  explicit SqliteTransaction(SqliteDb& db) : db_(db) {}

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
  // Adds to the running totals of the app and of the tenant (app_id '').
  Status add_usage(std::string_view tenant_id, std::string_view app_id, int64_t bytes,
                   int64_t objects);

  SqliteDb& db_;
};

}  // namespace up::meta
