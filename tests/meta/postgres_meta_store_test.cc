// What only the PostgreSQL store has: several connections (and processes)
// racing on one database, migrations taken by one opener at a time, and a
// database that goes away and comes back. Everything runs against the real
// server (pg_test_env.h).

#include "meta/postgres/postgres_meta_store.h"

#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/object_rules.h"
#include "meta/pg_test_env.h"
#include "meta/postgres/pg_migrations.h"
#include "meta/store_test_support.h"

namespace up::meta {
namespace {

using namespace up::meta::store_test;  // NOLINT(google-build-using-namespace)

class PostgresMetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto base = pg_url();
    ASSERT_TRUE(base) << base.error().message;
    auto schema = pg_create_schema();
    ASSERT_TRUE(schema) << schema.error().message;
    schema_ = *schema;
    url_ = pg_url_with_schema(*base, schema_);
  }
  void TearDown() override {
    if (!schema_.empty()) EXPECT_OK(pg_drop_schema(schema_));
  }

  MetaStorePtr open(uint32_t pool_size = 2) {
    auto store = open_postgres_meta_store(url_, pool_size);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  // Stand-ins for upgate processes: stores of their own, each with its own pool.
  std::vector<MetaStorePtr> open_processes(int n, uint32_t pool_size) {
    std::vector<MetaStorePtr> out;
    out.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) out.push_back(open(pool_size));
    return out;
  }
  std::vector<std::string> query(const std::string& sql) {
    auto r = pg_query(url_, sql);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<std::string>{};
  }

  std::string schema_;
  std::string url_;
};

