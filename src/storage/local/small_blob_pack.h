#pragma once
// Small blobs of the local store, indexed by one SQLite database instead of
// one file each. Creating a file costs an inode allocation, a rename and two
// fsyncs (file and folder); a small upload is cheaper as a row: concurrent puts
// share one transaction and one WAL fsync (core/group_commit.h), as the
// metadata store's inserts do.
//
// Where the bytes go depends on their size:
// - up to kInlineMax, in the row itself (a row of a few pages);
// - larger ones are appended to a segment file, small-blobs/<id>.pack, and the
//   row holds where: a 64 KiB blob in a row was written twice (SQLite's WAL,
//   then its checkpoint), with a checksum per page, and cost half of a 64 KiB
//   upload's CPU. A batch appends its blobs in one write and syncs the segment
//   before the transaction that indexes them commits. The write is direct
//   (O_DIRECT) where the file system takes it: no copy into the page cache.
// Each process appends to a segment of its own, holding flock(2) on it while
// it does. A removed blob's bytes are punched out of its segment (the space
// comes back, the offsets stay), and a segment that no row uses any more and
// that nobody appends to is deleted.
//
// Thread-safe. put() is awaited without holding a thread (its batch runs on
// the blocking pool); every other call blocks (SQLite and file I/O).

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/group_commit.h"
#include "core/result.h"
#include "storage/blob_store.h"
#include "storage/blob_util.h"

struct sqlite3;

namespace up::storage {

class SmallBlobPack {
 public:
  // Opens (creating if needed) the database at `path`; batches run on `pool`.
  static Result<std::unique_ptr<SmallBlobPack>> open(const std::string& path,
                                                     core::BlockingPool& pool);
  ~SmallBlobPack();
  SmallBlobPack(const SmallBlobPack&) = delete;
  SmallBlobPack& operator=(const SmallBlobPack&) = delete;

  // Durable when it completes with success, in one transaction with the other
  // puts and removes queued meanwhile. kAlreadyExists when the locator is taken.
  // `locator` and `data` must stay valid until it completes.
  net::awaitable<Status> put(std::string_view locator, std::string_view data, UnixMs now);
  // Idempotent; durable when it returns.
  Status remove(std::string_view locator);
  // The blob's bytes, or nullopt when the pack has no such locator.
  Result<std::optional<std::string>> get(std::string_view locator);
  // As get(), and keeps the bytes for cached(): for downloads. Null when the
  // pack has no such locator.
  Result<std::shared_ptr<const std::string>> load(std::string_view locator);
  // The bytes a recent load() read, or null. Never blocks (an I/O thread may
  // call it). A blob never changes under its locator and remove() drops it,
  // so a hit is the blob's current bytes; at most kCacheBytes are kept.
  std::shared_ptr<const std::string> cached(std::string_view locator);
  static constexpr uint64_t kCacheBytes = 16 << 20;
  // Blobs up to this size are kept in their row; larger ones in a segment.
  static constexpr uint64_t kInlineMax = 8 << 10;
  // A process starts a new segment once its segment holds this much.
  static constexpr uint64_t kSegmentBytes = 256ull << 20;
  Result<bool> contains(std::string_view locator);
  // Offers `page` the first `limit` rows it may want, in locator order.
  Status list(PageCollector& page, size_t limit);
  // Removes every one of `locators` in one transaction (one sync) with the
  // puts queued meanwhile; for each, whether the pack had it. Durable when it
  // returns; on an error nothing was removed.
  Result<std::vector<bool>> remove_many(std::span<const std::string> locators);

 private:
  struct Op;
  class Db;
  struct Extent;
  class Segments;
  SmallBlobPack(std::string path, core::BlockingPool& pool);

  void run_batch(const std::vector<Op*>& batch);
  Status erase_many(Op& op, std::vector<Extent>& freed);
  // Drops the locator's bytes from the download cache (before its removal).
  void uncache(std::string_view locator);

  std::string path_;
  std::unique_ptr<Db> writer_;  // used only by the batch leader
  std::unique_ptr<Segments> segments_;
  std::mutex read_mu_;
  std::unique_ptr<Db> reader_;
  core::GroupCommit<Op> commits_;
  std::mutex cache_mu_;  // not read_mu_: a hit must not wait for a SQLite read
  // Looked up by string_view (no copy of the locator per download).
  struct LocatorHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::shared_ptr<const std::string>, LocatorHash, std::equal_to<>>
      cache_;
  uint64_t cache_bytes_ = 0;
};

}  // namespace up::storage
