// What only the SQLite store has: a file that outlives the process and a
// schema that migrates.

#include "meta/sqlite/sqlite_meta_store.h"

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "meta/sqlite/migrations.h"
#include "support/temp_dir.h"

namespace up::meta {
namespace {

constexpr UnixMs kNow = 1'700'000'000'000;

// A raw connection, to look at (or fake) the file the way another upgate would.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  sqlite3* get() { return db_; }

  void exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }

  // The first column of every row, as text.
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      auto* p = sqlite3_column_text(st, 0);
      out.emplace_back(p ? reinterpret_cast<const char*>(p) : "");
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteMetaStoreTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/meta.db"; }

  MetaStorePtr open() {
    auto store = open_sqlite_meta_store(path());
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  std::string latest_version() const { return std::to_string(sqlite_migrations().back().version); }

  testing::TempDir dir_;
};

TEST_F(SqliteMetaStoreTest, DataSurvivesReopen) {
  {
    MetaStorePtr s = open();
    ASSERT_NE(s, nullptr);
    Tenant t;
    t.id = "t1";
    t.name = "one";
    ASSERT_TRUE(s->create_tenant(t));
    Object o;
    o.id = "01a";
    o.tenant_id = "t1";
    o.app_id = "a1";
    o.key = "k";
    o.size = 42;
    o.locator = "loc/01a";
    ASSERT_TRUE(s->transact([&](MetaTransaction& tx) -> Status {
      UP_TRY(tx.use_grant("g1", kNow));
      return tx.insert_object(o);
    }));
  }
  MetaStorePtr s = open();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->get_tenant("t1"));
  auto o = s->get_object_by_key("t1", "a1", "k");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->size, 42u);
  auto u = s->usage("t1", "a1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->bytes, 42u);
  EXPECT_EQ(u->objects, 1u);
  Result<bool> fresh = true;
  ASSERT_TRUE(s->transact([&](MetaTransaction& tx) -> Status {
    fresh = tx.use_grant("g1", kNow);
    return ok();
  }));
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(*fresh);  // the grant's use survived too
}

TEST_F(SqliteMetaStoreTest, OpensInWalModeWithForeignKeys) {
  MetaStorePtr s = open();
  ASSERT_NE(s, nullptr);
  RawDb raw(path());
  EXPECT_EQ(raw.column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});  // persistent
  // Foreign keys are per connection; the store's own shows in behaviour.
  App a;
  a.tenant_id = "nope";
  a.id = "a1";
  auto r = s->create_app(a);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kTenantNotFound);
}

TEST_F(SqliteMetaStoreTest, MigrationsAreAppliedOnce) {
  ASSERT_NE(open(), nullptr);
  ASSERT_NE(open(), nullptr);  // a second open must not re-run CREATE TABLE
  RawDb raw(path());
  std::vector<std::string> expected;
  for (const Migration& m : sqlite_migrations()) expected.push_back(std::to_string(m.version));
  EXPECT_EQ(raw.column("SELECT version FROM schema_migrations ORDER BY version"), expected);
  auto applied_at = raw.column("SELECT applied_at FROM schema_migrations");
  ASSERT_FALSE(applied_at.empty());
  EXPECT_GT(std::stoll(applied_at[0]), kNow);
}

TEST_F(SqliteMetaStoreTest, OpensAFileWrittenByAnOlderVersion) {
  {
    // What the first release left behind: only v1 recorded, with data in it.
    RawDb raw(path());
    ASSERT_TRUE(apply_migrations(raw.get(), sqlite_migrations().first(1), kNow));
    raw.exec("INSERT INTO tenants(id, name, created_at) VALUES('t1', 'old', 1)");
  }
  MetaStorePtr s = open();
  ASSERT_NE(s, nullptr);
  auto t = s->get_tenant("t1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name, "old");
  EXPECT_EQ(t->quota.max_bytes, std::nullopt);
  RawDb raw(path());
  EXPECT_EQ(raw.column("SELECT MAX(version) FROM schema_migrations"),
            std::vector<std::string>{latest_version()});
}

TEST_F(SqliteMetaStoreTest, AppliesOnlyStepsNotYetRecorded) {
  RawDb raw(path());
  std::vector<Migration> steps(sqlite_migrations().begin(), sqlite_migrations().end());
  ASSERT_TRUE(apply_migrations(raw.get(), steps, kNow));
  // A later release appends a step; re-running the old ones would fail on
  // CREATE TABLE, so success shows they were skipped.
  steps.push_back({steps.back().version + 1, "CREATE TABLE extra (x INTEGER);"});
  auto r = apply_migrations(raw.get(), steps, kNow + 1);
  ASSERT_TRUE(r) << r.error().message;
  r = apply_migrations(raw.get(), steps, kNow + 2);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(raw.column("SELECT COUNT(*) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(steps.size())});
  EXPECT_EQ(raw.column("SELECT applied_at FROM schema_migrations WHERE version = " +
                       std::to_string(steps.back().version)),
            std::vector<std::string>{std::to_string(kNow + 1)});
}

TEST_F(SqliteMetaStoreTest, FailedStepIsRolledBackAndNotRecorded) {
  RawDb raw(path());
  std::vector<Migration> steps(sqlite_migrations().begin(), sqlite_migrations().end());
  const int bad = steps.back().version + 1;
  steps.push_back({bad, "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;"});
  auto r = apply_migrations(raw.get(), steps, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kMetaIo);
  EXPECT_EQ(raw.column("SELECT MAX(version) FROM schema_migrations"),
            std::vector<std::string>{latest_version()});
  EXPECT_TRUE(raw.column("SELECT name FROM sqlite_master WHERE name = 'half'").empty());
}

TEST_F(SqliteMetaStoreTest, RefusesASchemaNewerThanItKnows) {
  {
    RawDb raw(path());
    ASSERT_TRUE(apply_migrations(raw.get(), sqlite_migrations(), kNow));
    raw.exec("INSERT INTO schema_migrations(version, applied_at) VALUES(9999, 1)");
  }
  auto s = open_sqlite_meta_store(path());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kMetaIo);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos) << s.error().message;
}

TEST_F(SqliteMetaStoreTest, RejectsAFileThatIsNotADatabase) {
  std::ofstream(path()) << std::string(4096, 'x');
  auto s = open_sqlite_meta_store(path());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kMetaIo);
}

TEST_F(SqliteMetaStoreTest, RejectsAnUnopenablePath) {
  auto s = open_sqlite_meta_store(dir_.path() + "/missing-dir/meta.db");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kMetaIo);
}

}  // namespace
}  // namespace up::meta
