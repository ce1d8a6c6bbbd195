#pragma once
// Where the bytes of objects live. Implementations: storage/local (files on a
// local disk), storage/memory (tests); an S3-compatible store later.
//
// Calls block (disk or network I/O): callers run them off the I/O threads,
// except BlobWriter::append on local disk, which only writes to the page cache.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace up::storage {

// Receives the bytes of one new blob. Not thread-safe; one writer per upload.
// Nothing is visible under the locator until commit() returns success. A writer
// destroyed without a successful commit() removes everything it wrote.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  BlobWriter() = default;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Called many times, in order.
  virtual Status append(std::string_view data) = 0;
  // Makes the blob durable (fsync) and visible under its locator (atomic rename).
  // REQUIRES: called at most once.
  virtual Status commit() = 0;
  virtual uint64_t bytes_written() const = 0;
  // True while the whole blob is still in memory: BlobStore::commit_batch can
  // then make it durable together with others in one sync.
  virtual bool batchable() const { return false; }
};
using BlobWriterPtr = std::unique_ptr<BlobWriter>;

// Reads one committed blob. Not thread-safe.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  BlobReader() = default;
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  virtual uint64_t size() const = 0;
  // Reads up to out.size() bytes at offset; returns the count, 0 at the end.
  virtual Result<size_t> read_at(uint64_t offset, std::span<char> out) = 0;
  // A file descriptor for zero-copy sends (sendfile), or -1 when there is none.
  virtual int native_fd() const { return -1; }
};
using BlobReaderPtr = std::unique_ptr<BlobReader>;

struct BlobEntry {
  std::string locator;
  uint64_t size = 0;
  UnixMs modified_at = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  BlobStore() = default;
  BlobStore(const BlobStore&) = delete;
  BlobStore& operator=(const BlobStore&) = delete;

  // Starts a new blob to be committed under `locator`.
  // REQUIRES: locator is a plain token of [A-Za-z0-9_-] (an object id); the
  // store decides where it goes (fan-out folders, a bucket prefix, ...).
  virtual Result<BlobWriterPtr> create(std::string_view locator) = 0;
  // Commits each writer as its commit() would; results in order. A store that
  // can make batchable writers durable with one sync does so.
  virtual std::vector<Status> commit_batch(std::span<BlobWriter* const> writers) {
    std::vector<Status> results;
    results.reserve(writers.size());
    for (BlobWriter* w : writers) results.push_back(w->commit());
    return results;
  }
  // kObjectNotFound when there is no committed blob under `locator`.
  virtual Result<BlobReaderPtr> open(std::string_view locator) = 0;
  // Idempotent: removing a missing blob succeeds.
  virtual Status remove(std::string_view locator) = 0;
  // Visits every committed blob (for the orphan sweep). Order unspecified.
  virtual Status list(const std::function<void(const BlobEntry&)>& visit) = 0;
  // Removes leftovers of writers that never committed (a crash mid-upload)
  // whose last write is older than `older_than`. Returns how many were removed.
  virtual Result<uint64_t> remove_stale_temporaries(UnixMs older_than) = 0;
  // Whether other processes may use this store at once (S3): then an
  // unreferenced blob may be another process's upload in flight.
  virtual bool shared() const { return false; }
};
using BlobStorePtr = std::unique_ptr<BlobStore>;

}  // namespace up::storage
