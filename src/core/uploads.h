#pragma once
// The upload use case: bytes in, a durable object out. A dialect opens an
// Upload, appends the body chunk by chunk as it arrives (hashing, counting and
// enforcing the size limit while streaming), then commits. Nothing is visible
// before commit() returns; an Upload destroyed without commit leaves nothing.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/crypto.h"
#include "core/directory.h"
#include "core/result.h"
#include "core/types.h"
#include "storage/blob_store.h"

namespace up::meta {
class MetaStore;
}

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
  // On failure nothing is kept. REQUIRES: called at most once.
  Result<Object> commit();

 private:
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

  // Resolves the app's limits, refuses a declared size over them (kTooLarge)
  // and opens a blob writer. May block (metadata read on a cache miss).
  Result<UploadPtr> begin(UploadSpec spec);

 private:
  Directory& directory_;
  meta::MetaStore& meta_;
  storage::BlobStore& blobs_;
  const Clock& clock_;
};

// Qiniu's etag of a whole payload (for tests and small bodies).
std::string qiniu_etag(std::string_view data);

}  // namespace up::core
