#pragma once
// Where the bytes of objects live. Implementations: storage/local (files on a
// local disk), storage/memory (tests, and a slow wrapper that adds latency to
// every call); an S3-compatible store later.
//
// Blob I/O is awaitable: a network store streams a body as parts while the
// client is still sending, and a read is one ranged request streamed out, so
// no I/O thread ever waits on the store. A store that needs threads for
// blocking work (fsync, SQLite) gets a core::BlockingPool from the composition
// root. The calls that are not awaitable (create, remove, list, temporaries)
// are documented as cheap or blocking below.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/result.h"
#include "core/types.h"

namespace up::storage {

namespace net = boost::asio;

// Receives the bytes of one new blob. Not thread-safe; one writer per upload.
// Nothing is visible under the locator until commit() returns success. A writer
// destroyed without a successful commit() removes everything it wrote.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  BlobWriter() = default;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Called many times, in order; `data` need live only until the call returns
  // (the writer copies what it keeps).
  virtual net::awaitable<Status> append(std::string_view data) = 0;
  // Makes the blob durable and visible under its locator. A store that can make
  // many small blobs durable with one sync batches concurrent commits itself
  // (core/group_commit.h); the caller just awaits.
  // REQUIRES: called at most once, after the last append.
  virtual net::awaitable<Status> commit() = 0;
  virtual uint64_t bytes_written() const = 0;
  // Whether commit() is one blocking sync of this blob's own file, run on the
  // blocking pool (not a request over the network, nor a batch shared with
  // other writers): the caller may run it, and what it does next, in one
  // trip to the pool (core::Upload::commit does).
  virtual bool commit_is_own_sync() const { return false; }
};
using BlobWriterPtr = std::unique_ptr<BlobWriter>;

// A file and offset the bytes of a reader can be sent from without copying
// them through user space (sendfile); fd -1 when the store has none.
struct FileRange {
  int fd = -1;
  uint64_t offset = 0;  // where the reader's range starts in the file
};

// Reads one fixed range of one committed blob, in order. Not thread-safe.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  BlobReader() = default;
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  // The length of the range (clipped to the blob's end when opened).
  virtual uint64_t size() const = 0;
  // The next bytes of the range, up to out.size(); 0 once the range is read.
  virtual net::awaitable<Result<size_t>> read(std::span<char> out) = 0;
  // For zero-copy sends of the whole range; valid while the reader lives.
  virtual FileRange file_range() const { return {}; }
};
using BlobReaderPtr = std::unique_ptr<BlobReader>;

struct BlobEntry {
  std::string locator;
  uint64_t size = 0;
  UnixMs modified_at = 0;
};

// One page of a listing, in ascending locator order.
struct BlobPage {
  std::vector<BlobEntry> entries;
  // Pass as `after` for the next page; empty when this page is the last.
  std::string next_after;
};

// What a client may send in a direct upload (BlobStore::direct_post).
struct DirectPostLimits {
  uint64_t max_bytes = 0;    // the body may have 0..max_bytes bytes
  std::string content_type;  // empty: no Content-Type field nor condition
  UnixMs now = 0;
  UnixMs expires_at = 0;  // the store refuses the form after this
};

// A browser-based POST form (S3 "POST Object"): multipart/form-data to `url`
// with `fields` as text parts, in order, then the bytes as the part "file".
// A 200 answer means the blob is stored.
struct DirectPost {
  std::string url;
  std::vector<std::pair<std::string, std::string>> fields;
};

