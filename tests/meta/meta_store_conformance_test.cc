// One behavioural contract (meta/meta_store.h) checked against every backend.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "meta/memory/memory_meta_store.h"
#include "meta/meta_store.h"
#include "meta/sqlite/sqlite_meta_store.h"
#include "support/temp_dir.h"

namespace up::meta {
namespace {

struct MemoryBackend {
  static MetaStorePtr open(const std::filesystem::path&) { return make_memory_meta_store(); }
};

struct SqliteBackend {
  static MetaStorePtr open(const std::filesystem::path& dir) {
    auto store = open_sqlite_meta_store((dir / "meta.db").string());
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
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

Tenant tenant(std::string id) {
  Tenant t;
  t.id = std::move(id);
  t.name = "Tenant " + t.id;
  t.created_at = kNow;
  return t;
}

App app(std::string tenant_id, std::string id) {
  App a;
  a.tenant_id = std::move(tenant_id);
  a.id = std::move(id);
  a.name = "App " + a.id;
  a.dialect = "native";
  a.created_at = kNow;
  return a;
}

ApiKey key(std::string id, std::string tenant_id) {
  ApiKey k;
  k.id = std::move(id);
  k.tenant_id = std::move(tenant_id);
  k.name = "key " + k.id;
  k.secret_sha256 = std::string(64, 'a');
  k.created_at = kNow;
  return k;
}

Object object(std::string id, std::string tenant_id = "t1", std::string app_id = "a1",
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

std::vector<std::string> ids(const ObjectPage& page) {
  std::vector<std::string> out;
  for (const Object& o : page.objects) out.push_back(o.id);
  return out;
}

template <class Backend>
class MetaStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Backend::open(dir_.path());
    ASSERT_NE(store_, nullptr);
  }

  MetaStore& store() { return *store_; }

  Status insert(const Object& o, const InsertOptions& opts = {}) {
    return store_->insert_object(o, opts);
  }

  testing::TempDir dir_;
  MetaStorePtr store_;
};

using Backends = ::testing::Types<MemoryBackend, SqliteBackend>;

class BackendNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryBackend> ? "Memory" : "Sqlite";
  }
};
TYPED_TEST_SUITE(MetaStoreConformance, Backends, BackendNames);

TYPED_TEST(MetaStoreConformance, TenantCrud) {
  MetaStore& s = this->store();
  Tenant t = tenant("t2");
  t.quota.max_bytes = 1'000;
  t.quota.max_object_bytes = UINT64_MAX;  // survives the int64 column
  t.cors_origins = {"https://a.example", "*"};
  t.settings_json = R"({"x":1})";
  ASSERT_OK(s.create_tenant(t));
  ASSERT_OK(s.create_tenant(tenant("t1")));
  EXPECT_ERRC(s.create_tenant(tenant("t1")), Errc::kAlreadyExists);

  auto got = s.get_tenant("t2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, t.name);
  EXPECT_EQ(got->quota.max_bytes, 1'000u);
  EXPECT_EQ(got->quota.max_objects, std::nullopt);
  EXPECT_EQ(got->quota.max_object_bytes, UINT64_MAX);
  EXPECT_EQ(got->cors_origins, t.cors_origins);
  EXPECT_EQ(got->settings_json, t.settings_json);
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_ERRC(s.get_tenant("nope"), Errc::kTenantNotFound);

  auto all = s.list_tenants();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "t1");
  EXPECT_EQ((*all)[1].id, "t2");

  t.name = "renamed";
  t.quota.max_bytes.reset();
  t.quota.max_objects = 5;
  t.cors_origins.clear();
  ASSERT_OK(s.update_tenant(t));
  got = s.get_tenant("t2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "renamed");
  EXPECT_EQ(got->quota.max_bytes, std::nullopt);
  EXPECT_EQ(got->quota.max_objects, 5u);
  EXPECT_TRUE(got->cors_origins.empty());
  EXPECT_ERRC(s.update_tenant(tenant("nope")), Errc::kTenantNotFound);
}

TYPED_TEST(MetaStoreConformance, AppCrud) {
  MetaStore& s = this->store();
  EXPECT_ERRC(s.create_app(app("t1", "a1")), Errc::kTenantNotFound);
  ASSERT_OK(s.create_tenant(tenant("t1")));
  ASSERT_OK(s.create_tenant(tenant("t2")));
  App a = app("t1", "a2");
  a.quota.max_objects = 7;
  a.settings_json = R"({"ttl":3})";
  ASSERT_OK(s.create_app(a));
  ASSERT_OK(s.create_app(app("t1", "a1")));
  ASSERT_OK(s.create_app(app("t2", "a1")));  // app ids are per tenant
  EXPECT_ERRC(s.create_app(app("t1", "a1")), Errc::kAlreadyExists);

  auto got = s.get_app("t1", "a2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->dialect, "native");
  EXPECT_EQ(got->quota.max_objects, 7u);
  EXPECT_EQ(got->settings_json, a.settings_json);
  EXPECT_ERRC(s.get_app("t2", "a2"), Errc::kAppNotFound);

  auto list = s.list_apps("t1");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "a1");
  EXPECT_EQ((*list)[1].id, "a2");
  list = s.list_apps("t3");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());

  a.name = "renamed";
  a.dialect = "jpush";
  a.quota.max_objects.reset();
  ASSERT_OK(s.update_app(a));
  got = s.get_app("t1", "a2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "renamed");
  EXPECT_EQ(got->dialect, "jpush");
  EXPECT_EQ(got->quota.max_objects, std::nullopt);
  EXPECT_ERRC(s.update_app(app("t2", "a2")), Errc::kAppNotFound);
}

TYPED_TEST(MetaStoreConformance, KeyCrud) {
  MetaStore& s = this->store();
  EXPECT_ERRC(s.create_key(key("k1", "t1"), 10), Errc::kTenantNotFound);
  ASSERT_OK(s.create_tenant(tenant("t1")));
  ASSERT_OK(s.create_tenant(tenant("t2")));
  ApiKey admin = key("k2", "t1");
  admin.role = KeyRole::kAdmin;
  admin.app_id = "a1";
  ASSERT_OK(s.create_key(admin, 10));
  ASSERT_OK(s.create_key(key("k1", "t1"), 10));
  ASSERT_OK(s.create_key(key("k3", "t2"), 10));
  EXPECT_ERRC(s.create_key(key("k1", "t2"), 10), Errc::kAlreadyExists);

  auto got = s.get_key("k2");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->tenant_id, "t1");
  EXPECT_EQ(got->role, KeyRole::kAdmin);
  EXPECT_EQ(got->app_id, "a1");
  EXPECT_EQ(got->secret_sha256, admin.secret_sha256);
  EXPECT_TRUE(got->enabled);
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_ERRC(s.get_key("nope"), Errc::kKeyNotFound);

  auto list = s.list_keys("t1");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "k1");
  EXPECT_EQ((*list)[0].role, KeyRole::kMember);
  EXPECT_EQ((*list)[1].id, "k2");

  ASSERT_OK(s.set_key_enabled("k1", false));
  got = s.get_key("k1");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->enabled);
  ASSERT_OK(s.set_key_enabled("k1", false));  // unchanged value is still found
  EXPECT_ERRC(s.set_key_enabled("nope", true), Errc::kKeyNotFound);

