#pragma once
// The modes of what upgate creates under its data directory (docs/configuration.md,
// "Data directory"): folders 0750, files 0640, key material 0600. The process
// umask must not decide them: an operator's umask 000 would otherwise publish
// every stored file, and SQLite creates its databases 0644 minus the umask.
//
// The server and the CLI also set umask(027) at start (src/app/main.cc), which
// covers files made by code that takes no mode, such as SQLite's -wal and -shm;
// these helpers keep the modes exact for any other caller (tests, tools).

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/result.h"

namespace up::core {

inline constexpr mode_t kDataDirMode = 0750;
inline constexpr mode_t kDataFileMode = 0640;
inline constexpr mode_t kSecretFileMode = 0600;

// mkdir(path, kDataDirMode), then chmod to exactly that mode when it made the
// folder. Returns 0, or an errno value (EEXIST when the path already exists,
// whose mode is left as it is).
int make_data_dir(const char* path);

// open(path, flags | O_CREAT | O_EXCL | O_CLOEXEC, mode), then fchmod to
// exactly `mode`. Returns the descriptor, or -1 with errno set (EEXIST when the
// file exists). The caller owns the descriptor.
int create_data_file(const char* path, int flags, mode_t mode = kDataFileMode);

// Creates an empty SQLite database file with kDataFileMode unless `path`
// exists, so that SQLite opens a file of that mode. SQLite gives the files it
// makes later beside it (-wal, -shm, -journal) the main file's mode, so this
// one call decides all of them. Returns 0 or an errno value.
int prepare_sqlite_file(const char* path);

// Writes `data` to a new file (kSecretFileMode) and fsyncs it; on failure no
// file is left. kStorageIo, also when `path` exists.
Status write_secret_file(const std::string& path, std::string_view data);

}  // namespace up::core
