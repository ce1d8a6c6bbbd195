#include "storage/local/local_files.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
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

void drop_from_page_cache(int fd, uint64_t at, uint64_t len) {
  (void)::posix_fadvise(fd, static_cast<off_t>(at), static_cast<off_t>(len), POSIX_FADV_DONTNEED);
}

Status WriterState::check_usable() const {
  if (committed_) return fail(Errc::kInternal, "local blob store: writer already committed");
  if (failed_) return fail(Errc::kStorageIo, "local blob store: writer failed earlier");
  return ok();
}

Status FileAppender::append(std::string_view data) {
  if (data.empty()) return ok();
  bytes_ += data.size();
  if (bytes_ >= next_reserve_check_) {
    UP_TRY(reserve_.check());
    next_reserve_check_ = bytes_ + DiskReserve::kCheckStep;
  }
  if (buffer_.size() + data.size() > kBufferSize) UP_TRY(flush());
  if (!is_open()) {
    buffer_.append(data);  // a small blob: its buffer grows to its size
    return ok();
  }
  // Large chunks (the usual 64 KiB) go straight to the file; small ones are
  // coalesced so a chatty caller doesn't cost one syscall per append.
  if (data.size() >= kBufferSize) return write(data.data(), data.size());
  if (buffer_.capacity() < kBufferSize) buffer_.reserve(kBufferSize);
  buffer_.append(data);
  return ok();
}

Status FileAppender::sync() {
  UP_TRY(cut_once());
  UP_TRY(flush());
  if (int err = fsync_fd(fd_.get())) return fail(os_fail(err, "fsync"));
  drop_cached(bytes_);
  return ok();
}

void FileAppender::drop_cached(uint64_t upto) {
  if (upto <= dropped_) return;
  drop_from_page_cache(fd_.get(), base_ + dropped_, upto - dropped_);
  dropped_ = upto;
}

Status FileAppender::flush() {
  if (buffer_.empty()) return ok();
  Status written = write(buffer_.data(), buffer_.size());
  buffer_.clear();
  return written;
}

Status FileAppender::write(const char* p, size_t n) {
  UP_TRY(cut_once());
  while (n > 0) {
    ssize_t w = ::write(fd_.get(), p, n);
    if (w < 0 && errno == EINTR) continue;
    // write(2) on a regular file returns 0 only for a 0-byte request; don't spin.
    if (w <= 0) return fail(os_fail(w < 0 ? errno : EIO, "write"));
    p += w;
    n -= static_cast<size_t>(w);
  }
  // The buffer is empty or being flushed, so bytes_ overshoots the file by at
  // most an append under way: fine for a hint.
  const bool in_tail = expected_ && bytes_ + step_ > *expected_;
  if (bytes_ - writeback_started_ < (in_tail ? std::min(step_, kTailStep) : step_)) return ok();
  ::sync_file_range(fd_.get(), static_cast<off64_t>(base_ + writeback_started_),
                    static_cast<off64_t>(bytes_ - writeback_started_), SYNC_FILE_RANGE_WRITE);
  drop_cached(writeback_started_);
  writeback_started_ = bytes_;
  return ok();
}

Status FileAppender::cut_once() {
  if (have_ <= base_) return ok();
  if (::ftruncate(fd_.get(), static_cast<off_t>(base_)) != 0)
    return fail(os_fail(errno, "truncate"));
  have_ = base_;
  return ok();
}

// `err` is read before the message allocates.
Error FileAppender::os_fail(int err, std::string_view op) const {
  return os_error(err, std::string(op) + " " + std::string(role_));
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