  ASSERT_OK(s.delete_key("k1"));
  EXPECT_ERRC(s.get_key("k1"), Errc::kKeyNotFound);
  EXPECT_ERRC(s.delete_key("k1"), Errc::kKeyNotFound);
}

TYPED_TEST(MetaStoreConformance, KeyLimitIsPerTenant) {
  MetaStore& s = this->store();
  ASSERT_OK(s.create_tenant(tenant("t1")));
  ASSERT_OK(s.create_tenant(tenant("t2")));
  ASSERT_OK(s.create_key(key("k1", "t1"), 2));
  ASSERT_OK(s.create_key(key("k2", "t1"), 2));
  EXPECT_ERRC(s.create_key(key("k3", "t1"), 2), Errc::kKeyLimit);
  EXPECT_ERRC(s.get_key("k3"), Errc::kKeyNotFound);
  ASSERT_OK(s.create_key(key("k4", "t2"), 2));
  ASSERT_OK(s.delete_key("k1"));
  ASSERT_OK(s.create_key(key("k3", "t1"), 2));
}

TYPED_TEST(MetaStoreConformance, InsertAndGetObject) {
  MetaStore& s = this->store();
  Object o = object("01aaa", "t1", "a1", "photos/cat.jpg", 1234);
  o.name = "猫.jpg";
  o.md5 = std::string(32, 'c');
  o.qetag = "FqetagX";
  o.state = ObjectState::kTemporary;
  o.expires_at = kNow + 3'600'000;
  o.transaction_id = "tx1";
  o.owner = "user7";
  o.meta_json = R"({"x:a":"b"})";
  ASSERT_OK(this->insert(o));

  auto got = s.get_object("t1", "01aaa");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, o.id);
  EXPECT_EQ(got->tenant_id, "t1");
  EXPECT_EQ(got->app_id, "a1");
  EXPECT_EQ(got->key, o.key);
  EXPECT_EQ(got->name, o.name);
  EXPECT_EQ(got->content_type, o.content_type);
  EXPECT_EQ(got->size, 1234u);
  EXPECT_EQ(got->sha256, o.sha256);
  EXPECT_EQ(got->md5, o.md5);
  EXPECT_EQ(got->qetag, o.qetag);
  EXPECT_EQ(got->locator, o.locator);
  EXPECT_EQ(got->state, ObjectState::kTemporary);
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(got->expires_at, o.expires_at);
  EXPECT_EQ(got->transaction_id, "tx1");
  EXPECT_EQ(got->owner, "user7");
  EXPECT_EQ(got->meta_json, o.meta_json);

  auto by_key = s.get_object_by_key("t1", "a1", "photos/cat.jpg");
  ASSERT_TRUE(by_key);
  EXPECT_EQ(by_key->id, "01aaa");

  // Other tenants, other apps and unknown ids all look the same.
  EXPECT_ERRC(s.get_object("t2", "01aaa"), Errc::kObjectNotFound);
  EXPECT_ERRC(s.get_object("t1", "01zzz"), Errc::kObjectNotFound);
  EXPECT_ERRC(s.get_object_by_key("t2", "a1", "photos/cat.jpg"), Errc::kObjectNotFound);
  EXPECT_ERRC(s.get_object_by_key("t1", "a2", "photos/cat.jpg"), Errc::kObjectNotFound);

  ASSERT_OK(this->insert(object("01aab")));  // no key, no expiry
  got = s.get_object("t1", "01aab");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->expires_at, std::nullopt);
  EXPECT_EQ(got->state, ObjectState::kStored);
  EXPECT_ERRC(s.get_object_by_key("t1", "a1", ""), Errc::kObjectNotFound);

  EXPECT_ERRC(this->insert(object("01aab")), Errc::kAlreadyExists);
}

