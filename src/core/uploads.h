#pragma once
// The upload use case: bytes in, a durable object out. A dialect opens an
// Upload, appends the body chunk by chunk as it arrives (hashing, counting and
// enforcing the size limit while streaming), then commits with one awaitable
// call. Nothing is visible before commit() completes; an Upload destroyed
// without commit leaves nothing.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/blocking.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/directory.h"
#include "core/group_commit.h"
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
  // The object's id when set (a resumable upload's, so that completing it
  // twice stores one object: the second insert fails); a new id otherwise.
  // The blob's locator is always new.
  std::string object_id;
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
  // Set: a resumable upload's next sequential piece. Its bytes continue staged
  // blob `locator` from byte `at` (storage::BlobStore::extend; the object's
  // locator is then the staged blob's) where the store has it, else go to a
  // new blob; its SHA-256 continues the running hash kept under `locator`.
  struct Staged {
    std::string locator;
    uint64_t at = 0;
    // The bytes expected (a Content-Length), when known: a hint for the store
    // (storage::BlobStore::extend), never checked.
    std::optional<uint64_t> size_hint;
  };
  std::optional<Staged> staged;
};

class UploadService;

// The SHA-256 of resumable uploads' sequential pieces as far as this process
// stored them, by staged locator: the piece after continues it, and sealing
// or composing the whole needs no read of its bytes. Bounded; a miss (another
// process stored the piece before, a restart) costs one read of the bytes at
// the end. Thread-safe.
class RunningHashes {
 public:
  // The state after byte `end` of `locator`, removed from the cache.
  std::optional<crypto::Digest> take(const std::string& locator, uint64_t end);
  void put(const std::string& locator, uint64_t end, crypto::Digest state);

 private:
  static constexpr size_t kMaxEntries = 1024;
  struct Entry {
    uint64_t end = 0;
    crypto::Digest state;
  };
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// A direct upload handed out (UploadService::direct_post): the form and the
// locator its bytes will be stored under.
struct DirectUpload {
  std::string locator;
  storage::DirectPost post;
};

// One upload in flight. Not thread-safe: one coroutine drives it. Without a
// writer (UploadService::adopt) the bytes are already stored: append() only
// counts and hashes them, and a failed commit() leaves the blob alone.
class Upload {
 public:
  Upload(UploadSpec spec, EffectiveQuota quota, std::string locator, storage::BlobWriterPtr writer,
         UploadService& service);
  ~Upload();
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  // Hands the next bytes to the blob store (a network store may send a part).
  // kTooLarge as soon as the limit is passed.
  net::awaitable<Status> append(std::string_view data);
  uint64_t size() const { return size_; }
  uint32_t crc32() const { return crc32_; }  // REQUIRES: spec.want_crc32
  uint64_t limit() const { return limit_; }
  // Late fields (a name or meta sent after the file part) may still be set.
  UploadSpec& spec() { return spec_; }

  // Makes the bytes durable (the store batches small blobs into one sync) and
  // then the metadata row (one transaction with the other uploads committing
  // meanwhile). No thread waits for either. On failure nothing is kept.
  // REQUIRES: called at most once.
  net::awaitable<Result<Object>> commit();

  // Blocking forms, for use-case code that already runs on the blocking pool
  // (never on an I/O thread): append the bytes of a stored object (a part, a
  // staged copy), streamed; commit.
  Status append_object(const Object& source, uint64_t offset = 0);
  Result<Object> commit_blocking();
  // For a blob stored already (UploadService::seal): its size and SHA-256
  // state, as if its bytes had been appended. REQUIRES: nothing appended, no
  // other digest wanted.
  Status assume(uint64_t size, crypto::Digest sha256);

 private:
  // The object as it will be stored (size, digests), once the body has ended;
  // kTooSmall under the spec's minimum.
  Result<Object> finish();
  InsertOptions insert_options() const;
  void finish_qetag_block();
  Status count_and_hash(std::string_view data);
  net::awaitable<Status> copy_in(const Object& source, uint64_t offset);

