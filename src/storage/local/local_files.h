#pragma once
// File-system helpers shared by the local store's parts (local_blob_store.cc,
// staged_blob.cc); internal to storage/local.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"

namespace up::storage {

// What a failing call was doing, for the few errnos whose meaning depends on it.
enum class OsOp {
  kOther,
  kOpenBlob,  // ENOENT: there is no such blob
  kPublish,   // EEXIST: a blob already has this locator
};

// The one place errno becomes an Error. `what` names the operation and the role
// of the path ("fsync temp file"), never the path: paths carry object ids.
Error os_error(int err, std::string_view what, OsOp op = OsOp::kOther);

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_;
};

// fsync retried on EINTR; any other failure (returned as an errno) means the
// data may not be on disk.
int fsync_fd(int fd);

// Makes a folder's entries (a created, renamed or removed name) durable.
Status fsync_dir(const std::string& dir, std::string_view role);

// Asks the kernel to drop [at, at + len) of the file from the page cache (a
// hint; pages still being written stay). Written bytes leave the cache once on
// disk: an upload is written once and seldom read at once, and a page given
// back is reused while still warm, where the cache would take fresh pages (in
// a VM that reports free pages to its host, each such page costs a fault there).
void drop_from_page_cache(int fd, uint64_t at, uint64_t len);

// What a writer may still do: nothing after its commit, and nothing after any
// failure (the file's content is then unknown).
class WriterState {
 public:
  Status check_usable() const;
  Status guard(Status s) {
    if (!s) failed_ = true;
    return s;
  }
  void fail_now() { failed_ = true; }
  void set_committed() { committed_ = true; }
  bool committed() const { return committed_; }

 private:
  bool committed_ = false;
  bool failed_ = false;
};

// Where a blob lives: blobs/<aa>/<locator>.
struct BlobPath {
  std::string dir;   // blobs/<aa>
  std::string file;  // blobs/<aa>/<locator>
};

// Keeps a share of the root's file system free (LocalBlobStoreOptions::reserve_bytes).
// statvfs is one cheap syscall: writers ask at creation and every
// kCheckStep, so a stream overshoots the reserve by at most that much.
class DiskReserve {
 public:
  static constexpr uint64_t kCheckStep = 1 << 20;

  DiskReserve(std::string root, uint64_t bytes) : root_(std::move(root)), bytes_(bytes) {}

  Status check() const;

 private:
  std::string root_;
  uint64_t bytes_;
};

// A writer's file, written in order from `base`: appends under kBufferSize
// are coalesced, larger ones written through. Every `writeback_step` written
// bytes the kernel is asked to start writing them (a hint; fsync reports
// failures), so the fsync at commit waits for at most that step. Written-back
// steps, and the whole file once synced, leave the page cache
// (drop_from_page_cache). Before
// open() appends only gather in the buffer (a blob that may stay small enough
// for the pack). Checks `reserve` every DiskReserve::kCheckStep bytes. Not
// thread-safe; `reserve` outlives it; `role` is a literal naming the file.
class FileAppender {
 public:
  static constexpr size_t kBufferSize = 64 * 1024;
  static constexpr uint64_t kTailStep = 256 * 1024;

  // `expected`: the bytes that will be appended, when known (a
  // Content-Length): the last writeback step is then cut into kTailStep
  // pieces, each started as it is written, so the sync at the end waits for
  // at most about that much. (A tus chunk's fsync waited 0.6-0.7 ms for its
  // last 1 MiB step.)
  FileAppender(const DiskReserve& reserve, std::string_view role, uint64_t base,
               uint64_t writeback_step, std::optional<uint64_t> expected = {})
      : reserve_(reserve), role_(role), base_(base), step_(writeback_step), expected_(expected) {}

  // REQUIRES: `fd` is at `base`; `have` is the file's size. What lies past
  // `base` is cut at the first write, not here: a staged blob's caller first
  // checks, holding the blob, that no recorded piece is there.
  void open(Fd fd, uint64_t have = 0) {
    fd_ = std::move(fd);
    have_ = have;
  }
  bool is_open() const { return fd_.get() >= 0; }
  void close() { fd_.reset(); }

  Status append(std::string_view data);
  // Writes what is buffered and waits until the file is on disk.
  Status sync();

  uint64_t size() const { return bytes_; }  // appended, written or still buffered
  const std::string& buffered() const { return buffer_; }

 private:
  Status flush();
  Status write(const char* p, size_t n);
  Status cut_once();
  Error os_fail(int err, std::string_view op) const;
  void drop_cached(uint64_t upto);  // drops [dropped_, upto) from the page cache; a hint

  const DiskReserve& reserve_;
  std::string_view role_;
  uint64_t base_;
  uint64_t step_;
  std::optional<uint64_t> expected_;
  Fd fd_;
  uint64_t have_ = 0;
  std::string buffer_;
  uint64_t bytes_ = 0;
  uint64_t writeback_started_ = 0;
  uint64_t dropped_ = 0;
  uint64_t next_reserve_check_ = DiskReserve::kCheckStep;  // the creator checks the start
};

}  // namespace up::storage