TYPED_TEST(MetaStoreConformance, KeyIsUniqueAmongLiveObjects) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "k")));
  EXPECT_ERRC(this->insert(object("01b", "t1", "a1", "k")), Errc::kObjectKeyExists);
  EXPECT_ERRC(s.get_object("t1", "01b"), Errc::kObjectNotFound);
  ASSERT_OK(this->insert(object("01c", "t1", "a2", "k")));  // another app
  ASSERT_OK(this->insert(object("01d", "t2", "a1", "k")));  // another tenant
  ASSERT_OK(this->insert(object("01e", "t1", "a1", "")));   // empty keys never clash
  ASSERT_OK(this->insert(object("01f", "t1", "a1", "")));

  // A deleted object's key may be reused; the new object is what the key finds.
  auto deleted = s.mark_deleted("t1", "01a");
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(*deleted);
  ASSERT_OK(this->insert(object("01g", "t1", "a1", "k")));
  auto by_key = s.get_object_by_key("t1", "a1", "k");
  ASSERT_TRUE(by_key);
  EXPECT_EQ(by_key->id, "01g");

  // So may the key of an expired one.
  Object ttl = object("01h", "t1", "a1", "ttl");
  ttl.expires_at = kNow;
  ASSERT_OK(this->insert(ttl));
  EXPECT_ERRC(this->insert(object("01i", "t1", "a1", "ttl")), Errc::kObjectKeyExists);
  auto expired = s.expire_objects(kNow, 100);
  ASSERT_TRUE(expired);
  EXPECT_EQ(*expired, 1u);
  ASSERT_OK(this->insert(object("01i", "t1", "a1", "ttl")));
}

TYPED_TEST(MetaStoreConformance, GrantIsSingleUse) {
  MetaStore& s = this->store();
  InsertOptions opts;
  opts.grant_id = "g1";
  opts.grant_expires_at = kNow + 1000;
  ASSERT_OK(this->insert(object("01a"), opts));
  EXPECT_ERRC(this->insert(object("01b"), opts), Errc::kGrantUsed);
  EXPECT_ERRC(s.get_object("t1", "01b"), Errc::kObjectNotFound);

  // A failed insert does not consume its grant (all or nothing).
  ASSERT_OK(this->insert(object("01c", "t1", "a1", "k")));
  opts.grant_id = "g2";
  EXPECT_ERRC(this->insert(object("01d", "t1", "a1", "k"), opts), Errc::kObjectKeyExists);
  opts.app_max_objects = 0;
  EXPECT_ERRC(this->insert(object("01d"), opts), Errc::kObjectLimit);
  opts.app_max_objects.reset();
  ASSERT_OK(this->insert(object("01d"), opts));
  EXPECT_ERRC(this->insert(object("01e"), opts), Errc::kGrantUsed);
}

TYPED_TEST(MetaStoreConformance, InsertRefusesUploadOfDisabledOrDeletedKey) {
  MetaStore& s = this->store();
  ASSERT_OK(s.create_tenant(tenant("t1")));
  ASSERT_OK(s.create_key(key("k1", "t1"), 10));
  InsertOptions opts;
  opts.key_id = "k1";
  ASSERT_OK(this->insert(object("01a"), opts));
  ASSERT_OK(s.set_key_enabled("k1", false));
  EXPECT_ERRC(this->insert(object("01b"), opts), Errc::kKeyDisabled);
  EXPECT_ERRC(s.get_object("t1", "01b"), Errc::kObjectNotFound);
  ASSERT_OK(s.set_key_enabled("k1", true));
  ASSERT_OK(this->insert(object("01c"), opts));
  ASSERT_OK(s.delete_key("k1"));
  EXPECT_ERRC(this->insert(object("01d"), opts), Errc::kKeyDisabled);
  EXPECT_ERRC(s.get_object("t1", "01d"), Errc::kObjectNotFound);
}

