#include "storage/local/local_files.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace up::storage {

Error os_error(int err, std::string_view what, OsOp op) {
  std::string message = "local blob store: ";
  message += what;
  message += ": ";
  message += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Error{Errc::kDiskFull, std::move(message)};
  if (err == ENOENT && op == OsOp::kOpenBlob)
    return Error{Errc::kObjectNotFound, std::move(message)};
  if (err == EEXIST && op == OsOp::kPublish) return Error{Errc::kAlreadyExists, std::move(message)};
  return Error{Errc::kStorageIo, std::move(message)};
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int fsync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

Status fsync_dir(const std::string& dir, std::string_view role) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;  // read before the message allocates
    return fail(os_error(err, "open " + std::string(role)));
  }
  if (int err = fsync_fd(fd.get()))
    return fail(os_error(err, std::string("fsync ") + std::string(role)));
  return ok();
}

Status write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail(os_error(errno, "write temp file"));
    }
    // write(2) on a regular file returns 0 only for a 0-byte request; don't spin.
    if (w == 0) return fail(os_error(EIO, "write temp file"));
    p += w;
    n -= static_cast<size_t>(w);
  }
  return ok();
}

uint64_t write_behind(int fd, uint64_t base, uint64_t started, uint64_t in_file, uint64_t step) {
  if (in_file - started < step) return started;
  ::sync_file_range(fd, static_cast<off64_t>(base + started),
                    static_cast<off64_t>(in_file - started), SYNC_FILE_RANGE_WRITE);
  return in_file;
}

Status WriterState::check_usable() const {
  if (committed_) return fail(Errc::kInternal, "local blob store: writer already committed");
  if (failed_) return fail(Errc::kStorageIo, "local blob store: writer failed earlier");
  return ok();
}

Status DiskReserve::check() const {
  if (bytes_ == 0) return ok();
  struct statvfs fs {};
  if (::statvfs(root_.c_str(), &fs) != 0) return fail(os_error(errno, "statvfs root folder"));
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= bytes_) return ok();
  return fail(Errc::kDiskFull, "local blob store: free space is below the reserve of " +
                                   std::to_string(bytes_ >> 20) +
                                   " MiB kept for deletes and metadata");
}

}  // namespace up::storage