  UploadSpec spec_;
  EffectiveQuota quota_;
  std::string locator_;
  storage::BlobWriterPtr writer_;
  UploadService& service_;
  const Clock& clock_;
  uint64_t limit_ = 0;
  uint64_t size_ = 0;
  uint32_t crc32_ = 0;
  crypto::Digest sha256_{crypto::Digest::Algo::kSha256};
  std::optional<crypto::Digest> md5_;
  // Qiniu etag: SHA-1 of each 4 MiB block, then of the concatenated block digests.
  // A staged piece's running hash: the state it started from (given back
  // when the piece is not stored) and the state after it (kept when it is).
  std::optional<crypto::Digest> staged_seed_;
  std::optional<crypto::Digest> staged_after_;
  bool committed_ = false;
  std::optional<crypto::Digest> qetag_block_;
  uint64_t qetag_block_fill_ = 0;
  std::string qetag_block_digests_;
};
using UploadPtr = std::unique_ptr<Upload>;

// Thread-safe.
class UploadService {
 public:
  // Metadata rows are written on `pool` (which must outlive the service).
  UploadService(Directory& directory, meta::MetaStore& meta, storage::BlobStore& blobs,
                const Clock& clock, BlockingPool& pool);
  UploadService(const UploadService&) = delete;
  UploadService& operator=(const UploadService&) = delete;

  // Resolves the app's limits, refuses a declared size over them (kTooLarge)
  // and opens a blob writer. May block (metadata read on a cache miss).
  Result<UploadPtr> begin(UploadSpec spec);
  // begin() without blocking, for an I/O thread: when the app's limits are
  // cached (Directory::quota_cached) and the blob is a new one (creating a
  // writer is cheap: BlobStore::create). Empty otherwise, with `spec` left as
  // it was, for begin() on the blocking pool; `spec` is moved from only when
  // this returns a value. A small upload that opens here saves a trip to the
  // pool and back, which was most of its context switches.
  std::optional<Result<UploadPtr>> begin_at_once(UploadSpec& spec);

  // Direct-to-storage uploads, where the blob store offers them (S3): a new
  // locator and the store's signed form for it; kUnimplemented elsewhere.
  // Nothing is recorded: the blob is an orphan until adopt(). Cheap.
  Result<DirectUpload> direct_post(const storage::DirectPostLimits& limits);
  // Records the blob a direct upload stored under `locator` as an object, as
  // Upload::commit() records one: reads it once (open() stats it, then ranged
  // reads hash it as they stream), holds it to the spec and the app's limits,
  // inserts the row. kObjectNotFound when nothing is stored there;
  // kSizeMismatch when spec.declared_size is set and differs. Never removes
  // the blob (an earlier adopt of the same locator may own it); one nobody
  // records is the orphan sweep's.
  net::awaitable<Result<Object>> adopt(UploadSpec spec, std::string locator);
  // Records the first `size` bytes of staged blob `staged` (written by
  // uploads with UploadSpec::staged) as an object, as adopt() does, after
  // sealing them under a new locator (storage::BlobStore::seal): no byte is
  // copied, nor read when this process hashed them all. Blocking: call on the
  // blocking pool.
  Result<Object> seal(UploadSpec spec, const std::string& staged, uint64_t size);
  // Records `ranges` joined inside the blob store (storage::BlobStore::compose)
  // as an object, when they are the sequential pieces whose running hash this
  // process keeps under `staged` (none is read); kUnimplemented when it keeps
  // none, or the store cannot: the caller copies the bytes. Blocking.
  Result<Object> compose(UploadSpec spec, const std::string& staged,
                         std::span<const storage::BlobRange> ranges);

 private:
  friend class Upload;

  // Commits `writer` (null: the blob is stored already), then inserts `row`
  // together with the others queued: one metadata transaction (one sync) per
  // batch, awaited without holding a thread. Returns the blob's failure (the
  // row is not inserted then); the row's is in row.result.
  net::awaitable<Status> commit_blob_then_row(storage::BlobWriter* writer, ObjectInsert& row);
  // Inserts the row of blob `locator` (`size` bytes, stored already) with
  // SHA-256 state `sha256`, or read once to hash it when that is unknown.
  Result<Object> record_stored(UploadSpec spec, const std::string& locator, uint64_t size,
                               std::optional<crypto::Digest> sha256);
  void insert_batch(const std::vector<ObjectInsert*>& batch);
  // begin() once the app's limits are known.
  Result<UploadPtr> open(UploadSpec spec, const EffectiveQuota& quota);

  Directory& directory_;
  meta::MetaStore& meta_;
  storage::BlobStore& blobs_;
  const Clock& clock_;
  BlockingPool& pool_;
  GroupCommit<ObjectInsert> inserts_;
  RunningHashes running_;
};

// Qiniu's etag of a whole payload (for tests and small bodies).
std::string qiniu_etag(std::string_view data);

}  // namespace up::core