TYPED_TEST(MetaStoreConformance, InsertObjectsGivesEachItsOwnResult) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "taken")));
  const Object fresh = object("01b", "t1", "a1", "k1");
  const Object clash = object("01c", "t1", "a1", "taken");
  const Object also_fresh = object("01d", "t1", "a1", "k2");
  InsertOptions grant;
  grant.grant_id = "batch-grant";
  grant.grant_expires_at = kNow + 1000;
  const InsertOptions none;
  std::vector<ObjectInsert> batch = {{&fresh, &grant}, {&clash, &none}, {&also_fresh, &grant}};
  s.insert_objects(batch);
  ASSERT_OK(batch[0].result);
  EXPECT_ERRC(batch[1].result, Errc::kObjectKeyExists);
  EXPECT_ERRC(batch[2].result, Errc::kGrantUsed);  // the first insert of the batch used it
  ASSERT_OK(s.get_object("t1", "01b"));
  EXPECT_ERRC(s.get_object("t1", "01c"), Errc::kObjectNotFound);
  EXPECT_ERRC(s.get_object("t1", "01d"), Errc::kObjectNotFound);
  s.insert_objects({});  // an empty batch is fine
}

TYPED_TEST(MetaStoreConformance, AppQuotaLimitsBytesAndObjects) {
  MetaStore& s = this->store();
  InsertOptions opts;
  opts.app_max_bytes = 100;
  opts.app_max_objects = 3;
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "", 60), opts));
  EXPECT_ERRC(this->insert(object("01b", "t1", "a1", "", 41), opts), Errc::kQuotaExceeded);
  ASSERT_OK(this->insert(object("01b", "t1", "a1", "", 40), opts));  // exactly at the limit
  ASSERT_OK(this->insert(object("01c", "t1", "a2", "", 90), opts));  // another app's usage
  ASSERT_OK(this->insert(object("01d", "t1", "a1", "", 0), opts));
  EXPECT_ERRC(this->insert(object("01e", "t1", "a1", "", 0), opts), Errc::kObjectLimit);

  auto u = s.usage("t1", "a1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->bytes, 100u);
  EXPECT_EQ(u->objects, 3u);

  // Deleting frees the room at once.
  ASSERT_TRUE(s.mark_deleted("t1", "01a"));
  ASSERT_OK(this->insert(object("01e", "t1", "a1", "", 60), opts));
}

TYPED_TEST(MetaStoreConformance, TenantQuotaCountsEveryApp) {
  MetaStore& s = this->store();
  InsertOptions opts;
  opts.tenant_max_bytes = 100;
  opts.tenant_max_objects = 3;
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "", 50), opts));
  ASSERT_OK(this->insert(object("01b", "t1", "a2", "", 50), opts));
  EXPECT_ERRC(this->insert(object("01c", "t1", "a3", "", 1), opts), Errc::kQuotaExceeded);
  ASSERT_OK(this->insert(object("01c", "t1", "a3", "", 0), opts));
  EXPECT_ERRC(this->insert(object("01d", "t1", "a1", "", 0), opts), Errc::kObjectLimit);
  ASSERT_OK(this->insert(object("01d", "t2", "a1", "", 100), opts));  // another tenant

  auto total = s.usage("t1", "");
  ASSERT_TRUE(total);
  EXPECT_EQ(total->bytes, 100u);
  EXPECT_EQ(total->objects, 3u);
  auto a2 = s.usage("t1", "a2");
  ASSERT_TRUE(a2);
  EXPECT_EQ(a2->bytes, 50u);
  EXPECT_EQ(a2->objects, 1u);
  auto none = s.usage("t9", "a1");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->bytes, 0u);
  EXPECT_EQ(none->objects, 0u);
}

TYPED_TEST(MetaStoreConformance, ListObjectsPaginatesInIdOrder) {
  MetaStore& s = this->store();
  // Inserted out of order; listed by id.
  for (const char* id : {"01c", "01a", "01e", "01b", "01d"}) ASSERT_OK(this->insert(object(id)));
  ASSERT_OK(this->insert(object("01bb", "t2")));  // another tenant, sorts in between

  ObjectQuery q;
  q.tenant_id = "t1";
  q.limit = 2;
  auto page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01a", "01b"}));
  EXPECT_TRUE(page->more);

  q.after_id = page->objects.back().id;
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01c", "01d"}));
  EXPECT_TRUE(page->more);

  q.after_id = "01d";
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01e"}));
  EXPECT_FALSE(page->more);

  // A last page that is exactly full has no `more`.
  q.after_id = "01c";
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01d", "01e"}));
  EXPECT_FALSE(page->more);

  q.after_id = "01e";
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->objects.empty());
  EXPECT_FALSE(page->more);

  q.tenant_id = "t3";
  q.after_id.clear();
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->objects.empty());
}

