#pragma once
// The SQLite schema as an ordered, append-only list of steps
// (meta/sql/migration.h).

#include <span>
#include <string_view>

#include "core/result.h"
#include "core/types.h"
#include "meta/sql/migration.h"

struct sqlite3;

namespace up::meta {

// Every step of upgate's SQLite schema, oldest first.
std::span<const Migration> sqlite_migrations();

// Creates schema_migrations(version, applied_at) if needed, then applies each
// step of `steps` whose version is not recorded yet, each in its own
// BEGIN IMMEDIATE transaction together with its schema_migrations row (so two
// processes opening one file at once apply it once). kMetaIo if the file
// records a version newer than the last of `steps` (written by a newer upgate).
// REQUIRES: db is open and not inside a transaction; `steps` ascending.
Status apply_migrations(sqlite3* db, std::span<const Migration> steps, UnixMs now);

}  // namespace up::meta
