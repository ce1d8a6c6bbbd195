#include "storage/local/local_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "core/blocking.h"
#include "core/file_modes.h"
#include "storage/blob_util.h"
#include "storage/local/local_files.h"
#include "storage/local/small_blob_pack.h"
#include "storage/local/staged_blob.h"
#include "storage/locator.h"

namespace up::storage {
namespace {

constexpr uint64_t kWritebackStep = 4 << 20;  // FileAppender's, for a plain upload

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

UnixMs mtime_ms(const struct stat& st) {
  return static_cast<UnixMs>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

// Creates `dir` unless it exists; a new folder is made durable in `parent`.
Status ensure_dir(const std::string& dir, const std::string& parent, std::string_view role) {
  int err = core::make_data_dir(dir.c_str());
  if (err == 0) return fsync_dir(parent, "parent of " + std::string(role));
  if (err == EEXIST) return ok();
  return fail(os_error(err, "create " + std::string(role)));
}

// Moves `from` to `to`, failing with EEXIST rather than replacing `to`.
// Returns 0 or an errno.
int rename_no_replace(const std::string& from, const std::string& to) {
#ifdef RENAME_NOREPLACE
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  // EINVAL/ENOSYS: the kernel or file system lacks the flag; use link() below.
  if (errno != EINVAL && errno != ENOSYS) return errno;
#endif
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  // The blob is in place already; a temp name left behind is just a second link
  // that remove_stale_temporaries() drops later.
  ::unlink(from.c_str());
  return 0;
}

// Unique within the process (counter) and across processes and restarts (pid
// plus a random nonce); O_EXCL catches what remains.
std::string temp_name() {
  static const uint64_t nonce = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::atomic<uint64_t> counter{0};
  char buf[80];
  std::snprintf(buf, sizeof buf, "%d-%016llx-%llu.tmp", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(nonce),
                static_cast<unsigned long long>(counter.fetch_add(1)));
  return buf;
}

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

bool is_fanout_name(const char* name) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return hex(name[0]) && hex(name[1]) && name[2] == '\0';
}

// Where a blob lives (BlobPath): blobs/<aa>/<locator>. One level of 256
// folders, all made when the store opens: creating folders on the upload path
// is costly on ext4 (directory inodes are spread over block groups), and 256
// folders keep each one small enough up to millions of blobs (ext4 indexes
// directories).
constexpr int kFanOut = 256;
constexpr int kTmpShards = 16;

// Opens a new temp file in `shard`. A few retries cover names left by an
// earlier process with the same pid.
Result<std::pair<Fd, std::string>> create_temp_file(const std::string& shard) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string path = shard + "/" + temp_name();
    int fd = core::create_data_file(path.c_str(), O_WRONLY);
    if (fd >= 0) return std::make_pair(Fd(fd), std::move(path));
    if (errno != EEXIST && errno != EINTR) return fail(os_error(errno, "create temp file"));
  }
  return fail(Errc::kStorageIo, "local blob store: create temp file: no unique name");
}

UnixMs wall_ms() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

// Where one writer's blob goes: the pack while it is small, else a file.
struct WriterTarget {
  std::string locator;
  std::string tmp_shard;
  BlobPath dest;
  SmallBlobPack* pack = nullptr;  // null: files only
  uint64_t small_max = 0;
  const DiskReserve* reserve = nullptr;
  core::BlockingPool* pool = nullptr;  // fsync and rename run there
  std::optional<uint64_t> size_hint;
};

class LocalBlobWriter final : public BlobWriter {
 public:
  explicit LocalBlobWriter(WriterTarget target)
      : target_(std::move(target)),
        file_(*target_.reserve, "temp file", 0, kWritebackStep, target_.size_hint) {}