TYPED_TEST(MetaStoreConformance, ListObjectsFilters) {
  MetaStore& s = this->store();
  Object temp = object("01a", "t1", "a1");
  temp.state = ObjectState::kTemporary;
  temp.expires_at = kNow + 100;
  ASSERT_OK(this->insert(temp));
  ASSERT_OK(this->insert(object("01b", "t1", "a2")));
  Object ttl = object("01c", "t1", "a1");
  ttl.expires_at = kNow + 200;
  ASSERT_OK(this->insert(ttl));
  ASSERT_OK(this->insert(object("01d", "t1", "a1")));
  ASSERT_TRUE(s.mark_deleted("t1", "01d"));

  ObjectQuery q;
  q.tenant_id = "t1";
  auto page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01a", "01b", "01c"}));  // not deleted

  q.app_id = "a1";
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01a", "01c"}));

  q.state = ObjectState::kTemporary;
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01a"}));

  q.state = ObjectState::kDeleted;
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01d"}));

  q.state.reset();
  q.app_id.clear();
  q.live_at = kNow + 100;  // expires_at <= live_at is hidden
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01b", "01c"}));
  q.live_at = kNow + 99;
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01a", "01b", "01c"}));
  q.live_at = kNow + 1000;
  page = s.list_objects(q);
  ASSERT_TRUE(page);
  EXPECT_EQ(ids(*page), (std::vector<std::string>{"01b"}));
}

TYPED_TEST(MetaStoreConformance, UpdateObjectState) {
  MetaStore& s = this->store();
  Object temp = object("01a", "t1", "a1", "", 30);
  temp.state = ObjectState::kTemporary;
  temp.expires_at = kNow + 100;
  ASSERT_OK(this->insert(temp));

  ASSERT_OK(s.update_object_state("t1", "01a", ObjectState::kAttached, std::nullopt));
  auto got = s.get_object("t1", "01a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, ObjectState::kAttached);
  EXPECT_EQ(got->expires_at, std::nullopt);

  ASSERT_OK(s.update_object_state("t1", "01a", ObjectState::kStored, kNow + 500));
  got = s.get_object("t1", "01a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, ObjectState::kStored);
  EXPECT_EQ(got->expires_at, kNow + 500);

  EXPECT_ERRC(s.update_object_state("t2", "01a", ObjectState::kAttached, std::nullopt),
              Errc::kObjectNotFound);
  EXPECT_ERRC(s.update_object_state("t1", "01z", ObjectState::kAttached, std::nullopt),
              Errc::kObjectNotFound);

  // Moving to kDeleted is a delete: gone from reads and from usage.
  ASSERT_OK(s.update_object_state("t1", "01a", ObjectState::kDeleted, std::nullopt));
  EXPECT_ERRC(s.get_object("t1", "01a"), Errc::kObjectNotFound);
  auto u = s.usage("t1", "a1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->bytes, 0u);
  EXPECT_EQ(u->objects, 0u);
  EXPECT_ERRC(s.update_object_state("t1", "01a", ObjectState::kStored, std::nullopt),
              Errc::kObjectNotFound);
}

TYPED_TEST(MetaStoreConformance, MarkDeletedRemovesFromReadsAndUsage) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "k", 70)));
  ASSERT_OK(this->insert(object("01b", "t1", "a1", "", 30)));

  auto other = s.mark_deleted("t2", "01a");
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);
  auto r = s.mark_deleted("t1", "01a");
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  r = s.mark_deleted("t1", "01a");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  r = s.mark_deleted("t1", "01zz");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);

  EXPECT_ERRC(s.get_object("t1", "01a"), Errc::kObjectNotFound);
  EXPECT_ERRC(s.get_object_by_key("t1", "a1", "k"), Errc::kObjectNotFound);
  for (std::string_view app : {"a1", ""}) {
    auto u = s.usage("t1", app);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->bytes, 30u);
    EXPECT_EQ(u->objects, 1u);
  }
}

TYPED_TEST(MetaStoreConformance, ExpireObjectsHonoursDeadlineAndLimit) {
  MetaStore& s = this->store();
  Object a = object("01a", "t1", "a1", "", 1);
  a.expires_at = kNow - 10;
  Object b = object("01b", "t1", "a2", "", 2);
  b.expires_at = kNow;
  b.state = ObjectState::kTemporary;
  Object c = object("01c", "t2", "a1", "", 4);
  c.expires_at = kNow + 1;
  ASSERT_OK(this->insert(a));
  ASSERT_OK(this->insert(b));
  ASSERT_OK(this->insert(c));
  ASSERT_OK(this->insert(object("01d", "t1", "a1", "", 8)));  // no expiry

  auto n = s.expire_objects(kNow, 1);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  n = s.expire_objects(kNow, 10);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  n = s.expire_objects(kNow, 10);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);

  EXPECT_ERRC(s.get_object("t1", "01a"), Errc::kObjectNotFound);
  EXPECT_ERRC(s.get_object("t1", "01b"), Errc::kObjectNotFound);
  EXPECT_TRUE(s.get_object("t2", "01c"));
  EXPECT_TRUE(s.get_object("t1", "01d"));
  auto u = s.usage("t1", "");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->bytes, 8u);
  EXPECT_EQ(u->objects, 1u);

  auto deleted = s.deleted_objects(10);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->size(), 2u);
}

