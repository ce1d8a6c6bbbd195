#pragma once
// The shared MetaStore: PostgreSQL through libpq, for several upgate processes
// on one database. A pool of connections; each call or transaction borrows
// one. The schema is migrated on open (meta/postgres/pg_migrations.h).

#include <cstdint>
#include <string>

#include "meta/meta_store.h"

namespace up::meta {

// Connects to `url` (postgresql://user:pass@host:port/db, or any libpq
// connection string), migrates the schema and returns the store, which keeps
// at most `pool_size` connections open. kUnavailable if the database cannot be
// reached or refuses the login (libpq's reason in the message); kMetaIo if its
// schema is newer than this upgate knows.
Result<MetaStorePtr> open_postgres_meta_store(const std::string& url, uint32_t pool_size);

}  // namespace up::meta