  ~LocalBlobWriter() override {
    file_.close();
    if (!state_.committed() && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  }

  // storage::BlobWriter
  // On the caller's thread: a write to the page cache costs less than a hop to
  // the pool per chunk; the wait for the disk is in commit(), on the pool.
  net::awaitable<Status> append(std::string_view data) override { co_return append_now(data); }

  // storage::BlobWriter
  // A small blob joins the pack's next group commit (no thread waits for it);
  // a file is synced and renamed on the blocking pool.
  net::awaitable<Status> commit() override {
    if (auto usable = check_usable(); !usable) co_return usable;
    if (to_pack()) co_return co_await commit_to_pack();
    co_return co_await core::run_blocking(*target_.pool, [this] { return commit_file(); });
  }

  // storage::BlobWriter
  uint64_t bytes_written() const override { return file_.size(); }

  // storage::BlobWriter
  bool commit_is_own_sync() const override { return !to_pack(); }

 private:
  // Whether commit() adds the blob to the pack: it stayed small enough to
  // have no file (files only without a pack).
  bool to_pack() const { return !file_.is_open() && target_.pack != nullptr; }

  static Error already_exists() {
    return Error{Errc::kAlreadyExists, "local blob store: a blob already has this locator"};
  }

  Status append_now(std::string_view data) {
    UP_TRY(check_usable());
    // Up to small_max the bytes stay in the buffer (bounded: small_max is at
    // most kBufferSize) and may go to the pack; past it they need a file.
    if (!file_.is_open() && file_.size() + data.size() > target_.small_max)
      UP_TRY(guard(open_temp()));
    return guard(file_.append(data));
  }

  Status commit_file() {
    if (!file_.is_open()) UP_TRY(guard(open_temp()));  // an empty blob, files only
    UP_TRY(guard(file_.sync()));
    file_.close();
    if (target_.pack) {
      auto taken = target_.pack->contains(target_.locator);
      if (!taken) return guard(fail(taken.error()));
      if (*taken) return guard(fail(already_exists()));
    }
    if (int err = rename_no_replace(temp_path_, target_.dest.file)) {
      return guard(fail(os_error(err, "rename temp file to blob", OsOp::kPublish)));
    }
    if (auto r = fsync_dir(target_.dest.dir, "fan-out folder"); !r) {
      // Not durable, so not committed: take the name back (the contract says
      // nothing is visible without a successful commit).
      ::unlink(target_.dest.file.c_str());
      state_.fail_now();
      return r;
    }
    state_.set_committed();
    return ok();
  }

  net::awaitable<Status> commit_to_pack() {
    // Never shadow a file blob of the same locator (ids are unique; this is the
    // same promise rename_no_replace keeps for files).
    if (::access(target_.dest.file.c_str(), F_OK) == 0) co_return guard(fail(already_exists()));
    Status put = co_await target_.pack->put(target_.locator, file_.buffered(), wall_ms());
    if (put) state_.set_committed();
    co_return guard(std::move(put));
  }

  Status open_temp() {
    auto created = create_temp_file(target_.tmp_shard);
    if (!created) return fail(created.error());
    file_.open(std::move(created->first));
    temp_path_ = std::move(created->second);
    return ok();
  }

  Status check_usable() const { return state_.check_usable(); }
  Status guard(Status s) { return state_.guard(std::move(s)); }

  WriterTarget target_;
  FileAppender file_;  // opened once the blob outgrows small_max; till then a small blob
  std::string temp_path_;
  WriterState state_;
};

// A range of a file blob. pread runs on the caller's thread (downloads over
// plain TCP skip it: they sendfile from file_range()).
class LocalBlobReader final : public BlobReader {
 public:
  LocalBlobReader(Fd fd, uint64_t offset, uint64_t length)
      : fd_(std::move(fd)), offset_(offset), next_(offset), end_(offset + length) {}

  // storage::BlobReader
  uint64_t size() const override { return end_ - offset_; }

  // storage::BlobReader
  net::awaitable<Result<size_t>> read(std::span<char> out) override {
    const size_t want = std::min<uint64_t>(out.size(), end_ - next_);
    if (want == 0) co_return size_t{0};
    for (;;) {
      ssize_t n = ::pread(fd_.get(), out.data(), want, static_cast<off_t>(next_));
      if (n >= 0) {
        next_ += static_cast<uint64_t>(n);
        co_return static_cast<size_t>(n);
      }
      if (errno != EINTR) co_return fail(os_error(errno, "read blob"));
    }
  }

  // storage::BlobReader
  FileRange file_range() const override { return FileRange{fd_.get(), offset_}; }

