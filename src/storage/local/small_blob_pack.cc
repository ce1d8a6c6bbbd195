#include "storage/local/small_blob_pack.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/file_modes.h"
#include "storage/local/local_files.h"

namespace up::storage {
namespace {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string message = "small blob pack: ";
  message += what;
  message += ": ";
  message += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if ((rc & 0xff) == SQLITE_FULL) return Error{Errc::kDiskFull, std::move(message)};
  return Error{Errc::kStorageIo, std::move(message)};
}

// Finalizes a prepared statement on scope exit.
struct StmtCloser {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtCloser>;

// Resets a cached statement on scope exit, releasing its read snapshot.
class Bound {
 public:
  explicit Bound(sqlite3_stmt* s) : s_(s) {}
  ~Bound() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Bound(const Bound&) = delete;
  Bound& operator=(const Bound&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

int bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  return sqlite3_bind_text(s, i, v.data() ? v.data() : "", static_cast<int>(v.size()),
                           SQLITE_STATIC);
}

}  // namespace

// Where a blob's bytes lie in a segment.
struct SmallBlobPack::Extent {
  int64_t segment = -1;  // -1: in the row
  uint64_t at = 0;
  uint64_t size = 0;

  // From columns segment, at, size of a row, starting at `first`.
  static Extent of_row(sqlite3_stmt* s, int first) {
    return Extent{sqlite3_column_int64(s, first),
                  static_cast<uint64_t>(sqlite3_column_int64(s, first + 1)),
                  static_cast<uint64_t>(sqlite3_column_int64(s, first + 2))};
  }
};

// Puts or a removal, written in the next batch.
struct SmallBlobPack::Op {
  bool remove = false;  // else a put
  std::string_view locator;
  std::string_view data;
  UnixMs now = 0;
  Status result = ok();
  Extent extent;  // a put's bytes, once appended to a segment
  // remove_many: the locators instead of `locator`, and which the pack had.
  std::span<const std::string> many;
  std::vector<bool> had;
};

// One connection and its cached statements. Not thread-safe.
class SmallBlobPack::Db {
 public:
  static Result<std::unique_ptr<Db>> open(const std::string& path) {
    std::unique_ptr<Db> db(new Db());
    int rc =
        sqlite3_open_v2(path.c_str(), &db->db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return fail(sqlite_error(db->db_, rc, "open"));
    // A removed blob's freed pages are not overwritten (Debian's SQLite zeroes
    // them by default: a sweep's removals took twice as long), as an unlinked
    // file's blocks are not.
    UP_TRY(db->exec("PRAGMA secure_delete = FAST", "configure"));
    // WAL with FULL syncs the log on every commit: a put that returned is on
    // disk. One commit covers a whole batch of puts.
    for (const char* sql :
         {"PRAGMA busy_timeout = 5000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL"}) {
      UP_TRY(db->exec(sql, "configure"));
    }
    return db;
  }

  // Creates the tables, or brings a pack of an older version up to date (its
  // rows keep their bytes: a row whose segment is NULL holds them itself).
  Status migrate() {
    UP_TRY(exec("BEGIN IMMEDIATE", "begin"));
    Status st = migrate_in_transaction();
    if (st) st = exec("COMMIT", "commit");
    if (!st) (void)exec("ROLLBACK", "rollback");
    return st;
  }

  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status exec(const char* sql, std::string_view what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(sqlite_error(db_, rc, what));
    return ok();
  }

  // A statement prepared once per connection.
  Result<sqlite3_stmt*> stmt(StmtPtr& slot, const char* sql) {
    if (!slot) {
      sqlite3_stmt* s = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) return fail(sqlite_error(db_, rc, "prepare"));
      slot.reset(s);
    }
    return slot.get();
  }

