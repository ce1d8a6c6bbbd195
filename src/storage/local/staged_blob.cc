#include "storage/local/staged_blob.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "core/file_modes.h"

namespace up::storage {
namespace {

// A tus client waits for each chunk's fsync before it sends the next, so the
// bytes go to the disk in smaller steps than a plain upload's: the fsync then
// finds at most this much not yet written (8 MiB chunks: 4 MiB -> 1 MiB).
constexpr uint64_t kStagedWritebackStep = 1 << 20;

Error busy() {
  return Error{Errc::kFailedPrecondition,
               "local blob store: another request is writing this upload"};
}

// Opens the staged file, creating it when `create`; `created` tells which.
Result<Fd> open_staged(const BlobPath& path, bool create, bool& created) {
  created = false;
  for (int attempt = 0; attempt < 4; ++attempt) {
    Fd fd(::open(path.file.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() >= 0) return fd;
    if (errno != ENOENT || !create)
      return fail(os_error(errno, "open staged blob", OsOp::kOpenBlob));
    fd = Fd(core::create_data_file(path.file.c_str(), O_RDWR));
    if (fd.get() >= 0) {
      created = true;
      return fd;
    }
    if (errno != EEXIST) return fail(os_error(errno, "create staged blob"));
  }
  return fail(Errc::kStorageIo, "local blob store: staged blob keeps vanishing");
}

struct StagedFile {
  uint64_t size = 0;
  bool sealed = false;  // a second link: a final locator shares the bytes
};

// Takes the file's lock; kFailedPrecondition when another holds it,
// kObjectNotFound when it was removed meanwhile.
Result<StagedFile> lock_staged(int fd) {
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return fail(busy());
    if (errno != EINTR) return fail(os_error(errno, "lock staged blob"));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return fail(os_error(errno, "stat staged blob"));
  if (st.st_nlink == 0) return fail(Errc::kObjectNotFound, "local blob store: staged blob removed");
  return StagedFile{static_cast<uint64_t>(st.st_size), st.st_nlink > 1};
}

// Drops what lies past `size` (bytes of a request whose piece was never
// recorded).
Status cut_to(int fd, uint64_t have, uint64_t size) {
  if (have < size)
    return fail(Errc::kFailedPrecondition, "local blob store: staged blob has " +
                                               std::to_string(have) + " bytes, not " +
                                               std::to_string(size));
  if (have > size && ::ftruncate(fd, static_cast<off_t>(size)) != 0)
    return fail(os_error(errno, "truncate staged blob"));
  return ok();
}

class StagedBlobWriter final : public BlobWriter {
 public:
  StagedBlobWriter(Fd fd, uint64_t at, uint64_t have, std::optional<uint64_t> size_hint,
                   std::string dir, bool created, const DiskReserve& reserve,
                   core::BlockingPool& pool)
      : file_(reserve, "staged blob", at, kStagedWritebackStep, size_hint), dir_(std::move(dir)),
        created_(created), pool_(pool) {
    file_.open(std::move(fd), have);  // cuts the bytes past `at` at its first write
  }

  // storage::BlobWriter
  net::awaitable<Status> append(std::string_view data) override {
    if (auto usable = state_.check_usable(); !usable) co_return usable;
    co_return state_.guard(file_.append(data));
  }

  // storage::BlobWriter
  net::awaitable<Status> commit() override {
    co_return co_await core::run_blocking(pool_, [this] { return commit_now(); });
  }

  // storage::BlobWriter
  uint64_t bytes_written() const override { return file_.size(); }

  // storage::BlobWriter
  bool commit_is_own_sync() const override { return true; }

 private:
  Status commit_now() {
    UP_TRY(state_.check_usable());
    UP_TRY(state_.guard(file_.sync()));
    if (created_) UP_TRY(state_.guard(fsync_dir(dir_, "fan-out folder")));
    state_.set_committed();
    return ok();
  }

  FileAppender file_;  // its descriptor holds the lock; closing it releases it
  std::string dir_;
  bool created_;
  core::BlockingPool& pool_;
  WriterState state_;
};

}  // namespace

Result<BlobWriterPtr> extend_staged(const BlobPath& path, uint64_t at,
                                    std::optional<uint64_t> size_hint, const DiskReserve& reserve,
                                    core::BlockingPool& pool) {
  bool created = false;
  auto fd = open_staged(path, at == 0, created);
  if (!fd) return fail(fd.error());
  auto file = lock_staged(fd->get());
  if (!file) return fail(file.error());
  if (file->sealed)
    return fail(Errc::kFailedPrecondition, "local blob store: the staged blob is sealed");
  if (file->size < at)
    return fail(Errc::kObjectNotFound, "local blob store: the staged blob is shorter than that");
  if (::lseek(fd->get(), static_cast<off_t>(at), SEEK_SET) < 0)
    return fail(os_error(errno, "seek staged blob"));
  return std::make_unique<StagedBlobWriter>(std::move(*fd), at, file->size, size_hint, path.dir,
                                            created, reserve, pool);
}

Status seal_staged(const BlobPath& staged, uint64_t size, const BlobPath& dest) {
  bool created = false;
  auto fd = open_staged(staged, false, created);
  if (!fd) return fail(fd.error());
  auto file = lock_staged(fd->get());
  if (!file) return fail(file.error());
  if (file->size != size) {
    // Never cut bytes a final locator already shares.
    if (file->sealed)
      return fail(Errc::kFailedPrecondition, "local blob store: the staged blob is sealed");
    UP_TRY(cut_to(fd->get(), file->size, size));
    if (int err = fsync_fd(fd->get())) return fail(os_error(err, "fsync staged blob"));
  }
  if (::link(staged.file.c_str(), dest.file.c_str()) != 0)
    return fail(os_error(errno, "link staged blob", OsOp::kPublish));
  return fsync_dir(dest.dir, "fan-out folder");
}

}  // namespace up::storage
