#pragma once
// The PostgreSQL schema as an ordered, append-only list of steps, the same
// tables, constraints and indexes as meta/sqlite/migrations.cc in PostgreSQL
// DDL. A step that has shipped never changes; a change is a new step.

#include <span>
#include <string_view>

#include "core/result.h"
#include "core/types.h"
#include "meta/postgres/pg_conn.h"

namespace up::meta {

struct PgMigration {
  int version;           // 1, 2, 3, ... in order, no gaps
  std::string_view sql;  // one or more statements
};

// Every step of upgate's PostgreSQL schema, oldest first.
std::span<const PgMigration> postgres_migrations();

// Under a session advisory lock (so processes opening one database together
// migrate it once, the others waiting), creates schema_migrations if needed
// and applies each step not recorded yet, each in its own transaction with
// its schema_migrations row. kMetaIo if the database records a version newer
// than the last of `steps` (written by a newer upgate), before changing
// anything. Tables go into the first schema of the connection's search_path.
// REQUIRES: conn is outside a transaction; `steps` ascending.
Status apply_postgres_migrations(PgConn& conn, std::span<const PgMigration> steps, UnixMs now);

}  // namespace up::meta