  // A row of its own bytes (`extent.segment` -1) or of bytes in a segment.
  Status insert(std::string_view locator, std::string_view data, const Extent& extent, UnixMs now) {
    auto s = stmt(insert_,
                  "INSERT INTO blobs (locator, data, modified_at, segment, at, size) "
                  "VALUES (?, ?, ?, ?, ?, ?)");
    if (!s) return fail(s.error());
    Bound b(*s);
    bind_text(*s, 1, locator);
    if (extent.segment < 0) {
      sqlite3_bind_blob64(*s, 2, data.data() ? data.data() : "", data.size(), SQLITE_STATIC);
    } else {
      sqlite3_bind_zeroblob(*s, 2, 0);
      sqlite3_bind_int64(*s, 4, extent.segment);
      sqlite3_bind_int64(*s, 5, static_cast<sqlite3_int64>(extent.at));
      sqlite3_bind_int64(*s, 6, static_cast<sqlite3_int64>(extent.size));
    }
    sqlite3_bind_int64(*s, 3, now);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return ok();
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
      return fail(Errc::kAlreadyExists, "small blob pack: a blob already has this locator");
    return fail(sqlite_error(db_, rc, "insert"));
  }

  // Deletes the locator's row; a segment's bytes it held go to `freed`.
  Status erase(std::string_view locator, std::vector<Extent>& freed) {
    auto s = stmt(delete_, "DELETE FROM blobs WHERE locator = ? RETURNING segment, at, size");
    if (!s) return fail(s.error());
    Bound b(*s);
    bind_text(*s, 1, locator);
    int rc;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
      if (sqlite3_column_type(*s, 0) == SQLITE_NULL) continue;
      freed.push_back(Extent::of_row(*s, 0));
    }
    if (rc != SQLITE_DONE) return fail(sqlite_error(db_, rc, "delete"));
    return ok();
  }

  // Whether the last statement changed a row.
  bool changed() const { return sqlite3_changes(db_) > 0; }

  // The row's own bytes, or where its bytes are.
  struct Found {
    std::string data;
    Extent extent;
  };
  Result<std::optional<Found>> select(std::string_view locator) {
    auto s = stmt(select_, "SELECT data, segment, at, size FROM blobs WHERE locator = ?");
    if (!s) return fail(s.error());
    Bound b(*s);
    bind_text(*s, 1, locator);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return std::optional<Found>();
    if (rc != SQLITE_ROW) return fail(sqlite_error(db_, rc, "select"));
    Found found;
    if (sqlite3_column_type(*s, 1) != SQLITE_NULL) {
      found.extent = Extent::of_row(*s, 1);
    } else if (const auto* p = static_cast<const char*>(sqlite3_column_blob(*s, 0))) {
      found.data.assign(p, static_cast<size_t>(sqlite3_column_bytes(*s, 0)));
    }
    return std::optional<Found>(std::move(found));
  }

  Result<bool> exists(std::string_view locator) {
    auto s = stmt(exists_, "SELECT 1 FROM blobs WHERE locator = ?");
    if (!s) return fail(s.error());
    Bound b(*s);
    bind_text(*s, 1, locator);
    return any_row(*s);
  }

  // A new segment's id (its row committed).
  Result<int64_t> new_segment() {
    UP_TRY(exec("INSERT INTO segments DEFAULT VALUES", "new segment"));
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
  }

