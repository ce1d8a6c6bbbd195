#pragma once
// The PostgreSQL schema as an ordered, append-only list of steps
// (meta/sql/migration.h), the same tables, constraints and indexes as
// meta/sqlite/migrations.cc in PostgreSQL DDL.

#include <span>
#include <string_view>

#include "core/result.h"
#include "core/types.h"
#include "meta/postgres/pg_conn.h"
#include "meta/sql/migration.h"

namespace up::meta {

using PgMigration = Migration;

// Every step of upgate's PostgreSQL schema, oldest first.
std::span<const Migration> postgres_migrations();

// Under a session advisory lock (so processes opening one database together
// migrate it once, the others waiting), creates schema_migrations if needed
// and applies each step not recorded yet, each in its own transaction with
// its schema_migrations row. kMetaIo if the database records a version newer
// than the last of `steps` (written by a newer upgate), before changing
// anything. Tables go into the first schema of the connection's search_path.
// REQUIRES: conn is outside a transaction; `steps` ascending.
Status apply_postgres_migrations(PgConn& conn, std::span<const Migration> steps, UnixMs now);

}  // namespace up::meta