 private:
  Fd fd_;
  uint64_t offset_;
  uint64_t next_;
  uint64_t end_;
};

class LocalBlobStore final : public BlobStore {
 public:
  LocalBlobStore(const std::string& root, std::unique_ptr<SmallBlobPack> pack, uint64_t small_max,
                 uint64_t reserve_bytes, core::BlockingPool& pool)
      : blobs_dir_(root + "/blobs"), tmp_dir_(root + "/tmp"), pack_(std::move(pack)),
        small_max_(small_max), reserve_(root, reserve_bytes), pool_(pool) {}

  // storage::BlobStore
  Result<BlobWriterPtr> create(std::string_view locator,
                               std::optional<uint64_t> size_hint = {}) override {
    UP_TRY(check_locator(locator));
    UP_TRY(reserve_.check());
    WriterTarget target;
    target.locator = std::string(locator);
    target.tmp_shard = tmp_shard(locator);
    target.dest = blob_path(locator);
    target.pack = pack_.get();
    target.small_max = pack_ ? small_max_ : 0;
    target.reserve = &reserve_;
    target.pool = &pool_;
    target.size_hint = size_hint;
    return std::make_unique<LocalBlobWriter>(std::move(target));
  }

  // storage::BlobStore
  net::awaitable<Result<BlobReaderPtr>> open(std::string_view locator, uint64_t offset,
                                             uint64_t length) override {
    // A small blob read lately is served from memory, without a pool trip.
    if (pack_ && check_locator(locator)) {
      if (auto hit = pack_->cached(locator))
        co_return make_buffer_reader(std::move(hit), offset, length);
    }
    co_return co_await core::run_blocking(pool_, [&] { return open_now(locator, offset, length); });
  }

  // storage::BlobStore
  // No check_locator: an exact lookup in the cache, which holds only blobs
  // opened under valid locators, finds nothing for any other string.
  std::shared_ptr<const std::string> in_memory(std::string_view locator) override {
    return pack_ ? pack_->cached(locator) : nullptr;
  }

  // storage::BlobStore
  Status remove(std::string_view locator) override {
    UP_TRY(check_locator(locator));
    if (pack_) {
      auto packed = pack_->contains(locator);
      if (!packed) return fail(packed.error());
      if (*packed) return pack_->remove(locator);
    }
    BlobPath path = blob_path(locator);
    if (::unlink(path.file.c_str()) != 0) {
      if (errno == ENOENT) return ok();
      return fail(os_error(errno, "remove blob"));
    }
    return fsync_dir(path.dir, "fan-out folder");
  }

  // storage::BlobStore
  Result<BlobWriterPtr> extend(std::string_view locator, uint64_t at,
                               std::optional<uint64_t> size_hint = {}) override {
    UP_TRY(check_locator(locator));
    UP_TRY(reserve_.check());
    return extend_staged(blob_path(locator), at, size_hint, reserve_, pool_);
  }

  // storage::BlobStore
  Status seal(std::string_view staged, uint64_t size, std::string_view locator) override {
    UP_TRY(check_locator(staged));
    UP_TRY(check_locator(locator));
    return seal_staged(blob_path(staged), size, blob_path(locator));
  }

