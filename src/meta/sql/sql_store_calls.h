#pragma once
// MetaStore calls that both SQL stores make alike, over either connection
// (SqliteDb or PgConn, as SqlTransaction): the statements and what surrounds
// them. The store adds how it gets the connection (SQLite's mutex, a
// PostgreSQL lease) and, where a call says so, the transaction.
// REQUIRES: the connection is the caller's alone for the call.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "meta/sql/rows.h"

namespace up::meta::sql {

// Tenants, apps and keys: the reads, and the updates of one row.

template <class Db>
Result<Tenant> get_tenant(Db& db, std::string_view id) {
  return db.one("get tenant", Errc::kTenantNotFound, read_tenant<typename Db::Row>,
                "SELECT " UP_META_TENANT_COLUMNS " FROM tenants WHERE id = ?", id);
}

template <class Db>
Result<std::vector<Tenant>> list_tenants(Db& db) {
  return db.all("list tenants", read_tenant<typename Db::Row>,
                "SELECT " UP_META_TENANT_COLUMNS " FROM tenants ORDER BY id");
}

// created_at is immutable.
template <class Db>
Status update_tenant(Db& db, const Tenant& t) {
  return db.change("update tenant", Errc::kTenantNotFound,
                   "UPDATE tenants SET name = ?, max_bytes = ?, max_objects = ?, "
                   "max_object_bytes = ?, cors_origins = ?, settings_json = ? WHERE id = ?",
                   t.name, t.quota.max_bytes, t.quota.max_objects, t.quota.max_object_bytes,
                   join_lines(t.cors_origins), t.settings_json, t.id);
}

template <class Db>
Result<App> get_app(Db& db, std::string_view tenant_id, std::string_view app_id) {
  return db.one("get app", Errc::kAppNotFound, read_app<typename Db::Row>,
                "SELECT " UP_META_APP_COLUMNS " FROM apps WHERE tenant_id = ? AND id = ?",
                tenant_id, app_id);
}

template <class Db>
Result<std::vector<App>> list_apps(Db& db, std::string_view tenant_id) {
  return db.all("list apps", read_app<typename Db::Row>,
                "SELECT " UP_META_APP_COLUMNS " FROM apps WHERE tenant_id = ? ORDER BY id",
                tenant_id);
}

template <class Db>
Status update_app(Db& db, const App& a) {
  return db.change("update app", Errc::kAppNotFound,
                   "UPDATE apps SET name = ?, dialect = ?, max_bytes = ?, max_objects = ?, "
                   "max_object_bytes = ?, settings_json = ? WHERE tenant_id = ? AND id = ?",
                   a.name, a.dialect, a.quota.max_bytes, a.quota.max_objects,
                   a.quota.max_object_bytes, a.settings_json, a.tenant_id, a.id);
}

template <class Db>
Result<ApiKey> get_key(Db& db, std::string_view key_id) {
  return db.one("get key", Errc::kKeyNotFound, read_key<typename Db::Row>,
                "SELECT " UP_META_KEY_COLUMNS " FROM api_keys WHERE id = ?", key_id);
}

template <class Db>
Result<std::vector<ApiKey>> list_keys(Db& db, std::string_view tenant_id) {
  return db.all("list keys", read_key<typename Db::Row>,
                "SELECT " UP_META_KEY_COLUMNS " FROM api_keys WHERE tenant_id = ? ORDER BY id",
                tenant_id);
}

template <class Db>
Status set_key_enabled(Db& db, std::string_view key_id, bool enabled) {
  return db.change("update key", Errc::kKeyNotFound, "UPDATE api_keys SET enabled = ? WHERE id = ?",
                   enabled, key_id);
}

template <class Db>
Status delete_key(Db& db, std::string_view key_id) {
  return db.change("delete key", Errc::kKeyNotFound, "DELETE FROM api_keys WHERE id = ?", key_id);
}

// Objects.

template <class Db>
Result<Object> get_object_by_key(Db& db, std::string_view tenant_id, std::string_view app_id,
                                 std::string_view key) {
  return db.one("get object by key", Errc::kObjectNotFound, read_object<typename Db::Row>,
                "SELECT " UP_META_OBJECT_COLUMNS
                " FROM objects WHERE tenant_id = ? AND app_id = ? AND key = ? "
                "AND key <> '' AND state <> 'deleted'",
                tenant_id, app_id, key);
}

// `key_collate` makes the key comparisons byte-wise: "" for SQLite (BINARY is
// its default), " COLLATE \"C\"" for PostgreSQL (its index objects_piece_key
// is on that expression). The key range bounds the prefix: it ends with '/',
// and '0' follows '/'.
template <class Db>
Result<std::vector<Object>> objects_by_key_prefix(Db& db, std::string_view key_collate,
                                                  std::string_view tenant_id,
                                                  std::string_view app_id, std::string_view prefix,
                                                  std::string_view after, uint32_t limit) {
  std::string upper(prefix);
  upper.back() = '0';
  const std::string k = "key" + std::string(key_collate);
  return db.all("objects by key prefix", read_object<typename Db::Row>,
                "SELECT " UP_META_OBJECT_COLUMNS
                " FROM objects WHERE tenant_id = ? AND app_id = ? AND key LIKE '//%' "
                "AND key <> '' AND state <> 'deleted' AND " +
                    k + " > ? AND " + k + " < ? ORDER BY " + k + " LIMIT ?",
                tenant_id, app_id, after.empty() ? prefix : after, upper,
                static_cast<int64_t>(limit));
}

// Deletes the rows of objects already marked deleted. Nothing purged is fine
// if the row is already gone (a retried sweep), kFailedPrecondition if the
// object is still live (a bug in the caller).
// REQUIRES: inside a transaction, so that the batch is all or nothing.
template <class Db>
Status purge_objects(Db& db, std::span<const std::string> ids) {
  for (const std::string& id : ids) {
    auto purged =
        db.run("purge object", "DELETE FROM objects WHERE id = ? AND state = 'deleted'", id);
    if (!purged) return fail(std::move(purged.error()));
    if (*purged > 0) continue;
    auto live = db.exists("lookup", "SELECT 1 FROM objects WHERE id = ?", id);
    if (!live) return fail(std::move(live.error()));
    if (*live) return fail(Errc::kFailedPrecondition, "object " + id + " is not deleted");
  }
  return ok();
}

// One indexed lookup each: a read needs no transaction.
template <class Db>
Result<std::vector<bool>> locators_exist(Db& db, std::span<const std::string> locators) {
  std::vector<bool> out;
  out.reserve(locators.size());
  for (const std::string& l : locators) {
    auto found = db.exists("lookup", "SELECT 1 FROM objects WHERE locator = ? LIMIT 1", l);
    if (!found) return fail(std::move(found.error()));
    out.push_back(*found);
  }
  return out;
}

template <class Db>
Result<std::vector<std::optional<Object>>> objects_by_locator(
    Db& db, std::span<const std::string> locators) {
  std::vector<std::optional<Object>> out;
  out.reserve(locators.size());
  for (const std::string& l : locators) {
    auto rows =
        db.all("lookup", read_object<typename Db::Row>,
               "SELECT " UP_META_OBJECT_COLUMNS " FROM objects WHERE locator = ? LIMIT 1", l);
    if (!rows) return fail(std::move(rows.error()));
    out.push_back(rows->empty() ? std::nullopt : std::optional<Object>(std::move(rows->front())));
  }
  return out;
}

template <class Db>
Result<std::vector<Object>> deleted_objects(Db& db, uint32_t limit) {
  return db.all("list deleted objects", read_object<typename Db::Row>,
                "SELECT " UP_META_OBJECT_COLUMNS " FROM objects WHERE state = 'deleted' LIMIT ?",
                limit);
}

template <class Db>
Result<Transaction> get_transaction(Db& db, std::string_view tenant_id, std::string_view app_id,
                                    std::string_view id) {
  return db.one("get transaction", Errc::kTransactionNotFound, read_transaction<typename Db::Row>,
                "SELECT " UP_META_TRANSACTION_COLUMNS
                " FROM transactions WHERE tenant_id = ? AND app_id = ? AND id = ?",
                tenant_id, app_id, id);
}

}  // namespace up::meta::sql
