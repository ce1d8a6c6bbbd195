#pragma once
// What the store tests share: the backends every typed suite runs over, result
// assertions, and builders of rows. Used by the conformance suite
// (tests/meta) and by the tests of core's rules over both stores (tests/core).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "meta/memory/memory_meta_store.h"
#include "meta/meta_store.h"
#include "meta/pg_test_env.h"
#include "meta/postgres/postgres_meta_store.h"
#include "meta/sqlite/sqlite_meta_store.h"
#include "support/temp_dir.h"

namespace up::meta::store_test {

// open() gives a fresh, empty store; close() cleans up after the store is gone.
struct MemoryBackend {
  static MetaStorePtr open(const std::filesystem::path&) { return make_memory_meta_store(); }
  static void close() {}
};

struct SqliteBackend {
  static MetaStorePtr open(const std::filesystem::path& dir) {
    auto store = open_sqlite_meta_store((dir / "meta.db").string());
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  static void close() {}
};

// The real PostgreSQL (pg_test_env.h), a schema of its own per test: creating
// one and migrating it is far cheaper than a database per test.
struct PostgresBackend {
  static constexpr uint32_t kPoolSize = 8;
  static MetaStorePtr open(const std::filesystem::path&) {
    auto schema = pg_create_schema();
    EXPECT_TRUE(schema) << schema.error().message;
    if (!schema) return nullptr;
    schema_ = *schema;
    auto store = open_postgres_meta_store(pg_url_with_schema(*pg_url(), schema_), kPoolSize);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  static void close() {
    if (schema_.empty()) return;
    auto dropped = pg_drop_schema(schema_);
    EXPECT_TRUE(dropped) << dropped.error().message;
    schema_.clear();
  }
  static inline std::string schema_;  // the current test's
};

#define EXPECT_OK(expr)                                     \
  do {                                                      \
    auto r_ = (expr);                                       \
    EXPECT_TRUE(r_) << #expr << ": " << r_.error().message; \
  } while (0)
#define ASSERT_OK(expr)                                     \
  do {                                                      \
    auto r_ = (expr);                                       \
    ASSERT_TRUE(r_) << #expr << ": " << r_.error().message; \
  } while (0)
#define EXPECT_ERRC(expr, errc)                             \
  do {                                                      \
    auto r_ = (expr);                                       \
    ASSERT_FALSE(r_) << #expr << " succeeded";              \
    EXPECT_EQ(r_.error().code, errc) << r_.error().message; \
  } while (0)

constexpr UnixMs kNow = 1'700'000'000'000;

inline Tenant tenant(std::string id) {
  Tenant t;
  t.id = std::move(id);
  t.name = "Tenant " + t.id;
  t.created_at = kNow;
  return t;
}

inline App app(std::string tenant_id, std::string id) {
  App a;
  a.tenant_id = std::move(tenant_id);
  a.id = std::move(id);
  a.name = "App " + a.id;
  a.dialect = "native";
  a.created_at = kNow;
  return a;
}

inline ApiKey key(std::string id, std::string tenant_id) {
  ApiKey k;
  k.id = std::move(id);
  k.tenant_id = std::move(tenant_id);
  k.name = "key " + k.id;
  k.secret_sha256 = std::string(64, 'a');
  k.created_at = kNow;
  return k;
}

inline Object object(std::string id, std::string tenant_id = "t1", std::string app_id = "a1",
                     std::string key = "", uint64_t size = 10) {
  Object o;
  o.id = std::move(id);
  o.tenant_id = std::move(tenant_id);
  o.app_id = std::move(app_id);
  o.key = std::move(key);
  o.name = "file.bin";
  o.content_type = "application/octet-stream";
  o.size = size;
  o.sha256 = std::string(64, 'b');
  o.locator = "loc/" + o.id;
  o.created_at = kNow;
  return o;
}

inline std::vector<std::string> ids(const core::ObjectPage& page) {
  std::vector<std::string> out;
  for (const Object& o : page.objects) out.push_back(o.id);
  return out;
}

// A temporary upload awaiting binding.
inline Object temporary(std::string id, std::string tx = "",
                        std::optional<UnixMs> expires = kNow + 3'600'000,
                        std::string app_id = "a1") {
  Object o = object(std::move(id), "t1", std::move(app_id), "", 10);
  o.state = ObjectState::kTemporary;
  o.expires_at = expires;
  o.transaction_id = std::move(tx);
  return o;
}

inline Record record(std::string id, std::vector<std::string> files = {}, std::string form = "f1") {
  Record r;
  r.tenant_id = "t1";
  r.app_id = "a1";
  r.form_id = std::move(form);
  r.id = std::move(id);
  r.data_json = R"({"title":"x"})";
  r.file_ids = std::move(files);
  r.created_at = r.updated_at = kNow;
  return r;
}

using Backends = ::testing::Types<MemoryBackend, SqliteBackend, PostgresBackend>;

// A fresh store of `Backend` for each test.
template <class Backend>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Backend::open(dir_.path());
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    Backend::close();
  }

  MetaStore& store() { return *store_; }

  up::testing::TempDir dir_;
  MetaStorePtr store_;
};

class BackendNames {
 public:
  template <class T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MemoryBackend>) return "Memory";
    return std::is_same_v<T, SqliteBackend> ? "Sqlite" : "Postgres";
  }
};

}  // namespace up::meta::store_test