// A range of a committed blob (BlobStore::compose).
struct BlobRange {
  std::string locator;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// What BlobStore::remove_many did.
struct RemovedBlobs {
  size_t removed = 0;  // the first `removed` locators' blobs are gone
  Status status = ok();
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  BlobStore() = default;
  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  // Starts a new blob to be committed under `locator`. Cheap (no request to a
  // network store, which starts its upload on the first append).
  // REQUIRES: locator is a plain token of [A-Za-z0-9_-] (an object id); the
  // store decides where it goes (fan-out folders, a bucket prefix, ...).
  // `size_hint`: the blob's exact size when known up front (a Content-Length);
  // a store may rely on it (S3 sends one PUT of that length), and then a
  // writer given fewer or more bytes fails. The local store starts writing
  // the blob's last bytes to the disk sooner with it.
  virtual Result<BlobWriterPtr> create(std::string_view locator,
                                       std::optional<uint64_t> size_hint = {}) = 0;
  // Opens `length` bytes from `offset` (clipped to the blob's end; an offset
  // past the end gives an empty range). kObjectNotFound when there is no
  // committed blob under `locator`.
  virtual net::awaitable<Result<BlobReaderPtr>> open(std::string_view locator, uint64_t offset,
                                                     uint64_t length) = 0;
  // The whole committed blob's bytes when the store holds them in memory at
  // this moment (a small blob read lately), else null: then open(). Never
  // blocks nor suspends, so a download of a hot small blob reads it in place,
  // without open()'s and read()'s coroutines. The default keeps nothing.
  virtual std::shared_ptr<const std::string> in_memory(std::string_view locator) {
    (void)locator;
    return nullptr;
  }
  // Idempotent: removing a missing blob succeeds. Blocks: call off the I/O threads.
  virtual Status remove(std::string_view locator) = 0;
  // Up to `limit` committed blobs whose locator starts with `prefix` and sorts
  // after `after`, in ascending locator order (the orphan sweep pages through
  // it). Blocks: call off the I/O threads. REQUIRES: limit > 0.
  virtual Result<BlobPage> list(std::string_view prefix, std::string_view after, size_t limit) = 0;
  // Removes leftovers of writers that never committed (a crash mid-upload)
  // whose last write is older than `older_than`. Returns how many were removed.
  // Blocks: call off the I/O threads.
  virtual Result<uint64_t> remove_stale_temporaries(UnixMs older_than) = 0;
  // Optional: a signed form with which a client POSTs the bytes of blob
  // `locator` to the store itself, not through upgate (S3's POST policy).
  // The blob appears when that POST succeeds and is an orphan (the sweep
  // removes it after its grace period) until the caller records it; the
  // caller stats it with open(). Cheap: signs, sends nothing.
  // kUnimplemented (the default) when the store has no such thing.
  // REQUIRES: locator as for create().
  virtual Result<DirectPost> direct_post(std::string_view locator,
                                         const DirectPostLimits& limits) const {
    (void)locator;
    (void)limits;
    return fail(Errc::kUnimplemented, "this blob store takes no direct uploads");
  }
  // Staged blobs (optional): one blob written over many requests, in order,
  // possibly by different processes (a tus upload's chunks), so that a
  // resumable upload's bytes are written once and not copied at its end. A
  // staged blob has a locator like any other (open(), list() and remove() see
  // it) but becomes an object's bytes only through seal().
  //
  // Opens staged blob `locator` (as for create()) for appending at byte `at`;
  // at == 0 starts it. Bytes past `at` (written by a request whose piece was
  // never recorded) are dropped when the writer first writes or commits (not
  // before: the caller may check first, holding the blob, that nothing there
  // was recorded). The writer's commit() makes its bytes
  // durable and leaves the blob staged; a writer dropped uncommitted leaves its
  // bytes for the next extend() to drop. One writer at a time, in any process:
  // kFailedPrecondition while another holds it and once it is sealed.
  // kObjectNotFound when no staged blob holds `at` bytes, and kUnimplemented
  // (the default) when the store has none: the caller stores the piece as a
  // blob of its own. `size_hint`: how many bytes the writer will append, when
  // known (a hint, as create()'s for the local store). Blocks (opens a file).
  virtual Result<BlobWriterPtr> extend(std::string_view locator, uint64_t at,
                                       std::optional<uint64_t> size_hint = {}) {
    (void)locator;
    (void)at;
    (void)size_hint;
    return fail(Errc::kUnimplemented, "this blob store has no staged blobs");
  }
  // Makes the first `size` bytes of staged blob `staged` the committed blob
  // `locator` (new, as for create()) without copying them; durable when it
  // returns. `staged` can no longer be extended, and remove(staged) leaves
  // `locator` whole. Blocks.
  virtual Status seal(std::string_view staged, uint64_t size, std::string_view locator) {
    (void)staged;
    (void)size;
    (void)locator;
    return fail(Errc::kUnimplemented, "this blob store has no staged blobs");
  }
  // Makes the new blob `locator` (as for create()) from `ranges` of committed
  // blobs, in order, inside the store, without the bytes passing through
  // upgate (S3: a multipart upload of UploadPartCopy parts); durable when it
  // returns, nothing under `locator` when it fails. No ranges: an empty blob.
  // kUnimplemented (the default) when the store cannot, at all or for these
  // ranges (S3: over 10,000 parts): the caller copies the bytes itself.
  // REQUIRES: every range lies inside its blob. Blocks.
  virtual Status compose(std::string_view locator, std::span<const BlobRange> ranges) {
    (void)locator;
    (void)ranges;
    return fail(Errc::kUnimplemented, "this blob store cannot compose blobs");
  }
  // Whether other processes may use this store at once (S3): then an
  // unreferenced blob may be another process's upload in flight.
  virtual bool shared() const { return false; }
  // remove() of each locator, in order, with as few syncs and requests as the
  // store can (the sweeper removes thousands at a time). The blobs of the first
  // RemovedBlobs::removed locators are gone; `status` is the error that stopped
  // it at the next one (ok when every one is gone); what follows may or may not
  // be gone (removing it again is fine). The default calls remove() for each.
  // Blocks: call off the I/O threads.
  virtual RemovedBlobs remove_many(std::span<const std::string> locators) {
    RemovedBlobs r;
    for (const std::string& l : locators) {
      r.status = remove(l);
      if (!r.status) break;
      ++r.removed;
    }
    return r;
  }
};
using BlobStorePtr = std::unique_ptr<BlobStore>;

}  // namespace up::storage