TYPED_TEST(MetaStoreConformance, DeletedObjectsThenPurge) {
  MetaStore& s = this->store();
  for (const char* id : {"01a", "01b", "01c"}) ASSERT_OK(this->insert(object(id, "t1")));
  ASSERT_TRUE(s.mark_deleted("t1", "01a"));
  ASSERT_TRUE(s.mark_deleted("t1", "01c"));

  auto deleted = s.deleted_objects(1);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->size(), 1u);
  deleted = s.deleted_objects(10);
  ASSERT_TRUE(deleted);
  ASSERT_EQ(deleted->size(), 2u);
  for (const Object& o : *deleted) {
    EXPECT_TRUE(o.id == "01a" || o.id == "01c") << o.id;
    EXPECT_EQ(o.tenant_id, "t1");
    EXPECT_EQ(o.locator, "loc/" + o.id);
    EXPECT_EQ(o.state, ObjectState::kDeleted);
  }

  // The locator stays referenced until the row is purged.
  auto exists = s.locator_exists("loc/01a");
  ASSERT_TRUE(exists);
  EXPECT_TRUE(*exists);
  ASSERT_OK(s.purge_object("01a"));
  exists = s.locator_exists("loc/01a");
  ASSERT_TRUE(exists);
  EXPECT_FALSE(*exists);
  ASSERT_OK(s.purge_object("01a"));  // a retried sweep is harmless

  // A live row is never purged.
  EXPECT_ERRC(s.purge_object("01b"), Errc::kFailedPrecondition);
  EXPECT_TRUE(s.get_object("t1", "01b"));

  deleted = s.deleted_objects(10);
  ASSERT_TRUE(deleted);
  ASSERT_EQ(deleted->size(), 1u);
  EXPECT_EQ((*deleted)[0].id, "01c");
}

TYPED_TEST(MetaStoreConformance, LocatorExists) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a")));
  auto r = s.locator_exists("loc/01a");
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  r = s.locator_exists("loc/01b");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
}

