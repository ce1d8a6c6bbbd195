#include "core/files.h"

#include "core/object_rules.h"
#include "meta/meta_store.h"

namespace up::core {
namespace {

// The cache's key, tenant id NUL object id, assigned into `k` (whose buffer is reused).
void assign_cache_key(std::string& k, std::string_view tenant_id, std::string_view id) {
  k.assign(tenant_id).push_back('\0');
  k.append(id);
}

std::string cache_key(std::string_view tenant_id, std::string_view id) {
  std::string k;
  assign_cache_key(k, tenant_id, id);
  return k;
}

}  // namespace

FileService::FileService(meta::MetaStore& meta, storage::BlobStore& blobs, const Clock& clock)
    : meta_(meta), blobs_(blobs), clock_(clock) {}

bool FileService::live(const Object& o) const {
  return o.state != ObjectState::kDeleted && (!o.expires_at || *o.expires_at > clock_.now());
}

Result<Object> FileService::get(std::string_view tenant_id, std::string_view id) {
  const UnixMs now = clock_.now();
  auto o = meta_.get_object(tenant_id, id);
  if (o && live(*o)) {
    remember(*o, now);
    return o;
  }
  // Gone (here or in another process): a cached copy goes too.
  if (o || o.error().code == Errc::kObjectNotFound) forget(tenant_id, id);
  if (o) return fail(Errc::kObjectNotFound);
  return o;
}

std::shared_ptr<const Object> FileService::get_cached(std::string_view tenant_id,
                                                      std::string_view id) {
  const UnixMs now = clock_.now();
  // The key built in a buffer of this thread's: no allocation per download.
  thread_local std::string key;
  assign_cache_key(key, tenant_id, id);
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end() || now - it->second.at >= kCacheMs ||
      *it->second.tenant_epoch != it->second.epoch || !live(*it->second.object))
    return nullptr;
  return it->second.object;
}

void FileService::remember(const Object& o, UnixMs now) {
  std::lock_guard lock(mu_);
  // Bounded: an arbitrary entry makes room (the working set of a hot download
  // load is far smaller than the bound).
  if (cache_.size() >= kCacheEntries) cache_.erase(cache_.begin());
  const uint64_t& epoch = tenant_epochs_[o.tenant_id];
  cache_.insert_or_assign(cache_key(o.tenant_id, o.id),
                          Cached{std::make_shared<const Object>(o), now, &epoch, epoch});
}

void FileService::forget(std::string_view tenant_id, std::string_view id) {
  std::lock_guard lock(mu_);
  cache_.erase(cache_key(tenant_id, id));
}

void FileService::forget_tenant(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  ++tenant_epochs_[std::string(tenant_id)];
}

Result<Object> FileService::get_by_key(std::string_view tenant_id, std::string_view app_id,
                                       std::string_view key) {
  auto o = meta_.get_object_by_key(tenant_id, app_id, key);
  if (o && !live(*o)) return fail(Errc::kObjectNotFound);
  return o;
}

net::awaitable<Result<ObjectReader>> FileService::open_blob(const Object& object, uint64_t offset,
                                                            uint64_t length) {
  auto reader = co_await blobs_.open(object.locator, offset, length);
  // A live row whose blob is missing means stored data was lost: say so, loudly.
  if (!reader && reader.error().code == Errc::kObjectNotFound)
    co_return fail(Errc::kStorageIo, "blob missing for object " + object.id);
  if (!reader) co_return fail(reader.error());
  co_return ObjectReader(std::move(*reader));
}

std::optional<ObjectReader> FileService::open_blob_in_memory(const Object& object, uint64_t offset,
                                                             uint64_t length) {
  auto blob = blobs_.in_memory(object.locator);
  if (!blob) return std::nullopt;
  return ObjectReader(std::move(blob), offset, length);
}

Result<ObjectPage> FileService::list(ObjectQuery query) {
  query.live_at = clock_.now();
  return meta_.list_objects(query);
}

Status FileService::remove(std::string_view tenant_id, std::string_view id) {
  auto r = mark_deleted(meta_, tenant_id, id);
  forget(tenant_id, id);  // after: a get() racing the delete must not keep the live row
  if (!r) return fail(r.error());
  return ok();
}

Status FileService::set_state(std::string_view tenant_id, std::string_view id, ObjectState state,
                              std::optional<UnixMs> expires_at) {
  Status st = set_object_state(meta_, tenant_id, id, state, expires_at);
  forget(tenant_id, id);
  return st;
}

}  // namespace up::core
