#pragma once
// The embedded MetaStore: one SQLite file in WAL mode with synchronous=FULL,
// so a returned success is durable. The schema is migrated on open
// (meta/sqlite/migrations.h).

#include <string>

#include "meta/meta_store.h"

namespace up::meta {

// Opens (creating if needed) the database at `path` and migrates it.
// kMetaIo if the file cannot be opened, is not a database, or has a newer schema.
Result<MetaStorePtr> open_sqlite_meta_store(const std::string& path);

}  // namespace up::meta
