#pragma once
// The composition root: the only place that names concrete backends. Builds
// the core services over SQLite (or PostgreSQL) + local disk under a data
// directory.

#include <memory>
#include <string>

#include "core/blocking.h"
#include "core/result.h"
#include "core/services.h"
#include "meta/meta_store.h"
#include "storage/blob_store.h"

namespace up::app {

struct RuntimeOptions {
  std::string data_dir = "./data";
  // The metadata store: empty for <data_dir>/upgate.db, "sqlite:<path>", or a
  // PostgreSQL URL ("postgresql://user:pass@host:port/db") shared by several
  // upgate processes.
  std::string meta;
  uint32_t meta_pool_size = 16;  // PostgreSQL connections of this process
  // The blob store: empty or "local:<dir>" (default: <data_dir>), or
  // "s3://bucket[/prefix]?endpoint=...&region=...&path_style=true" with the keys below.
  std::string blobs;
  // The S3 keys, from UPGATE_S3_ACCESS_KEY / UPGATE_S3_SECRET_KEY or the
  // config file (s3-access-key, s3-secret-key); never from the command line.
  std::string s3_access_key;
  std::string s3_secret_key;
  // The master key file (empty: <data_dir>/master.key), created 0600 if
  // missing. Processes sharing one database point at one copy of it, so a
  // token or link signed by one verifies on every other.
  std::string master_key;
  uint64_t max_object_bytes = 10ull << 30;
  // Free space uploads leave on the data directory's disk; -1: the store's
  // default (1% of the file system, at most 256 MiB).
  int64_t disk_reserve_mb = -1;
  // Threads for the stores' blocking work (fsync, the small-blob pack) and the
  // metadata group commit of uploads.
  unsigned blocking_threads = 16;
  bool dev_clock = false;                // allow tests to move the clock (POST /v1/admin/clock)
  core::SecretSettings secret_settings;  // what the dialects keep secret in settings
};

// The metadata store `options` names, on its own (no services): for commands
// that work on the stores directly (migrate-blobs).
Result<meta::MetaStorePtr> open_meta_store(const RuntimeOptions& options);
// The blob store a --blobs value names ("" or "local:<dir>", "s3://..."), with
// the S3 keys of `options`; its blocking calls run on `pool`. One-line errors.
Result<storage::BlobStorePtr> open_blob_store(const std::string& spec,
                                              const RuntimeOptions& options,
                                              core::BlockingPool& pool);

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> open(const RuntimeOptions& options);

  core::Services& services() { return *services_; }
  core::Sweeper& sweeper() { return *sweeper_; }
  // The pool for blocking work: the requests' (http::ServerConfig) and the stores' (an S3 store
  // has its own besides, for transfers).
  core::BlockingPool& blocking_pool() { return *pool_; }

 private:
  Runtime() = default;

  SystemClock clock_;
  meta::MetaStorePtr meta_;
  storage::BlobStorePtr blobs_;
  std::unique_ptr<core::Directory> directory_;
  std::unique_ptr<core::AuthService> auth_;
  std::unique_ptr<core::UploadService> uploads_;
  std::unique_ptr<core::ResumableUploads> resumable_;
  std::unique_ptr<core::FileService> files_;
  std::unique_ptr<core::RateLimiter> rate_limiter_;
  std::unique_ptr<core::Sweeper> sweeper_;
  std::unique_ptr<core::RecordService> records_;
  std::unique_ptr<core::CursorService> cursors_;
  std::unique_ptr<core::Secrets> secrets_;
  std::unique_ptr<core::DownloadLinks> links_;
  std::unique_ptr<core::Services> services_;
  // Declared last, destroyed first: their destructors wait for the work queued
  // on them, which uses the stores and services above. An S3 store's transfers
  // (parts, read-ahead pieces: long calls, several per large body) get a pool
  // of their own, so they never hold the threads metadata work waits for.
  core::BlockingPoolPtr transfer_pool_;
  core::BlockingPoolPtr pool_;
};

}  // namespace up::app