TEST_F(PostgresMetaStoreTest, ObjectLimitIsExactAcrossConnections) {
  // 4 "processes" x 2 connections, 8 threads x 8 uploads, max_objects = 10.
  auto stores = open_processes(4, 2);
  for (auto& s : stores) ASSERT_NE(s, nullptr);
  core::InsertOptions opts;
  opts.app_max_objects = 10;
  std::atomic<int> stored{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      MetaStore& s = *stores[static_cast<size_t>(t) % stores.size()];
      for (int i = 0; i < 8; ++i) {
        Object o = object("01" + std::to_string(t) + "-" + std::to_string(i), "t1", "a1", "", 7);
        Status r = core::insert_object(s, o, opts);
        if (r) stored.fetch_add(1);
        if (!r && r.error().code == Errc::kObjectLimit) refused.fetch_add(1);
        if (!r && r.error().code != Errc::kObjectLimit) ADD_FAILURE() << r.error().message;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(stored.load(), 10);
  EXPECT_EQ(refused.load(), 54);
  auto u = stores[0]->usage("t1", "a1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->objects, 10u);
  EXPECT_EQ(u->bytes, 70u);
  EXPECT_EQ(query("SELECT COUNT(*) FROM objects"), std::vector<std::string>{"10"});
  EXPECT_EQ(query("SELECT objects || '/' || bytes FROM usage WHERE app_id = ''"),
            std::vector<std::string>{"10/70"});
}

TEST_F(PostgresMetaStoreTest, GrantIsUsedOnceAcrossConnections) {
  auto stores = open_processes(4, 5);  // 20 connections, one per thread
  core::InsertOptions opts;
  opts.grant_id = "g1";
  opts.grant_expires_at = kNow + 1000;
  std::atomic<int> won{0};
  std::atomic<int> used{0};
  std::vector<std::thread> threads;
  threads.reserve(20);
  for (int t = 0; t < 20; ++t) {
    threads.emplace_back([&, t] {
      MetaStore& s = *stores[static_cast<size_t>(t) % stores.size()];
      Status r = core::insert_object(s, object("01g" + std::to_string(t)), opts);
      if (r) won.fetch_add(1);
      if (!r && r.error().code == Errc::kGrantUsed) used.fetch_add(1);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(used.load(), 19);
  EXPECT_EQ(query("SELECT COUNT(*) FROM objects"), std::vector<std::string>{"1"});
}

TEST_F(PostgresMetaStoreTest, OpenersTogetherMigrateOnce) {
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (open_postgres_meta_store(url_, 1)) opened.fetch_add(1);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(opened.load(), 4);
  std::string every;  // "1,2,...": each step once
  for (const PgMigration& m : postgres_migrations())
    every += (every.empty() ? "" : ",") + std::to_string(m.version);
  EXPECT_EQ(query("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"),
            std::vector<std::string>{every});
  // And opening again changes nothing.
  ASSERT_NE(open(), nullptr);
  EXPECT_EQ(query("SELECT COUNT(*) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(postgres_migrations().size())});
}

TEST_F(PostgresMetaStoreTest, NewerSchemaIsRefused) {
  ASSERT_NE(open(), nullptr);
  query("INSERT INTO schema_migrations(version, applied_at) VALUES(99, 0)");
  auto store = open_postgres_meta_store(url_, 1);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::kMetaIo);
  EXPECT_NE(store.error().message.find("newer"), std::string::npos) << store.error().message;
}

TEST_F(PostgresMetaStoreTest, UnreachableOrRefusedDatabaseIsUnavailable) {
  auto store =
      open_postgres_meta_store("postgresql://app:app@127.0.0.1:1/app?connect_timeout=2", 1);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::kUnavailable);
  EXPECT_EQ(store.error().message.find('\n'), std::string::npos) << "one line for start-up";

  std::string wrong = *pg_url();
  wrong.replace(wrong.find(":app@"), 5, ":wrong@");
  store = open_postgres_meta_store(wrong, 1);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::kUnavailable);
  EXPECT_NE(store.error().message.find("password"), std::string::npos) << store.error().message;
}

TEST_F(PostgresMetaStoreTest, RecoversWhenTheServerDropsItsConnections) {
  // Its own application_name: the sessions dropped below are this store's
  // only, not those of tests running beside it on the same server.
  const std::string name = "upgate-" + schema_;
  auto opened = open_postgres_meta_store(url_ + "&application_name=" + name, 2);
  ASSERT_TRUE(opened) << opened.error().message;
  MetaStorePtr s = std::move(*opened);
  ASSERT_OK(s->create_tenant(tenant("t1")));
  // What a database restart does to the pool: every session is gone.
  // (pg_terminate_backend only signals; wait until the sessions are closed,
  // as they are by the time a restarted server accepts connections again.)
  const std::string mine = " FROM pg_stat_activity WHERE application_name = '" + name + "'";
  const auto dropped =
      query("SELECT pg_terminate_backend(pid)" + mine + " AND pid <> pg_backend_pid()");
  ASSERT_FALSE(dropped.empty()) << "the store's sessions were not found";
  for (int i = 0; i < 500 && query("SELECT COUNT(*)" + mine) != std::vector<std::string>{"0"}; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_OK(s->get_tenant("t1"));
  EXPECT_OK(s->transact([](MetaTransaction& tx) { return tx.insert_object(object("01a")); }));
  EXPECT_OK(s->get_object("t1", "01a"));
}

TEST_F(PostgresMetaStoreTest, DeadlockIsATransactionConflict) {
  MetaStorePtr s = open(2);
  ASSERT_NE(s, nullptr);
  // Two bodies lock the usage rows of two tenants in opposite orders; the
  // server aborts one (40P01) and the store reports the retryable conflict
  // with nothing of it committed.
  std::latch both_hold_one(2);
  auto body = [&](const char* first, const char* second, const char* id) {
    return [&, first, second, id](MetaTransaction& tx) -> Status {
      UP_TRY(tx.insert_object(object(std::string(id) + "x", first)));
      both_hold_one.arrive_and_wait();
      return tx.insert_object(object(std::string(id) + "y", second));
    };
  };
  Status a, b;
  std::thread ta([&] { a = s->transact(body("t1", "t2", "01a")); });
  std::thread tb([&] { b = s->transact(body("t2", "t1", "01b")); });
  ta.join();
  tb.join();
  ASSERT_NE(static_cast<bool>(a), static_cast<bool>(b)) << "exactly one is aborted";
  const Status& lost = a ? b : a;
  EXPECT_EQ(lost.error().code, Errc::kTransactionConflict) << lost.error().message;
  EXPECT_EQ(query("SELECT COUNT(*) FROM objects"), std::vector<std::string>{"2"});
  EXPECT_EQ(query("SELECT SUM(objects) FROM usage WHERE app_id = ''"),
            std::vector<std::string>{"2"});
}

}  // namespace
}  // namespace up::meta
