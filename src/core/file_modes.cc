#include "core/file_modes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace up::core