  // The segments no row uses.
  Result<std::vector<int64_t>> unused_segments() {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_,
                                "SELECT id FROM segments WHERE NOT EXISTS "
                                "(SELECT 1 FROM blobs WHERE segment = segments.id)",
                                -1, &s, nullptr);
    if (rc != SQLITE_OK) return fail(sqlite_error(db_, rc, "prepare"));
    StmtPtr owned(s);
    std::vector<int64_t> ids;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(s, 0));
    if (rc != SQLITE_DONE) return fail(sqlite_error(db_, rc, "list segments"));
    return ids;
  }

  Result<bool> segment_used(int64_t id) {
    auto s = stmt(used_, "SELECT 1 FROM blobs WHERE segment = ? LIMIT 1");
    if (!s) return fail(s.error());
    Bound b(*s);
    sqlite3_bind_int64(*s, 1, id);
    return any_row(*s);
  }

  Status forget_segment(int64_t id) {
    auto s = stmt(forget_, "DELETE FROM segments WHERE id = ?");
    if (!s) return fail(s.error());
    Bound b(*s);
    sqlite3_bind_int64(*s, 1, id);
    int rc = sqlite3_step(*s);
    if (rc != SQLITE_DONE) return fail(sqlite_error(db_, rc, "forget segment"));
    return ok();
  }

  // The rows `page` may want, in locator order (at most `limit`).
  Status scan(PageCollector& page, size_t limit) {
    sqlite3_stmt* s = nullptr;
    int rc =
        sqlite3_prepare_v2(db_,
                           "SELECT locator, coalesce(size, length(data)), modified_at FROM blobs "
                           "WHERE locator > ? "
                           "AND substr(locator, 1, ?) = ? ORDER BY locator LIMIT ?",
                           -1, &s, nullptr);
    if (rc != SQLITE_OK) return fail(sqlite_error(db_, rc, "prepare"));
    StmtPtr owned(s);
    bind_text(s, 1, page.after());
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(page.prefix().size()));
    bind_text(s, 3, page.prefix());
    sqlite3_bind_int64(s, 4, static_cast<sqlite3_int64>(limit));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      std::string locator =
          p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, 0))) : "";
      if (!page.wants(locator)) continue;
      page.add(BlobEntry{std::move(locator), static_cast<uint64_t>(sqlite3_column_int64(s, 1)),
                         static_cast<UnixMs>(sqlite3_column_int64(s, 2))});
    }
    if (rc != SQLITE_DONE) return fail(sqlite_error(db_, rc, "list"));
    return ok();
  }

 private:
  Db() = default;

  // Whether the bound statement `s` yields a row.
  Result<bool> any_row(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(sqlite_error(db_, rc, "select"));
  }

  // Version 1: the bytes in the row. Version 2: or in a segment (segment, at, size).
  Status migrate_in_transaction() {
    UP_TRY(
        exec("CREATE TABLE IF NOT EXISTS blobs (locator TEXT PRIMARY KEY, data BLOB NOT NULL, "
             "modified_at INTEGER NOT NULL)",
             "create table"));
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &s, nullptr);
    if (rc != SQLITE_OK) return fail(sqlite_error(db_, rc, "prepare"));
    StmtPtr owned(s);
    if ((rc = sqlite3_step(s)) != SQLITE_ROW) return fail(sqlite_error(db_, rc, "schema version"));
    const int version = sqlite3_column_int(s, 0);
    owned.reset();  // a statement still open would lock the table against ALTER
    if (version >= 2) return ok();
    for (const char* sql :
         {"ALTER TABLE blobs ADD COLUMN segment INTEGER", "ALTER TABLE blobs ADD COLUMN at INTEGER",
          "ALTER TABLE blobs ADD COLUMN size INTEGER",
          "CREATE INDEX blobs_by_segment ON blobs (segment) WHERE segment IS NOT NULL",
          "CREATE TABLE segments (id INTEGER PRIMARY KEY AUTOINCREMENT)",
          "PRAGMA user_version = 2"}) {
      UP_TRY(exec(sql, "migrate"));
    }
    return ok();
  }

  sqlite3* db_ = nullptr;
  StmtPtr insert_, delete_, select_, exists_, used_, forget_;
};

// The segment files: the one this process appends to, and descriptors of
// those it reads. Appends and removals run in the batch leader only (one at a
// time); reads come from any thread.
class SmallBlobPack::Segments {
 public:
  explicit Segments(std::string dir) : dir_(std::move(dir)) {}

  // Appends the ops' bytes to this process's segment (starting one if it has
  // none or it is full) in one write, syncs it, and records each op's extent.
  Status append(Db& db, const std::vector<Op*>& ops) {
    uint64_t total = 0;
    for (const Op* op : ops) total += op->data.size();
    if (active_.get() < 0 || (end_ > 0 && end_ + total > kSegmentBytes)) UP_TRY(start(db));
    uint64_t at = end_;
    for (Op* op : ops) {
      op->extent = Extent{active_id_, at, op->data.size()};
      at += op->data.size();
    }
    // Whatever happens, later appends go past these bytes: a failed write
    // leaves unknown bytes there, which no row will ever point at.
    const uint64_t from = end_;
    end_ = direct_ ? round_up(at) : at;
    UP_TRY(direct_ ? write_direct(ops, from) : write_buffered(ops, from));
    if (int err = fsync_fd(active_.get())) {
      active_.reset();  // after a failed sync its pages' state is unknown: a new segment
      return fail(os_error(err, "fsync pack segment"));
    }
    if (!direct_) drop_from_page_cache(active_.get(), from, at - from);
    return ok();
  }

