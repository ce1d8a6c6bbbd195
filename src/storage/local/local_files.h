#pragma once
// File-system helpers shared by the local store's parts (local_blob_store.cc,
// staged_blob.cc); internal to storage/local.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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

Status write_all(int fd, const char* p, size_t n);

// Write-behind: asks the kernel to start writing bytes [base + started,
// base + in_file) of `fd` once they are kWritebackStep or more, without
// waiting, and returns the new `started`. The fsync at commit then finds most
// of a large file on disk already, so receiving and writing overlap instead
// of adding up. Only a hint: failures are left for fsync to report.
// `step`: how much is handed to the kernel at a time; the fsync waits for at
// most that much.
constexpr uint64_t kWritebackStep = 4 << 20;
uint64_t write_behind(int fd, uint64_t base, uint64_t started, uint64_t in_file,
                      uint64_t step = kWritebackStep);

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

}  // namespace up::storage