  // storage::BlobStore
  // File names are spread over the fan-out folders by hash, not in order: each
  // page walks every folder but keeps only its own `limit` entries (and stats
  // only those that may stay), so memory is bounded by the page.
  Result<BlobPage> list(std::string_view prefix, std::string_view after, size_t limit) override {
    PageCollector page(prefix, after, limit);
    if (pack_) UP_TRY(pack_->list(page, limit));
    UP_TRY(for_each_entry(blobs_dir_, "blobs folder", [&](int fd1, const char* n1) -> Status {
      if (!is_fanout_name(n1)) return ok();
      return for_each_entry_at(fd1, n1, "fan-out folder", [&](int fd2, const char* name) -> Status {
        if (!is_valid_locator(name) || !page.wants(name)) return ok();
        struct stat st;
        if (::fstatat(fd2, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          if (errno == ENOENT) return ok();  // removed while we walk
          return fail(os_error(errno, "stat blob"));
        }
        if (!S_ISREG(st.st_mode)) return ok();
        page.add(BlobEntry{name, static_cast<uint64_t>(st.st_size), mtime_ms(st)});
        return ok();
      });
    }));
    return std::move(page).finish();
  }

  // storage::BlobStore
  Result<uint64_t> remove_stale_temporaries(UnixMs older_than) override {
    uint64_t removed = 0;
    auto remove_if_stale = [&](int fd, const char* name) -> Status {
      struct stat st;
      if (::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return ok();  // committed or aborted meanwhile
        return fail(os_error(errno, "stat temp file"));
      }
      if (S_ISDIR(st.st_mode) || mtime_ms(st) >= older_than) return ok();
      if (::unlinkat(fd, name, 0) != 0) {
        if (errno == ENOENT) return ok();
        return fail(os_error(errno, "remove temp file"));
      }
      ++removed;
      return ok();
    };
    // Files in the shards, and (from older layouts) straight in tmp/.
    UP_TRY(for_each_entry(tmp_dir_, "tmp folder", [&](int fd, const char* name) -> Status {
      if (std::strlen(name) == 1) return for_each_entry_at(fd, name, "tmp shard", remove_if_stale);
      return remove_if_stale(fd, name);
    }));
    return removed;
  }

 private:
  // Blocking (a pack read, open and fstat): runs on the pool.
  Result<BlobReaderPtr> open_now(std::string_view locator, uint64_t offset, uint64_t length) {
    UP_TRY(check_locator(locator));
    if (pack_) {
      auto packed = pack_->load(locator);
      if (!packed) return fail(packed.error());
      if (*packed) return make_buffer_reader(std::move(*packed), offset, length);
    }
    std::string path = blob_path(locator).file;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) return fail(os_error(errno, "open blob", OsOp::kOpenBlob));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return fail(os_error(errno, "stat blob"));
    if (!S_ISREG(st.st_mode))
      return fail(Errc::kStorageIo, "local blob store: blob is not a regular file");
    const auto size = static_cast<uint64_t>(st.st_size);
    const uint64_t first = std::min(offset, size);
    return std::make_unique<LocalBlobReader>(std::move(fd), first, std::min(length, size - first));
  }

  // Writers in progress are spread over kTmpShards folders: creating a file
  // holds its folder's lock while ext4 allocates the inode, and one shared
  // tmp/ folder made concurrent uploads queue there.
  std::string tmp_shard(std::string_view locator) const {
    return tmp_dir_ + "/" + "0123456789abcdef"[fnv1a(locator) % kTmpShards];
  }

  BlobPath blob_path(std::string_view locator) const {
    char aa[3];
    std::snprintf(aa, sizeof aa, "%02x", static_cast<unsigned>(fnv1a(locator) >> 24));
    BlobPath p;
    p.dir = blobs_dir_ + "/" + aa;
    p.file = p.dir + "/" + std::string(locator);
    return p;
  }

