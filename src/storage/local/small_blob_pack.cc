#include "storage/local/small_blob_pack.h"

#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "core/file_modes.h"

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

// Puts or a removal, written in the next batch.
struct SmallBlobPack::Op {
  bool remove = false;  // else a put
  std::string_view locator;
  std::string_view data;
  UnixMs now = 0;
  Status result = ok();
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
         {"PRAGMA busy_timeout = 5000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
          "CREATE TABLE IF NOT EXISTS blobs (locator TEXT PRIMARY KEY, data BLOB NOT NULL, "
          "modified_at INTEGER NOT NULL)"}) {
      UP_TRY(db->exec(sql, "configure"));
    }
    return db;
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

  Status insert(std::string_view locator, std::string_view data, UnixMs now) {
    auto s = stmt(insert_, "INSERT INTO blobs (locator, data, modified_at) VALUES (?, ?, ?)");
    if (!s) return fail(s.error());
    Bound b(*s);
    bind_text(*s, 1, locator);
    sqlite3_bind_blob64(*s, 2, data.data() ? data.data() : "", data.size(), SQLITE_STATIC);
    sqlite3_bind_int64(*s, 3, now);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return ok();
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
      return fail(Errc::kAlreadyExists, "small blob pack: a blob already has this locator");
    return fail(sqlite_error(db_, rc, "insert"));
  }

  Status erase(std::string_view locator) {
    auto s = stmt(delete_, "DELETE FROM blobs WHERE locator = ?");
    if (!s) return fail(s.error());
    Bound b(*s);
    bind_text(*s, 1, locator);
    int rc = sqlite3_step(*s);
    if (rc != SQLITE_DONE) return fail(sqlite_error(db_, rc, "delete"));
    return ok();
  }

  // Whether the last statement changed a row.
  bool changed() const { return sqlite3_changes(db_) > 0; }

  Result<std::optional<std::string>> select(std::string_view locator) {
    auto s = stmt(select_, "SELECT data FROM blobs WHERE locator = ?");
    if (!s) return fail(s.error());
    Bound b(*s);
    bind_text(*s, 1, locator);
    int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return fail(sqlite_error(db_, rc, "select"));
    const auto* p = static_cast<const char*>(sqlite3_column_blob(*s, 0));
    const auto n = static_cast<size_t>(sqlite3_column_bytes(*s, 0));
    return std::optional<std::string>(p ? std::string(p, n) : std::string());
  }

  // The rows `page` may want, in locator order (at most `limit`).
  Status scan(PageCollector& page, size_t limit) {
    sqlite3_stmt* s = nullptr;
    int rc =
        sqlite3_prepare_v2(db_,
                           "SELECT locator, length(data), modified_at FROM blobs WHERE locator > ? "
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

  sqlite3* db_ = nullptr;
  StmtPtr insert_, delete_, select_;
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
  auto reader = Db::open(path);
  if (!reader) return fail(reader.error());
  pack->writer_ = std::move(*writer);
  pack->reader_ = std::move(*reader);
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
  auto fail_all = [&](const Error& e) {
    for (Op* op : batch) op->result = fail(e);
  };
  if (auto st = writer_->exec("BEGIN IMMEDIATE", "begin"); !st) return fail_all(st.error());
  // A refused insert (a taken locator) fails alone: SQLite rolls back only
  // that statement and the transaction goes on.
  for (Op* op : batch) {
    if (!op->many.empty()) {
      op->result = erase_many(*op);
      continue;
    }
    op->result =
        op->remove ? writer_->erase(op->locator) : writer_->insert(op->locator, op->data, op->now);
  }
  if (auto st = writer_->exec("COMMIT", "commit"); !st) {
    (void)writer_->exec("ROLLBACK", "rollback");
    fail_all(st.error());
  }
}

Result<std::optional<std::string>> SmallBlobPack::get(std::string_view locator) {
  std::lock_guard lock(read_mu_);
  return reader_->select(locator);
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
  auto got = get(locator);
  if (!got) return fail(got.error());
  return got->has_value();
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
Status SmallBlobPack::erase_many(Op& op) {
  UP_TRY(writer_->exec("SAVEPOINT erase_many", "savepoint"));
  op.had.assign(op.many.size(), false);
  for (size_t i = 0; i < op.many.size(); ++i) {
    if (auto st = writer_->erase(op.many[i]); !st) {
      (void)writer_->exec("ROLLBACK TO erase_many", "rollback to savepoint");
      (void)writer_->exec("RELEASE erase_many", "release savepoint");
      return st;
    }
    op.had[i] = writer_->changed();
  }
  return writer_->exec("RELEASE erase_many", "release savepoint");
}

}  // namespace up::storage
