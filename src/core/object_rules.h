#pragma once
// The rules of object metadata, written once over the store primitives
// (meta::MetaTransaction) and run as one store transaction each: the checks of
// an insert (key still enabled, single-use grant, unique id and key, app and
// tenant limits with expired objects not counting), state changes, deletes and
// expiry. Every call blocks.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/queries.h"
#include "core/result.h"
#include "core/types.h"

namespace up::meta {
class MetaStore;
class MetaTransaction;
}  // namespace up::meta

namespace up::core {

// The checks of InsertOptions, then the insert, inside `tx`. Check order: key
// enabled (kKeyDisabled), grant unused (kGrantUsed), id free (kAlreadyExists),
// key free (kObjectKeyExists), app then tenant limits (kQuotaExceeded /
// kObjectLimit). A failure leaves the caller to roll `tx` back.
Status insert_checked(meta::MetaTransaction& tx, const Object& o, const InsertOptions& opts);
// insert_checked as one transaction.
Status insert_object(meta::MetaStore& store, const Object& o, const InsertOptions& opts);
// Several inserts, each all-or-nothing with its own result, committed together
// where the store can (one sync for the batch).
void insert_objects(meta::MetaStore& store, std::span<ObjectInsert> inserts);

// Moves a live object to `state`, setting its expiry; kDeleted acts as
// mark_deleted. kObjectNotFound if not live.
Status set_object_state(meta::MetaStore& store, std::string_view tenant_id, std::string_view id,
                        ObjectState state, std::optional<UnixMs> expires_at);
// Marks a live object kDeleted (it leaves reads and usage at once; the sweeper
// removes blob and row). False if it was not live.
Result<bool> mark_deleted(meta::MetaStore& store, std::string_view tenant_id, std::string_view id);
// Marks up to `limit` live objects past their expiry kDeleted; returns how many.
Result<uint64_t> expire_objects(meta::MetaStore& store, UnixMs now, uint32_t limit);

}  // namespace up::core