  // Calls fn(dirfd, name) for each entry of the folder `name` under `parent_fd`,
  // skipping "." and "..". A folder that vanished meanwhile has no entries.
  template <class Fn>
  static Status for_each_entry_at(int parent_fd, const char* name, std::string_view role, Fn&& fn) {
    int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT || err == ENOTDIR) return ok();
      return fail(os_error(err, "open " + std::string(role)));
    }
    DirPtr dir(::fdopendir(fd));
    if (!dir) {
      int err = errno;
      ::close(fd);
      return fail(os_error(err, "open " + std::string(role)));
    }
    for (;;) {
      errno = 0;
      struct dirent* e = ::readdir(dir.get());
      if (e == nullptr) {
        int err = errno;
        if (err != 0) return fail(os_error(err, "read " + std::string(role)));
        return ok();
      }
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      UP_TRY(fn(::dirfd(dir.get()), e->d_name));
    }
  }

  template <class Fn>
  static Status for_each_entry(const std::string& path, std::string_view role, Fn&& fn) {
    return for_each_entry_at(AT_FDCWD, path.c_str(), role, std::forward<Fn>(fn));
  }

  std::string blobs_dir_;
  std::string tmp_dir_;
  std::unique_ptr<SmallBlobPack> pack_;  // null when small blobs are files too
  uint64_t small_max_;
  DiskReserve reserve_;
  core::BlockingPool& pool_;

 public:
  // storage::BlobStore
  // The pack's rows go in one transaction; files are unlinked and each folder
  // that lost one is synced once, not once per file.
  RemovedBlobs remove_many(std::span<const std::string> locators) override {
    RemovedBlobs r;
    for (const std::string& l : locators) {
      if (r.status = check_locator(l); !r.status) return r;
    }
    std::vector<bool> packed(locators.size(), false);
    if (pack_) {
      auto had = pack_->remove_many(locators);
      if (!had) return {0, fail(had.error())};
      packed = std::move(*had);
    }
    std::vector<std::string> dirs;
    size_t i = 0;
    for (; i < locators.size(); ++i) {
      if (packed[i]) continue;
      BlobPath path = blob_path(locators[i]);
      if (::unlink(path.file.c_str()) != 0) {
        if (errno == ENOENT) continue;
        r.status = fail(os_error(errno, "remove blob"));
        break;
      }
      dirs.push_back(std::move(path.dir));
    }
    std::sort(dirs.begin(), dirs.end());
    dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
    for (const std::string& dir : dirs) {
      // Unsynced, an unlink may come back after a crash: count none as gone.
      if (Status st = fsync_dir(dir, "fan-out folder"); !st) return {0, st};
    }
    r.removed = i;
    return r;
  }
};

// The reserve when none is configured: 1% of the file system, at most
// kDefaultReserveMax (a small disk keeps most of its room for files).
Result<uint64_t> default_reserve(const std::string& root) {
  struct statvfs fs {};
  if (::statvfs(root.c_str(), &fs) != 0) return fail(os_error(errno, "statvfs root folder"));
  const uint64_t total = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  return std::min(total / 100, LocalBlobStoreOptions::kDefaultReserveMax);
}

}  // namespace

Result<BlobStorePtr> open_local_blob_store(const std::string& root, core::BlockingPool& pool,
                                           const LocalBlobStoreOptions& options) {
  if (root.empty()) return fail(Errc::kInvalidArgument, "local blob store: empty root");
  // The root's own parent must exist: creating whole paths would hide a typo.
  if (int err = core::make_data_dir(root.c_str()); err == 0) {
    std::string parent = std::filesystem::path(root).parent_path().string();
    UP_TRY(fsync_dir(parent.empty() ? "." : parent, "parent of root folder"));
  } else if (err != EEXIST) {
    return fail(os_error(err, "create root folder"));
  }
  UP_TRY(ensure_dir(root + "/blobs", root, "blobs folder"));
  UP_TRY(ensure_dir(root + "/tmp", root, "tmp folder"));
  for (int i = 0; i < kTmpShards; ++i)
    UP_TRY(ensure_dir(root + "/tmp/" + "0123456789abcdef"[i], root + "/tmp", "tmp shard"));
  for (int i = 0; i < kFanOut; ++i) {
    char aa[3];
    std::snprintf(aa, sizeof aa, "%02x", i);
    UP_TRY(ensure_dir(root + "/blobs/" + aa, root + "/blobs", "fan-out folder"));
  }
  // Fail now, not on the first upload, when the folders are unusable.
  for (const char* sub : {"/blobs", "/tmp"}) {
    std::string dir = root + sub;
    if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
      int err = errno;
      return fail(os_error(err, std::string("access ") + (sub + 1) + " folder"));
    }
  }
  std::unique_ptr<SmallBlobPack> pack;
  if (options.small_blob_max > 0) {
    auto opened = SmallBlobPack::open(root + "/small-blobs.db", pool);
    if (!opened) return fail(opened.error());
    pack = std::move(*opened);
  }
  uint64_t reserve = 0;
  if (options.reserve_bytes) {
    reserve = *options.reserve_bytes;
  } else {
    auto computed = default_reserve(root);
    if (!computed) return fail(computed.error());
    reserve = *computed;
  }
  return std::make_unique<LocalBlobStore>(
      root, std::move(pack), std::min<uint64_t>(options.small_blob_max, FileAppender::kBufferSize),
      reserve, pool);
}

}  // namespace up::storage