  // Reads an extent's bytes.
  Result<std::string> read(const Extent& e) {
    auto fd = reader(e.segment);
    if (!fd) return fail(fd.error());
    const int from = (*fd)->get();
    std::string out(e.size, '\0');
    uint64_t done = 0;
    while (done < e.size) {
      ssize_t n = ::pread(from, out.data() + done, e.size - done, static_cast<off_t>(e.at + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(os_error(errno, "read pack segment"));
      if (n == 0)
        return fail(Errc::kStorageIo, "small blob pack: a segment is shorter than its rows");
      done += static_cast<uint64_t>(n);
    }
    return out;
  }

  // Gives the extents' space back (their rows are gone), then deletes the
  // segments left without rows. Space only: a failure here loses nothing.
  void release(Db& db, const std::vector<Extent>& freed) {
    std::vector<int64_t> touched;
    for (const Extent& e : freed) {
      if (e.size > 0) punch(e);
      touched.push_back(e.segment);
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (int64_t id : touched) drop_if_unused(db, id);
  }

  // Deletes every segment no row uses and nobody appends to (those a process
  // left when it stopped or rolled over).
  void drop_unused(Db& db) {
    auto ids = db.unused_segments();
    if (!ids) return;
    for (int64_t id : *ids) drop_if_unused(db, id);
  }

 private:
  std::string path(int64_t id) const { return dir_ + "/" + std::to_string(id) + ".pack"; }

  // A new segment for this process, locked so that nobody deletes it.
  Status start(Db& db) {
    const int64_t old = active_id_;
    active_.reset();
    active_id_ = -1;
    auto id = db.new_segment();
    if (!id) return fail(id.error());
    Fd fd(core::create_data_file(path(*id).c_str(), O_RDWR));
    if (fd.get() < 0) return fail(os_error(errno, "create pack segment"));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
      return fail(os_error(errno, "lock pack segment"));
    UP_TRY(fsync_dir(dir_, "pack segment folder"));
    try_direct(fd.get());
    active_ = std::move(fd);
    active_id_ = *id;
    end_ = 0;
    if (old >= 0) drop_if_unused(db, old);
    return ok();
  }

  Status write_buffered(const std::vector<Op*>& ops, uint64_t at) {
    std::vector<iovec> iov;
    iov.reserve(ops.size());
    for (const Op* op : ops)
      iov.push_back(iovec{const_cast<char*>(op->data.data()), op->data.size()});
    size_t first = 0;
    while (first < iov.size()) {
      const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
      ssize_t n = ::pwritev(active_.get(), &iov[first], count, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(os_error(errno, "write pack segment"));
      at += static_cast<uint64_t>(n);
      for (auto left = static_cast<size_t>(n); left > 0 && first < iov.size();) {
        const size_t take = std::min(left, iov[first].iov_len);
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
        iov[first].iov_len -= take;
        left -= take;
        if (iov[first].iov_len == 0) ++first;
      }
      while (first < iov.size() && iov[first].iov_len == 0) ++first;
    }
    return ok();
  }

  // The ops' bytes gathered in the aligned staging buffer, kStageBytes at a
  // time, the last piece padded with zeros to the alignment. `at` is aligned.
  Status write_direct(const std::vector<Op*>& ops, uint64_t at) {
    if (!stage_) {
      void* p = nullptr;
      if (int err = ::posix_memalign(&p, kStageAlign, kStageBytes))
        return fail(os_error(err, "allocate pack staging buffer"));
      stage_.reset(static_cast<char*>(p));
    }
    size_t filled = 0;
    auto flush = [&]() -> Status {
      const size_t len = round_up(filled);
      std::memset(stage_.get() + filled, 0, len - filled);
      for (size_t done = 0; done < len;) {
        ssize_t n =
            ::pwrite(active_.get(), stage_.get() + done, len - done, static_cast<off_t>(at + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail(os_error(n < 0 ? errno : EIO, "write pack segment"));
        done += static_cast<size_t>(n);
      }
      at += len;
      filled = 0;
      return ok();
    };
    for (const Op* op : ops) {
      for (std::string_view left = op->data; !left.empty();) {
        const size_t take = std::min(left.size(), kStageBytes - filled);
        std::memcpy(stage_.get() + filled, left.data(), take);
        filled += take;
        left.remove_prefix(take);
        if (filled == kStageBytes) UP_TRY(flush());
      }
    }
    return filled > 0 ? flush() : ok();
  }

  uint64_t round_up(uint64_t n) const {
    return (n + offset_align_ - 1) / offset_align_ * offset_align_;
  }

  // Whether the file takes direct writes (statx's STATX_DIOALIGN; tmpfs, say,
  // takes none). Batches start at a file system block, even where the disk
  // takes smaller steps: a write never shares a block with the batch before.
  void try_direct(int fd) {
    direct_ = false;
    struct statx sx {};
    if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 ||
        !(sx.stx_mask & STATX_DIOALIGN) || sx.stx_dio_offset_align == 0)
      return;
    const uint64_t align = std::max<uint64_t>(sx.stx_dio_offset_align, sx.stx_blksize);
    if (align > kStageBytes || kStageBytes % align != 0 || sx.stx_dio_mem_align > kStageAlign)
      return;
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) return;
    offset_align_ = align;
    direct_ = true;
  }

  void punch(const Extent& e) {
    Fd owned;
    int fd = e.segment == active_id_ ? active_.get() : -1;
    if (fd < 0) {
      owned = Fd(::open(path(e.segment).c_str(), O_WRONLY | O_CLOEXEC));
      fd = owned.get();
    }
    if (fd >= 0)
      (void)::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(e.at),
                        static_cast<off_t>(e.size));
  }

  void drop_if_unused(Db& db, int64_t id) {
    if (id == active_id_) return;
    auto used = db.segment_used(id);
    if (!used || *used) return;
    const std::string file = path(id);
    Fd fd(::open(file.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() < 0 && errno != ENOENT) return;
    // The lock fails while a process appends to it (its rows may be on their way).
    if (fd.get() >= 0 && (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0 || ::unlink(file.c_str()) != 0))
      return;
    (void)db.forget_segment(id);
    std::lock_guard lock(readers_mu_);
    readers_.erase(id);
  }

  // Shared: a reader may still use a descriptor the map has let go of.
  Result<std::shared_ptr<const Fd>> reader(int64_t id) {
    std::lock_guard lock(readers_mu_);
    if (auto it = readers_.find(id); it != readers_.end()) return it->second;
    auto fd = std::make_shared<const Fd>(::open(path(id).c_str(), O_RDONLY | O_CLOEXEC));
    if (fd->get() < 0) return fail(os_error(errno, "open pack segment"));
    // Segments other processes deleted keep their descriptors here: a bound.
    if (readers_.size() >= 64) readers_.clear();
    readers_.emplace(id, fd);
    return fd;
  }

  std::string dir_;
  Fd active_;
  int64_t active_id_ = -1;
  uint64_t end_ = 0;
  // Direct writes: no copy into the page cache and none of its pages to
  // write back at the sync; a read comes from the disk, as it would after the
  // buffered path drops the pages. Each batch starts at an aligned offset.
  bool direct_ = false;
  uint64_t offset_align_ = 1;
  static constexpr size_t kStageBytes = 1 << 20;
  static constexpr size_t kStageAlign = 4096;  // the memory alignment direct writes need, or more
  struct Freer {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Freer> stage_;
  std::mutex readers_mu_;
  std::unordered_map<int64_t, std::shared_ptr<const Fd>> readers_;
};

SmallBlobPack::SmallBlobPack(std::string path, core::BlockingPool& pool)
    : path_(std::move(path)),
      commits_(pool, [this](const std::vector<Op*>& batch) { run_batch(batch); }) {}
SmallBlobPack::~SmallBlobPack() = default;

Result<std::unique_ptr<SmallBlobPack>> SmallBlobPack::open(const std::string& path,
                                                           core::BlockingPool& pool) {
  std::unique_ptr<SmallBlobPack> pack(new SmallBlobPack(path, pool));
  // The pack holds file contents: 0640 like a blob file, not SQLite's 0644.
  if (int err = core::prepare_sqlite_file(path.c_str()))
    return fail(Errc::kStorageIo, std::string("small blob pack: create: ") + std::strerror(err));
  auto writer = Db::open(path);
  if (!writer) return fail(writer.error());
  UP_TRY((*writer)->migrate());
  auto reader = Db::open(path);
  if (!reader) return fail(reader.error());
  // small-blobs.db -> small-blobs/
  std::string dir = path.ends_with(".db") ? path.substr(0, path.size() - 3) : path + ".segments";
  if (int err = core::make_data_dir(dir.c_str()); err != 0 && err != EEXIST)
    return fail(os_error(err, "create pack segment folder"));
  pack->writer_ = std::move(*writer);
  pack->reader_ = std::move(*reader);
  pack->segments_ = std::make_unique<Segments>(std::move(dir));
  pack->segments_->drop_unused(*pack->writer_);
  return pack;
}

net::awaitable<Status> SmallBlobPack::put(std::string_view locator, std::string_view data,
                                          UnixMs now) {
  Op op;
  op.locator = locator;
  op.data = data;
  op.now = now;
  co_await commits_.commit(op);
  co_return op.result;
}

void SmallBlobPack::uncache(std::string_view locator) {
  std::lock_guard lock(cache_mu_);
  if (auto it = cache_.find(std::string(locator)); it != cache_.end()) {
    cache_bytes_ -= it->second->size();
    cache_.erase(it);
  }
}

Status SmallBlobPack::remove(std::string_view locator) {
  uncache(locator);
  Op op;
  op.remove = true;
  op.locator = locator;
  commits_.submit(op, [this](const std::vector<Op*>& batch) { run_batch(batch); });
  return op.result;
}

void SmallBlobPack::run_batch(const std::vector<Op*>& batch) {
  // The larger puts' bytes first, in one write to the segment, synced: the
  // rows that point at them commit after.
  std::vector<Op*> appended;
  for (Op* op : batch)
    if (!op->remove && op->data.size() > kInlineMax) appended.push_back(op);
  if (!appended.empty()) {
    if (auto st = segments_->append(*writer_, appended); !st) {
      for (Op* op : appended) op->result = fail(st.error());
      appended.clear();
    }
  }
  std::vector<Extent> freed;   // of rows deleted: given back once that commits
  std::vector<Extent> unused;  // appended, but no row points at them
  auto fail_all = [&](const Error& e) {
    for (Op* op : batch) op->result = fail(e);
    for (Op* op : appended) unused.push_back(op->extent);
    freed.clear();
  };
  if (auto st = writer_->exec("BEGIN IMMEDIATE", "begin"); !st) {
    fail_all(st.error());
  } else {
    // A refused insert (a taken locator) fails alone: SQLite rolls back only
    // that statement and the transaction goes on.
    for (Op* op : batch) {
      if (!op->result) continue;  // its bytes could not be written
      if (!op->many.empty()) {
        op->result = erase_many(*op, freed);
      } else if (op->remove) {
        op->result = writer_->erase(op->locator, freed);
      } else {
        op->result = writer_->insert(op->locator, op->data, op->extent, op->now);
        if (!op->result && op->extent.segment >= 0) unused.push_back(op->extent);
      }
    }
    if (auto st = writer_->exec("COMMIT", "commit"); !st) {
      (void)writer_->exec("ROLLBACK", "rollback");
      unused.clear();  // fail_all lists every appended extent
      fail_all(st.error());
    }
  }
  freed.insert(freed.end(), unused.begin(), unused.end());
  if (!freed.empty()) segments_->release(*writer_, freed);
  // A sweep's batch also looks for segments emptied while a process still
  // appended to them (their last removal could not delete them then).
  if (std::any_of(batch.begin(), batch.end(), [](const Op* op) { return !op->many.empty(); }))
    segments_->drop_unused(*writer_);
}

Result<std::optional<std::string>> SmallBlobPack::get(std::string_view locator) {
  Result<std::optional<Db::Found>> found = std::optional<Db::Found>();
  {
    std::lock_guard lock(read_mu_);
    found = reader_->select(locator);
  }
  if (!found) return fail(found.error());
  if (!*found) return std::optional<std::string>();
  if ((*found)->extent.segment < 0) return std::optional<std::string>(std::move((*found)->data));
  auto bytes = segments_->read((*found)->extent);
  // A removal frees the bytes only after its row is gone: if the row is still
  // there, what was read is the blob's (else it may be a hole's zeros).
  std::lock_guard lock(read_mu_);
  auto still = reader_->exists(locator);
  if (!still) return fail(still.error());
  if (!*still) return std::optional<std::string>();
  if (!bytes) return fail(bytes.error());
  return std::optional<std::string>(std::move(*bytes));
}

Result<std::shared_ptr<const std::string>> SmallBlobPack::load(std::string_view locator) {
  auto got = get(locator);
  if (!got) return fail(got.error());
  if (!*got) return std::shared_ptr<const std::string>();
  auto bytes = std::make_shared<const std::string>(std::move(**got));
  if (bytes->size() > kCacheBytes / 64) return bytes;  // one blob never takes much of it
  std::lock_guard lock(cache_mu_);
  // An arbitrary entry makes room: cheap, and a hot set far below the bound stays.
  while (!cache_.empty() && cache_bytes_ + bytes->size() > kCacheBytes) {
    cache_bytes_ -= cache_.begin()->second->size();
    cache_.erase(cache_.begin());
  }
  auto [it, added] = cache_.try_emplace(std::string(locator), bytes);
  if (added) cache_bytes_ += bytes->size();
  return bytes;
}

std::shared_ptr<const std::string> SmallBlobPack::cached(std::string_view locator) {
  std::lock_guard lock(cache_mu_);
  auto it = cache_.find(locator);
  return it == cache_.end() ? nullptr : it->second;
}

Result<bool> SmallBlobPack::contains(std::string_view locator) {
  std::lock_guard lock(read_mu_);
  return reader_->exists(locator);
}

Status SmallBlobPack::list(PageCollector& page, size_t limit) {
  // Its own connection: a walk (the orphan sweep) must not hold up downloads.
  auto db = Db::open(path_);
  if (!db) return fail(db.error());
  return (*db)->scan(page, limit);
}

Result<std::vector<bool>> SmallBlobPack::remove_many(std::span<const std::string> locators) {
  if (locators.empty()) return std::vector<bool>();
  for (const std::string& l : locators) uncache(l);
  Op op;
  op.remove = true;
  op.many = locators;
  commits_.submit(op, [this](const std::vector<Op*>& batch) { run_batch(batch); });
  if (!op.result) return fail(op.result.error());
  return std::move(op.had);
}

// A failed delete fails the whole op, so the transaction must not keep its
// earlier deletes: they run under a savepoint of their own.
Status SmallBlobPack::erase_many(Op& op, std::vector<Extent>& freed) {
  UP_TRY(writer_->exec("SAVEPOINT erase_many", "savepoint"));
  op.had.assign(op.many.size(), false);
  std::vector<Extent> mine;
  for (size_t i = 0; i < op.many.size(); ++i) {
    if (auto st = writer_->erase(op.many[i], mine); !st) {
      (void)writer_->exec("ROLLBACK TO erase_many", "rollback to savepoint");
      (void)writer_->exec("RELEASE erase_many", "release savepoint");
      return st;
    }
    op.had[i] = writer_->changed();
  }
  UP_TRY(writer_->exec("RELEASE erase_many", "release savepoint"));
  freed.insert(freed.end(), mine.begin(), mine.end());
  return ok();
}

}  // namespace up::storage
