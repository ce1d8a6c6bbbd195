#include "app/runtime.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/file_modes.h"
#include "meta/postgres/postgres_meta_store.h"
#include "meta/sqlite/sqlite_meta_store.h"
#include "storage/local/local_blob_store.h"
#include "storage/s3/s3_blob_store.h"

namespace up::app {
namespace {

// Creates `dir` and its missing parents, each with core::kDataDirMode
// (create_directories would give them 0777 minus the umask).
Status create_data_dir(const std::string& dir) {
  std::filesystem::path path;
  for (const auto& part : std::filesystem::path(dir)) {
    path /= part;
    if (part.empty() || part == "/" || part == "." || part == "..") continue;
    int err = core::make_data_dir(path.c_str());
    if (err != 0 && err != EEXIST)
      return fail(Errc::kStorageIo,
                  "cannot create data directory " + dir + ": " + std::strerror(err));
  }
  return ok();
}

}  // namespace

// Errors are one line that says what to check: they end `upgate serve` at start-up.
Result<meta::MetaStorePtr> open_meta_store(const RuntimeOptions& options) {
  const std::string& m = options.meta;
  if (m.empty()) return meta::open_sqlite_meta_store(options.data_dir + "/upgate.db");
  if (m.starts_with("sqlite:")) return meta::open_sqlite_meta_store(m.substr(7));
  if (!m.starts_with("postgresql://") && !m.starts_with("postgres://"))
    return fail(Errc::kInvalidArgument,
                "--meta (UPGATE_META): expected sqlite:<path> or postgresql://user:pass@host/db");
  auto store = meta::open_postgres_meta_store(m, options.meta_pool_size);
  if (!store && store.error().code == Errc::kUnavailable)
    return fail(Errc::kUnavailable, store.error().message +
                                        " (check --meta / UPGATE_META: host, port, user, "
                                        "password, database; and that PostgreSQL is up)");
  return store;
}

Result<storage::BlobStorePtr> open_blob_store(const std::string& spec,
                                              const RuntimeOptions& options,
                                              core::BlockingPool& pool) {
  if (spec.starts_with("s3://")) {
    auto s3 = storage::parse_s3_url(spec);
    if (!s3) return fail(s3.error().code, s3.error().message);
    if (options.s3_access_key.empty() || options.s3_secret_key.empty())
      return fail(Errc::kInvalidArgument,
                  "s3://...: no S3 keys; set UPGATE_S3_ACCESS_KEY and UPGATE_S3_SECRET_KEY, or "
                  "s3-access-key and s3-secret-key in the --config file");
    s3->access_key = options.s3_access_key;
    s3->secret_key = options.s3_secret_key;
    return storage::open_s3_blob_store(*s3, pool);
  }
  if (!spec.empty() && !spec.starts_with("local:"))
    return fail(Errc::kInvalidArgument, "expected local:<dir> or s3://...");
  const std::string dir = spec.empty() ? options.data_dir : spec.substr(6);
  if (dir != options.data_dir) UP_TRY(create_data_dir(dir));
  storage::LocalBlobStoreOptions blob_options;
  if (options.disk_reserve_mb >= 0)
    blob_options.reserve_bytes = static_cast<uint64_t>(options.disk_reserve_mb) << 20;
  return storage::open_local_blob_store(dir, pool, blob_options);
}

Result<std::unique_ptr<Runtime>> Runtime::open(const RuntimeOptions& options) {
  UP_TRY(create_data_dir(options.data_dir));
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->pool_ = core::make_thread_pool(options.blocking_threads);
  auto meta = open_meta_store(options);
  if (!meta) return fail(meta.error());
  rt->meta_ = std::move(*meta);
  if (options.blobs.starts_with("s3://"))
    rt->transfer_pool_ = core::make_thread_pool(options.blocking_threads);
  auto blobs = open_blob_store(options.blobs, options,
                               rt->transfer_pool_ ? *rt->transfer_pool_ : *rt->pool_);
  if (!blobs)
    return fail(Error(blobs.error().code, "--blobs (UPGATE_BLOBS): " + blobs.error().message));
  rt->blobs_ = std::move(*blobs);
  rt->directory_ =
      std::make_unique<core::Directory>(*rt->meta_, rt->clock_, options.max_object_bytes);
  rt->auth_ = std::make_unique<core::AuthService>(*rt->meta_, rt->clock_);
  rt->uploads_ = std::make_unique<core::UploadService>(*rt->directory_, *rt->meta_, *rt->blobs_,
                                                       rt->clock_, *rt->pool_);
  rt->resumable_ = std::make_unique<core::ResumableUploads>(*rt->uploads_, *rt->meta_, rt->clock_);
  rt->files_ = std::make_unique<core::FileService>(*rt->meta_, *rt->blobs_, rt->clock_);
  rt->rate_limiter_ = std::make_unique<core::RateLimiter>(*rt->meta_, rt->clock_);
  rt->sweeper_ = std::make_unique<core::Sweeper>(*rt->meta_, *rt->blobs_, rt->clock_);
  rt->records_ = std::make_unique<core::RecordService>(*rt->meta_, rt->clock_);
  rt->cursors_ = std::make_unique<core::CursorService>(*rt->meta_, rt->clock_);
  auto secrets = core::Secrets::open_or_create(
      options.master_key.empty() ? options.data_dir + "/master.key" : options.master_key);
  if (!secrets) return fail(secrets.error());
  rt->secrets_ = std::make_unique<core::Secrets>(std::move(*secrets));
  rt->links_ = std::make_unique<core::DownloadLinks>(*rt->secrets_, rt->clock_);
  std::function<void(int64_t)> advance;
  if (options.dev_clock) advance = [clock = &rt->clock_](int64_t ms) { clock->advance(ms); };
  // Services is an aggregate: clang 14 has no parenthesized aggregate init, so
  // make_unique gets a braced temporary to move from.
  rt->services_ = std::make_unique<core::Services>(
      core::Services{rt->clock_, *rt->directory_, *rt->auth_, *rt->uploads_, *rt->resumable_,
                     *rt->files_, *rt->rate_limiter_, *rt->sweeper_, *rt->records_, *rt->cursors_,
                     *rt->secrets_, *rt->links_, "", std::move(advance), options.secret_settings});
  // The default tenant always exists: the bootstrap key belongs to it.
  if (auto t = rt->directory_->tenant(core::Directory::kDefaultTenant); !t) {
    if (t.error().code != Errc::kTenantNotFound) return fail(t.error());
    auto created = rt->directory_->create_tenant(core::Directory::kDefaultTenant, "default");
    if (!created && created.error().code != Errc::kAlreadyExists) return fail(created.error());
  }
  return rt;
}

}  // namespace up::app
