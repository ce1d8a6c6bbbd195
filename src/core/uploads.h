#pragma once
// The upload use case: bytes in, a durable object out. A dialect opens an
// Upload, appends the body chunk by chunk as it arrives (hashing, counting and
// enforcing the size limit while streaming), then commits. Nothing is visible
// before commit() returns; an Upload destroyed without commit leaves nothing.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/directory.h"
#include "core/queries.h"
#include "core/result.h"
#include "core/types.h"
#include "storage/blob_store.h"

namespace up::meta {
class MetaStore;
}  // namespace up::meta

namespace up::core {

struct UploadSpec {
  std::string tenant_id;
  std::string app_id = Directory::kDefaultApp;
  std::string key;  // dialect-visible key; unique per app when set (never overwritten)
  std::string name;
  std::string content_type = "application/octet-stream";
  std::optional<uint64_t> declared_size;  // Content-Length when known: checked up front
  uint64_t min_bytes = 0;
  std::optional<uint64_t> max_bytes;        // tighter than the app's limit (a grant's bound)
  std::optional<uint64_t> max_app_objects;  // tighter than the app's quota (a dialect's rule)
  ObjectState state = ObjectState::kStored;
  std::optional<UnixMs> expires_at;
  std::string transaction_id;
  std::string grant_id;  // single-use: the commit fails with kGrantUsed if seen before
  UnixMs grant_expires_at = 0;
  // The API key that authorized the upload, if one did: the commit fails with
  // kKeyDisabled when it was disabled or deleted while the body streamed.
  std::string key_id;
  std::string owner;
  std::string meta_json = "{}";
  bool want_md5 = false;
  bool want_qetag = false;
  bool want_crc32 = false;
};

// One upload in flight. Not thread-safe: one coroutine drives it.
class Upload {
 public:
  Upload(UploadSpec spec, EffectiveQuota quota, std::string locator, storage::BlobWriterPtr writer,
         storage::BlobStore& blobs, meta::MetaStore& meta, const Clock& clock);
  ~Upload();
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  // Cheap enough for an I/O thread (a write to the page cache).
  // kTooLarge as soon as the limit is passed.
  Status append(std::string_view data);
  uint64_t size() const { return size_; }
  uint32_t crc32() const { return crc32_; }  // REQUIRES: spec.want_crc32
  uint64_t limit() const { return limit_; }
  // Late fields (a name or meta sent after the file part) may still be set.
  UploadSpec& spec() { return spec_; }

  // Blocking (fsync, rename, metadata transaction): call off the I/O threads.
  // On failure nothing is kept. REQUIRES: called at most once (or
  // UploadService::commit_batched instead).
  Result<Object> commit();
  // True while the body is small enough to be still in memory: such an upload
  // can go to UploadService::commit_batched, which holds no thread for it.
  bool batchable() const { return writer_->batchable(); }

 private:
  friend class UploadService;

  // The object as it will be stored (size, digests), once the body has ended;
  // kTooSmall under the spec's minimum.
  Result<Object> finish();
  InsertOptions insert_options() const;
  void finish_qetag_block();

  UploadSpec spec_;
  EffectiveQuota quota_;
  std::string locator_;
  storage::BlobWriterPtr writer_;
  storage::BlobStore& blobs_;
  meta::MetaStore& meta_;
  const Clock& clock_;
  uint64_t limit_ = 0;
  uint64_t size_ = 0;
  uint32_t crc32_ = 0;
  crypto::Digest sha256_{crypto::Digest::Algo::kSha256};
  std::optional<crypto::Digest> md5_;
  // Qiniu etag: SHA-1 of each 4 MiB block, then of the concatenated block digests.
  std::optional<crypto::Digest> qetag_block_;
  uint64_t qetag_block_fill_ = 0;
  std::string qetag_block_digests_;
};
using UploadPtr = std::unique_ptr<Upload>;

// Thread-safe.
class UploadService {
 public:
  UploadService(Directory& directory, meta::MetaStore& meta, storage::BlobStore& blobs,
                const Clock& clock);
  ~UploadService();  // commits what is queued, then stops the committer
  UploadService(const UploadService&) = delete;
  UploadService& operator=(const UploadService&) = delete;

  // Resolves the app's limits, refuses a declared size over them (kTooLarge)
  // and opens a blob writer. May block (metadata read on a cache miss).
  Result<UploadPtr> begin(UploadSpec spec);

  using CommitDone = std::function<void(Result<Object>)>;
  // Commits an upload together with the others queued: one committer thread
  // writes their bytes in one blob-store sync and their rows in one metadata
  // transaction, then calls each `done` (on that thread). Returns at once;
  // `upload` must live until `done` runs. Meant for small uploads
  // (upload.batchable()): a large one would hold up the whole queue.
  // Small uploads are mostly waiting for a sync: parking a pool thread per
  // upload cost more in context switches than the work itself.
  void commit_batched(Upload& upload, CommitDone done);

 private:
  struct QueuedCommit {
    Upload* upload;
    CommitDone done;
  };
  void run_committer();
  void commit_together(std::vector<QueuedCommit>& batch);

  Directory& directory_;
  meta::MetaStore& meta_;
  storage::BlobStore& blobs_;
  const Clock& clock_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<QueuedCommit> queue_;
  bool stopping_ = false;
  std::thread committer_;  // started by the first commit_batched
};

// Qiniu's etag of a whole payload (for tests and small bodies).
std::string qiniu_etag(std::string_view data);

}  // namespace up::core
