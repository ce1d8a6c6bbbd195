#include "meta/sqlite/sqlite_db.h"

namespace up::meta {

// A database locked by another process past the busy timeout is worth a
// retry; a full disk is its own case.
Errc code_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL: return Errc::kDiskFull;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Errc::kUnavailable;
    default: return Errc::kMetaIo;
  }
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Stmt> SqliteDb::cached(const std::string& sql) {
  auto it = stmts_.find(sql);
  if (it == stmts_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return fail(error(rc, "prepare"));
    it = stmts_.emplace(sql, stmt).first;
  }
  return Stmt(it->second);
}

Error SqliteDb::error(int rc, std::string_view what) const {
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db_);
  return Error{code_of(rc), std::move(msg)};
}

Status SqliteDb::done(Stmt& st, std::string_view what) {
  if (int rc = st.step(); rc != SQLITE_DONE) return fail(error(rc, what));
  return ok();
}

Result<bool> SqliteDb::row(Stmt& st, std::string_view what) {
  int rc = st.step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return fail(error(rc, what));
}

Status SqliteDb::exec(const std::string& sql) {
  auto st = prepare(sql);
  if (!st) return fail(std::move(st.error()));
  return done(*st, sql);
}

void SqliteDb::rollback() {
  if (!sqlite3_get_autocommit(db_)) (void)exec("ROLLBACK");
}

}  // namespace up::meta
