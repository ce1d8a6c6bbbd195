#include "core/object_rules.h"

#include <cstdint>
#include <vector>

#include "core/transact.h"
#include "meta/meta_store.h"

namespace up::core {
namespace {

// The limits of InsertOptions against the counters, which already include
// the new object (the insert updates them).
Status check_limits(meta::MetaTransaction& tx, const Object& o, const InsertOptions& opts) {
  auto app = tx.usage(o.tenant_id, o.app_id);
  if (!app) return fail(std::move(app.error()));
  auto tenant = tx.usage(o.tenant_id, "");
  if (!tenant) return fail(std::move(tenant.error()));
  if (opts.app_max_bytes && app->bytes > *opts.app_max_bytes) return fail(Errc::kQuotaExceeded);
  if (opts.app_max_objects && app->objects > *opts.app_max_objects) return fail(Errc::kObjectLimit);
  if (opts.tenant_max_bytes && tenant->bytes > *opts.tenant_max_bytes)
    return fail(Errc::kQuotaExceeded);
  if (opts.tenant_max_objects && tenant->objects > *opts.tenant_max_objects)
    return fail(Errc::kObjectLimit);
  return ok();
}

}  // namespace

Status insert_checked(meta::MetaTransaction& tx, const Object& o, const InsertOptions& opts) {
  if (!opts.key_id.empty()) {
    auto enabled = tx.key_enabled(opts.key_id);
    if (!enabled) return fail(std::move(enabled.error()));
    if (!*enabled)
      return fail(Errc::kKeyDisabled, "the key of this upload was disabled or deleted");
  }
  if (!opts.grant_id.empty()) {
    auto fresh = tx.use_grant(opts.grant_id, opts.grant_expires_at);
    if (!fresh) return fail(std::move(fresh.error()));
    if (!*fresh) return fail(Errc::kGrantUsed);
  }
  UP_TRY(tx.insert_object(o));
  if (o.state == ObjectState::kDeleted) return ok();  // not live: counts against nothing
  Status within = check_limits(tx, o, opts);
  if (!within && opts.now > 0) {
    // Expired objects must not count, even before the sweeper ran: expire the
    // tenant's (as the sweeper would) and look again. A new object already past
    // `now` would go with them; uploads never carry such an expiry.
    auto expired = tx.expire_objects(opts.now, UINT32_MAX, o.tenant_id);
    if (!expired) return fail(std::move(expired.error()));
    if (*expired > 0) within = check_limits(tx, o, opts);
  }
  return within;
}

Status insert_object(meta::MetaStore& store, const Object& o, const InsertOptions& opts) {
  return transact(store, [&](meta::MetaTransaction& tx) { return insert_checked(tx, o, opts); });
}

void insert_objects(meta::MetaStore& store, std::span<ObjectInsert> inserts) {
  std::vector<meta::TransactionBody> bodies;
  bodies.reserve(inserts.size());
  for (ObjectInsert& i : inserts) {
    bodies.push_back(
        {[&i](meta::MetaTransaction& tx) { return insert_checked(tx, *i.object, *i.opts); }});
  }
  transact_each(store, bodies);
  for (size_t k = 0; k < inserts.size(); ++k) inserts[k].result = std::move(bodies[k].result);
}

Status set_object_state(meta::MetaStore& store, std::string_view tenant_id, std::string_view id,
                        ObjectState state, std::optional<UnixMs> expires_at) {
  return transact(store, [&](meta::MetaTransaction& tx) -> Status {
    if (state != ObjectState::kDeleted)
      return tx.set_object_state(tenant_id, id, state, expires_at);
    auto gone = tx.mark_deleted(tenant_id, id);
    if (!gone) return fail(std::move(gone.error()));
    if (!*gone) return fail(Errc::kObjectNotFound);
    return ok();
  });
}

Result<bool> mark_deleted(meta::MetaStore& store, std::string_view tenant_id, std::string_view id) {
  bool gone = false;
  UP_TRY(transact(store, [&](meta::MetaTransaction& tx) -> Status {
    auto r = tx.mark_deleted(tenant_id, id);
    if (!r) return fail(std::move(r.error()));
    gone = *r;
    return ok();
  }));
  return gone;
}

Result<uint64_t> expire_objects(meta::MetaStore& store, UnixMs now, uint32_t limit) {
  uint64_t n = 0;
  UP_TRY(transact(store, [&](meta::MetaTransaction& tx) -> Status {
    auto r = tx.expire_objects(now, limit, {});
    if (!r) return fail(std::move(r.error()));
    n = *r;
    return ok();
  }));
  return n;
}

}  // namespace up::core
