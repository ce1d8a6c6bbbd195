#include "core/file_modes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace up::core {

int make_data_dir(const char* path) {
  if (::mkdir(path, kDataDirMode) != 0) return errno;
  // mkdir applied the umask; a folder this process just made is its own to fix.
  if (::chmod(path, kDataDirMode) != 0) return errno;
  return 0;
}

int create_data_file(const char* path, int flags, mode_t mode) {
  int fd = ::open(path, flags | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return -1;
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path);
    errno = err;
    return -1;
  }
  return fd;
}

int prepare_sqlite_file(const char* path) {
  int fd = create_data_file(path, O_WRONLY);
  if (fd < 0) return errno == EEXIST ? 0 : errno;
  // An empty file is an empty database to SQLite; its first write syncs it.
  ::close(fd);
  return 0;
}

Status write_secret_file(const std::string& path, std::string_view data) {
  int fd = create_data_file(path.c_str(), O_WRONLY, kSecretFileMode);
  if (fd < 0) return fail(Errc::kStorageIo, "cannot create " + path + ": " + std::strerror(errno));
  const bool written = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return fail(Errc::kStorageIo, "cannot write " + path);
  }
  return ok();
}

}  // namespace up::core