TYPED_TEST(MetaStoreConformance, TransactionsPutExtendGetExpire) {
  MetaStore& s = this->store();
  Transaction t{"t1", "a1", "tx1", kNow, kNow + 1000};
  ASSERT_OK(s.put_transaction(t));
  ASSERT_OK(s.put_transaction(Transaction{"t1", "a2", "tx1", kNow, kNow + 10}));

  auto got = s.get_transaction("t1", "a1", "tx1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(got->expires_at, kNow + 1000);
  EXPECT_ERRC(s.get_transaction("t2", "a1", "tx1"), Errc::kTransactionNotFound);
  EXPECT_ERRC(s.get_transaction("t1", "a1", "tx2"), Errc::kTransactionNotFound);

  // Extends, never shortens, and keeps the creation time.
  ASSERT_OK(s.put_transaction(Transaction{"t1", "a1", "tx1", kNow + 5, kNow + 500}));
  got = s.get_transaction("t1", "a1", "tx1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->expires_at, kNow + 1000);
  ASSERT_OK(s.put_transaction(Transaction{"t1", "a1", "tx1", kNow + 5, kNow + 2000}));
  got = s.get_transaction("t1", "a1", "tx1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(got->expires_at, kNow + 2000);

  auto n = s.expire_transactions(kNow + 10);  // expires_at <= now goes
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_ERRC(s.get_transaction("t1", "a2", "tx1"), Errc::kTransactionNotFound);
  EXPECT_TRUE(s.get_transaction("t1", "a1", "tx1"));
  n = s.expire_transactions(kNow + 2000);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_ERRC(s.get_transaction("t1", "a1", "tx1"), Errc::kTransactionNotFound);
}

TYPED_TEST(MetaStoreConformance, ExpireUsedGrantsDropsOnlyPastDeadlines) {
  MetaStore& s = this->store();
  InsertOptions g1;
  g1.grant_id = "g1";
  g1.grant_expires_at = kNow + 100;
  InsertOptions g2;
  g2.grant_id = "g2";
  g2.grant_expires_at = kNow + 200;
  ASSERT_OK(this->insert(object("01a"), g1));
  ASSERT_OK(this->insert(object("01b"), g2));

  auto n = s.expire_used_grants(kNow + 100);  // not *before* now yet
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  n = s.expire_used_grants(kNow + 101);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  ASSERT_OK(this->insert(object("01c"), g1));  // its record is gone
  EXPECT_ERRC(this->insert(object("01d"), g2), Errc::kGrantUsed);
}

// ---- records ---------------------------------------------------------------

Object temporary(std::string id, std::string tx = "",
                 std::optional<UnixMs> expires = kNow + 3'600'000, std::string app_id = "a1") {
  Object o = object(std::move(id), "t1", std::move(app_id), "", 10);
  o.state = ObjectState::kTemporary;
  o.expires_at = expires;
  o.transaction_id = std::move(tx);
  return o;
}

Record record(std::string id, std::vector<std::string> files = {}, std::string form = "f1") {
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

TYPED_TEST(MetaStoreConformance, RecordsInsertBindGetList) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(temporary("o1", "tx1")));
  ASSERT_OK(this->insert(temporary("o2", "tx1")));
  auto ins = s.insert_records({record("r1", {"o1", "o2"}), record("")}, BindOptions{"tx1", kNow});
  ASSERT_TRUE(ins) << ins.error().message;
  ASSERT_EQ(ins->size(), 2u);
  EXPECT_EQ((*ins)[0].seq, 1u);
  EXPECT_EQ((*ins)[0].revision, 1u);
  EXPECT_EQ((*ins)[1].seq, 2u);
  EXPECT_EQ((*ins)[1].id, "2");  // no id given: the seq

  auto o1 = s.get_object("t1", "o1");
  ASSERT_TRUE(o1);
  EXPECT_EQ(o1->state, ObjectState::kAttached);
  EXPECT_FALSE(o1->expires_at.has_value());

  auto got = s.get_record("t1", "a1", "f1", "r1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data_json, R"({"title":"x"})");
  EXPECT_EQ(got->file_ids, (std::vector<std::string>{"o1", "o2"}));
  EXPECT_ERRC(s.get_record("t1", "a1", "f2", "r1"), Errc::kRecordNotFound);
  EXPECT_ERRC(s.get_record("t2", "a1", "f1", "r1"), Errc::kRecordNotFound);

  RecordQuery q{"t1", "a1", "f1"};
  q.with_total = true;
  q.limit = 1;
  auto page = s.list_records(q);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].id, "r1");
  EXPECT_EQ(page->records[0].file_ids.size(), 2u);
  EXPECT_EQ(page->total, 2u);
  q.after_seq = 1;
  page = s.list_records(q);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].id, "2");
  EXPECT_EQ(page->total, 1u);
  q = RecordQuery{"t1", "a1", "f1"};
  q.descending = true;
  q.offset = 1;
  page = s.list_records(q);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0].id, "r1");
  EXPECT_FALSE(page->total.has_value());
}

TYPED_TEST(MetaStoreConformance, RecordsBindingRules) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(temporary("tx_a", "tx1")));
  ASSERT_OK(this->insert(temporary("expired", "", kNow - 1)));
  ASSERT_OK(this->insert(temporary("other_app", "", kNow + 1000, "a2")));
  ASSERT_OK(this->insert(object("stored")));  // kStored: not awaiting binding
  ASSERT_OK(this->insert(temporary("free")));
  const BindOptions bind{"tx2", kNow};
  EXPECT_ERRC(s.insert_records({record("r", {"tx_a"})}, bind), Errc::kTransactionMismatch);
  EXPECT_ERRC(s.insert_records({record("r", {"expired"})}, bind), Errc::kObjectNotFound);
  EXPECT_ERRC(s.insert_records({record("r", {"other_app"})}, bind), Errc::kObjectNotFound);
  EXPECT_ERRC(s.insert_records({record("r", {"nope"})}, bind), Errc::kObjectNotFound);
  EXPECT_ERRC(s.insert_records({record("r", {"stored"})}, bind), Errc::kObjectNotTemporary);
  EXPECT_ERRC(s.insert_records({record("r", {"free", "free"})}, bind), Errc::kInvalidArgument);
  // All or nothing: the second record fails, so the first is not kept and
  // "free" stays temporary.
  EXPECT_ERRC(s.insert_records({record("r1", {"free"}), record("r2", {"free"})}, bind),
              Errc::kObjectNotTemporary);
  EXPECT_ERRC(s.get_record("t1", "a1", "f1", "r1"), Errc::kRecordNotFound);
  EXPECT_EQ(s.get_object("t1", "free")->state, ObjectState::kTemporary);
  // Numbers given out by failed writes may be skipped, never reused.
  ASSERT_OK(s.insert_records({record("r1", {"free"})}, bind));
  EXPECT_ERRC(s.insert_records({record("r1")}, bind), Errc::kAlreadyExists);
  // Bound to r1: another record cannot take it.
  EXPECT_ERRC(s.insert_records({record("r3", {"free"})}, bind), Errc::kObjectNotTemporary);
}

TYPED_TEST(MetaStoreConformance, RecordsUpdateKeepsReplacesAndDropsFiles) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(temporary("keep")));
  ASSERT_OK(this->insert(temporary("drop")));
  ASSERT_OK(this->insert(temporary("add")));
  ASSERT_OK(s.insert_records({record("r1", {"keep", "drop"})}, BindOptions{"", kNow}));
  RecordUpdate u;
  u.id = "r1";
  u.expected_revision = 1;
  u.data_json = R"({"title":"y"})";
  u.file_ids = {"add", "keep"};
  u.updater = "bob";
  auto up = s.update_records("t1", "a1", "f1", {u}, BindOptions{"", kNow + 5});
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_EQ((*up)[0].revision, 2u);
  EXPECT_EQ((*up)[0].updated_at, kNow + 5);
  auto got = s.get_record("t1", "a1", "f1", "r1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data_json, R"({"title":"y"})");
  EXPECT_EQ(got->file_ids, (std::vector<std::string>{"add", "keep"}));
  EXPECT_EQ(got->updater, "bob");
  EXPECT_EQ(s.get_object("t1", "add")->state, ObjectState::kAttached);
  EXPECT_ERRC(s.get_object("t1", "drop"), Errc::kObjectNotFound);  // unreferenced: deleted
  // A stale revision changes nothing.
  u.expected_revision = 1;
  u.file_ids = {};
  EXPECT_ERRC(s.update_records("t1", "a1", "f1", {u}, BindOptions{"", kNow}),
              Errc::kRevisionConflict);
  EXPECT_EQ(s.get_record("t1", "a1", "f1", "r1")->revision, 2u);
  EXPECT_EQ(s.get_object("t1", "keep")->state, ObjectState::kAttached);
  u.id = "missing";
  u.expected_revision.reset();
  EXPECT_ERRC(s.update_records("t1", "a1", "f1", {u}, BindOptions{"", kNow}),
              Errc::kRecordNotFound);
}

TYPED_TEST(MetaStoreConformance, RecordsBatchKeyAndDelete) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(temporary("o1", "tx")));
  Record a = record("");
  Record b = record("", {"o1"});
  a.batch_key = b.batch_key = "tx";
  ASSERT_OK(s.insert_records({a, b}, BindOptions{"tx", kNow}));
  Record retry = record("");
  retry.batch_key = "tx";
  EXPECT_ERRC(s.insert_records({retry}, BindOptions{"tx", kNow}), Errc::kDuplicateRequest);
  RecordQuery q{"t1", "a1", "f1"};
  q.with_total = true;
  EXPECT_EQ(s.list_records(q)->total, 2u);

  EXPECT_ERRC(s.delete_records("t1", "a1", "f1", {{"2", 7}}, kNow), Errc::kRevisionConflict);
  EXPECT_ERRC(s.delete_records("t1", "a1", "f1", {{"1", std::nullopt}, {"9", std::nullopt}}, kNow),
              Errc::kRecordNotFound);
  EXPECT_TRUE(s.get_record("t1", "a1", "f1", "1"));  // all or nothing
  ASSERT_OK(s.delete_records("t1", "a1", "f1", {{"2", 1}}, kNow));
  EXPECT_ERRC(s.get_record("t1", "a1", "f1", "2"), Errc::kRecordNotFound);
  EXPECT_ERRC(s.get_object("t1", "o1"), Errc::kObjectNotFound);  // its file went with it
  EXPECT_EQ(s.usage("t1", "a1")->objects, 0u);
  // A deleted record's number is not given out again.
  auto next = s.insert_records({record("")}, BindOptions{"", kNow});
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)[0].seq, 3u);
}

TYPED_TEST(MetaStoreConformance, LimitsDoNotCountExpiredObjects) {
  MetaStore& s = this->store();
  Object old = object("old");
  old.expires_at = kNow + 10;
  ASSERT_OK(this->insert(old));
  ASSERT_OK(this->insert(object("kept")));
  InsertOptions opts;
  opts.app_max_objects = 2;
  opts.now = kNow + 5;  // "old" still valid: the limit holds
  EXPECT_ERRC(this->insert(object("new1"), opts), Errc::kObjectLimit);
  opts.now = kNow + 10;  // "old" expired: it leaves the count, and the live set
  ASSERT_OK(this->insert(object("new1"), opts));
  EXPECT_ERRC(s.get_object("t1", "old"), Errc::kObjectNotFound);
  EXPECT_EQ(s.usage("t1", "a1")->objects, 2u);
  EXPECT_ERRC(this->insert(object("new2"), opts), Errc::kObjectLimit);
}

TYPED_TEST(MetaStoreConformance, ConcurrentInsertsNeverExceedQuota) {
  MetaStore& s = this->store();
  InsertOptions opts;
  opts.app_max_objects = 10;
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string id = "01" + std::to_string(t) + "-" + std::to_string(i);
        if (s.insert_object(object(id), opts)) succeeded.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(succeeded.load(), 10);
  auto u = s.usage("t1", "a1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->objects, 10u);
}

}  // namespace
}  // namespace up::meta
