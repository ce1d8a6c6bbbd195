// One behavioural contract (meta/meta_store.h) checked against every backend:
// the reads and the primitives. The rules built on the primitives (quotas,
// grants, binding) are core's and are tested there, over both stores
// (tests/core/store_rules_test.cc).

#include <atomic>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "meta/meta_store.h"
#include "meta/store_test_support.h"

namespace up::meta {
namespace {

using namespace up::meta::store_test;  // NOLINT(google-build-using-namespace)

template <class Backend>
class MetaStoreConformance : public StoreTest<Backend> {
 protected:
  // Runs one primitive as a transaction of its own; returns its result.
  template <class F>
  auto in_tx(F&& f) -> decltype(f(std::declval<MetaTransaction&>())) {
    std::optional<decltype(f(std::declval<MetaTransaction&>()))> out;
    Status st = this->store().transact([&](MetaTransaction& tx) -> Status {
      out.emplace(f(tx));
      if (!*out) return fail(out->error());
      return ok();
    });
    if (!st) return fail(st.error());  // the body's error, or the commit's
    return std::move(*out);
  }

  Status insert(const Object& o) {
    return in_tx([&](MetaTransaction& tx) { return tx.insert_object(o); });
  }
  Result<bool> mark_deleted(std::string_view tenant_id, std::string_view id) {
    return in_tx([&](MetaTransaction& tx) { return tx.mark_deleted(tenant_id, id); });
  }
  Result<uint64_t> expire(UnixMs now, uint32_t limit, std::string_view tenant_id = {}) {
    return in_tx([&](MetaTransaction& tx) { return tx.expire_objects(now, limit, tenant_id); });
  }
  Result<bool> use_grant(std::string_view id, UnixMs expires_at) {
    return in_tx([&](MetaTransaction& tx) { return tx.use_grant(id, expires_at); });
  }
  Result<bool> locator_exists(const std::string& locator) {
    auto r = this->store().locators_exist(std::span<const std::string>(&locator, 1));
    if (!r) return fail(r.error());
    return (*r)[0];
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

// A resumable upload's pieces (core/resumable.h): by key prefix, in byte
// order of key, live ones of one app only, paged.
TYPED_TEST(MetaStoreConformance, ObjectsByKeyPrefix) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "//r/u1/00000000000000000010")));
  ASSERT_OK(this->insert(object("01b", "t1", "a1", "//r/u1/00000000000000000002")));
  ASSERT_OK(this->insert(object("01c", "t1", "a1", "//r/u1/00000000000000000001")));
  ASSERT_OK(this->insert(object("01d", "t1", "a1", "//r/u10/00000000000000000001")));  // u10
  ASSERT_OK(this->insert(object("01e", "t1", "a1", "//r/u0/00000000000000000001")));
  ASSERT_OK(this->insert(object("01f", "t1", "a2", "//r/u1/00000000000000000003")));  // app
  ASSERT_OK(this->insert(object("01g", "t2", "a1", "//r/u1/00000000000000000004")));  // tenant
  ASSERT_OK(this->insert(object("01h", "t1", "a1", "//r/u1/00000000000000000005")));
  auto gone = this->mark_deleted("t1", "01h");
  ASSERT_TRUE(gone);
  auto ids = [](const Result<std::vector<Object>>& r) {
    std::vector<std::string> out;
    if (r)
      for (const Object& o : *r) out.push_back(o.id);
    return out;
  };
  EXPECT_EQ(ids(s.objects_by_key_prefix("t1", "a1", "//r/u1/", "", 10)),
            (std::vector<std::string>{"01c", "01b", "01a"}));
  EXPECT_EQ(ids(s.objects_by_key_prefix("t1", "a1", "//r/u1/", "", 2)),
            (std::vector<std::string>{"01c", "01b"}));
  EXPECT_EQ(ids(s.objects_by_key_prefix("t1", "a1", "//r/u1/", "//r/u1/00000000000000000002", 2)),
            (std::vector<std::string>{"01a"}));
  EXPECT_EQ(ids(s.objects_by_key_prefix("t1", "a1", "//r/u9/", "", 10)),
            std::vector<std::string>{});
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
  auto deleted = this->mark_deleted("t1", "01a");
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
  auto expired = this->expire(kNow, 100);
  ASSERT_TRUE(expired);
  EXPECT_EQ(*expired, 1u);
  ASSERT_OK(this->insert(object("01i", "t1", "a1", "ttl")));
}

TYPED_TEST(MetaStoreConformance, ListObjectsPaginatesInIdOrder) {
  MetaStore& s = this->store();
  // Inserted out of order; listed by id.
  for (const char* id : {"01c", "01a", "01e", "01b", "01d"}) ASSERT_OK(this->insert(object(id)));
  ASSERT_OK(this->insert(object("01bb", "t2")));  // another tenant, sorts in between

  core::ObjectQuery q;
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
  ASSERT_TRUE(this->mark_deleted("t1", "01d"));

  core::ObjectQuery q;
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

TYPED_TEST(MetaStoreConformance, SetObjectState) {
  MetaStore& s = this->store();
  Object temp = object("01a", "t1", "a1", "", 30);
  temp.state = ObjectState::kTemporary;
  temp.expires_at = kNow + 100;
  ASSERT_OK(this->insert(temp));
  auto set = [&](std::string_view tenant, std::string_view id, ObjectState state,
                 std::optional<UnixMs> expires) {
    return this->in_tx(
        [&](MetaTransaction& tx) { return tx.set_object_state(tenant, id, state, expires); });
  };

  ASSERT_OK(set("t1", "01a", ObjectState::kAttached, std::nullopt));
  auto got = s.get_object("t1", "01a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, ObjectState::kAttached);
  EXPECT_EQ(got->expires_at, std::nullopt);

  ASSERT_OK(set("t1", "01a", ObjectState::kStored, kNow + 500));
  got = s.get_object("t1", "01a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, ObjectState::kStored);
  EXPECT_EQ(got->expires_at, kNow + 500);

  EXPECT_ERRC(set("t2", "01a", ObjectState::kAttached, std::nullopt), Errc::kObjectNotFound);
  EXPECT_ERRC(set("t1", "01z", ObjectState::kAttached, std::nullopt), Errc::kObjectNotFound);
  ASSERT_TRUE(this->mark_deleted("t1", "01a"));
  EXPECT_ERRC(set("t1", "01a", ObjectState::kStored, std::nullopt), Errc::kObjectNotFound);
}

TYPED_TEST(MetaStoreConformance, MarkDeletedRemovesFromReadsAndUsage) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "k", 70)));
  ASSERT_OK(this->insert(object("01b", "t1", "a1", "", 30)));

  auto other = this->mark_deleted("t2", "01a");
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);
  auto r = this->mark_deleted("t1", "01a");
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  r = this->mark_deleted("t1", "01a");
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  r = this->mark_deleted("t1", "01zz");
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

  auto n = this->expire(kNow, 1);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  n = this->expire(kNow, 10);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  n = this->expire(kNow, 10);
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
  ASSERT_TRUE(this->mark_deleted("t1", "01a"));
  ASSERT_TRUE(this->mark_deleted("t1", "01c"));

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
  auto exists = this->locator_exists("loc/01a");
  ASSERT_TRUE(exists);
  EXPECT_TRUE(*exists);
  const std::vector<std::string> first = {"01a"};
  ASSERT_OK(s.purge_objects(first));
  exists = this->locator_exists("loc/01a");
  ASSERT_TRUE(exists);
  EXPECT_FALSE(*exists);
  ASSERT_OK(s.purge_objects(first));  // a retried sweep is harmless
  ASSERT_OK(s.purge_objects({}));

  // A live row is never purged, nor is the rest of its batch.
  const std::vector<std::string> with_live = {"01c", "01b"};
  EXPECT_ERRC(s.purge_objects(with_live), Errc::kFailedPrecondition);
  EXPECT_TRUE(s.get_object("t1", "01b"));

  deleted = s.deleted_objects(10);
  ASSERT_TRUE(deleted);
  ASSERT_EQ(deleted->size(), 1u);
  EXPECT_EQ((*deleted)[0].id, "01c");
}

TYPED_TEST(MetaStoreConformance, LocatorsExistInBatch) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a")));
  ASSERT_OK(this->insert(object("01b")));
  ASSERT_TRUE(this->mark_deleted("t1", "01b"));  // deleted rows still reference theirs
  const std::vector<std::string> locators = {"loc/01b", "loc/01x", "loc/01a", "loc/01a"};
  auto r = s.locators_exist(locators);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (std::vector<bool>{true, false, true, true}));
  r = s.locators_exist({});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TYPED_TEST(MetaStoreConformance, ObjectsByLocatorInBatch) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a")));
  ASSERT_OK(this->insert(object("01b")));
  ASSERT_TRUE(this->mark_deleted("t1", "01b"));  // deleted rows still reference theirs
  const std::vector<std::string> locators = {"loc/01b", "loc/01x", "loc/01a"};
  auto r = s.objects_by_locator(locators);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 3u);
  ASSERT_TRUE((*r)[0]);
  EXPECT_EQ((*r)[0]->id, "01b");
  EXPECT_FALSE((*r)[1]);
  ASSERT_TRUE((*r)[2]);
  EXPECT_EQ((*r)[2]->id, "01a");
  EXPECT_EQ((*r)[2]->sha256, object("01a").sha256);
  EXPECT_EQ((*r)[2]->size, object("01a").size);
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

TYPED_TEST(MetaStoreConformance, TransactIsAllOrNothing) {
  MetaStore& s = this->store();
  Status r = s.transact([&](MetaTransaction& tx) -> Status {
    UP_TRY(tx.insert_object(object("01a", "t1", "a1", "k", 5)));
    auto fresh = tx.use_grant("g1", kNow + 100);
    EXPECT_TRUE(fresh && *fresh);
    auto u = tx.usage("t1", "a1");  // the transaction sees its own writes
    EXPECT_TRUE(u && u->objects == 1 && u->bytes == 5);
    return fail(Errc::kQuotaExceeded, "the body's own error");
  });
  EXPECT_ERRC(r, Errc::kQuotaExceeded);
  EXPECT_ERRC(s.get_object("t1", "01a"), Errc::kObjectNotFound);
  EXPECT_EQ(s.usage("t1", "a1")->objects, 0u);
  EXPECT_EQ(s.usage("t1", "")->bytes, 0u);
  auto fresh = this->use_grant("g1", kNow + 100);
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(*fresh);  // its use was rolled back too
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "k", 5)));
}

TYPED_TEST(MetaStoreConformance, TransactEachGivesEachBodyItsOwnResult) {
  MetaStore& s = this->store();
  std::vector<TransactionBody> bodies;
  bodies.push_back({[](MetaTransaction& tx) { return tx.insert_object(object("01a")); }});
  bodies.push_back({[](MetaTransaction& tx) -> Status {
    UP_TRY(tx.insert_object(object("01b")));
    return fail(Errc::kObjectLimit);
  }});
  bodies.push_back({[](MetaTransaction& tx) { return tx.insert_object(object("01a")); }});
  bodies.push_back({[](MetaTransaction& tx) { return tx.insert_object(object("01c")); }});
  s.transact_each(bodies);
  ASSERT_OK(bodies[0].result);
  EXPECT_ERRC(bodies[1].result, Errc::kObjectLimit);
  EXPECT_ERRC(bodies[2].result, Errc::kAlreadyExists);  // sees the first body's insert
  ASSERT_OK(bodies[3].result);
  EXPECT_TRUE(s.get_object("t1", "01a"));
  EXPECT_ERRC(s.get_object("t1", "01b"), Errc::kObjectNotFound);
  EXPECT_TRUE(s.get_object("t1", "01c"));
  EXPECT_EQ(s.usage("t1", "a1")->objects, 2u);
  s.transact_each({});  // an empty batch is fine
}

TYPED_TEST(MetaStoreConformance, InsertCountsLiveObjectsInUsage) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(object("01a", "t1", "a1", "", 50)));
  ASSERT_OK(this->insert(object("01b", "t1", "a2", "", 7)));
  Object gone = object("01c", "t1", "a1", "", 1000);
  gone.state = ObjectState::kDeleted;  // not live: counts nothing
  ASSERT_OK(this->insert(gone));
  auto a1 = s.usage("t1", "a1");
  ASSERT_TRUE(a1);
  EXPECT_EQ(a1->bytes, 50u);
  EXPECT_EQ(a1->objects, 1u);
  auto total = this->in_tx([](MetaTransaction& tx) { return tx.usage("t1", ""); });
  ASSERT_TRUE(total);
  EXPECT_EQ(total->bytes, 57u);
  EXPECT_EQ(total->objects, 2u);
  EXPECT_EQ(s.usage("t9", "")->objects, 0u);
}

TYPED_TEST(MetaStoreConformance, ExpireObjectsOfOneTenant) {
  MetaStore& s = this->store();
  Object a = object("01a", "t1");
  a.expires_at = kNow;
  Object b = object("01b", "t2");
  b.expires_at = kNow;
  ASSERT_OK(this->insert(a));
  ASSERT_OK(this->insert(b));
  auto n = this->expire(kNow, 100, "t2");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(s.get_object("t1", "01a"));
  EXPECT_ERRC(s.get_object("t2", "01b"), Errc::kObjectNotFound);
}

TYPED_TEST(MetaStoreConformance, UseGrantIsAConditionalInsert) {
  MetaStore& s = this->store();
  auto first = this->use_grant("g1", kNow + 100);
  ASSERT_TRUE(first);
  EXPECT_TRUE(*first);
  auto again = this->use_grant("g1", kNow + 100);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  ASSERT_TRUE(this->use_grant("g2", kNow + 200));

  auto n = s.expire_used_grants(kNow + 100);  // not *before* now yet
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  n = s.expire_used_grants(kNow + 101);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(*this->use_grant("g1", kNow + 100));  // its record is gone
  EXPECT_FALSE(*this->use_grant("g2", kNow + 200));
}

TYPED_TEST(MetaStoreConformance, KeyEnabled) {
  MetaStore& s = this->store();
  ASSERT_OK(s.create_tenant(tenant("t1")));
  ASSERT_OK(s.create_key(key("k1", "t1"), 10));
  auto enabled = [&](std::string_view id) {
    return this->in_tx([&](MetaTransaction& tx) { return tx.key_enabled(id); });
  };
  ASSERT_TRUE(enabled("k1"));
  EXPECT_TRUE(*enabled("k1"));
  ASSERT_OK(s.set_key_enabled("k1", false));
  EXPECT_FALSE(*enabled("k1"));
  ASSERT_OK(s.delete_key("k1"));
  EXPECT_FALSE(*enabled("k1"));
}

Record record_row(std::string id, uint64_t seq) {
  Record r = record(std::move(id));
  r.seq = seq;
  return r;
}

TYPED_TEST(MetaStoreConformance, RecordPrimitives) {
  MetaStore& s = this->store();
  auto seq = [&](const std::string& form) {
    return this->in_tx([&](MetaTransaction& tx) { return tx.next_record_seq("t1", "a1", form); });
  };
  EXPECT_EQ(*seq("f1"), 1u);
  EXPECT_EQ(*seq("f1"), 2u);
  EXPECT_EQ(*seq("f2"), 1u);  // per form

  Record r = record_row("r1", 1);
  r.batch_key = "b1";
  r.file_ids = {"o2", "o1"};
  ASSERT_OK(this->in_tx([&](MetaTransaction& tx) -> Status {
    UP_TRY(tx.insert_record(r));
    return tx.set_record_files(r);
  }));
  EXPECT_ERRC(
      this->in_tx([&](MetaTransaction& tx) { return tx.insert_record(record_row("r1", 9)); }),
      Errc::kAlreadyExists);
  auto got = s.get_record("t1", "a1", "f1", "r1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->seq, 1u);
  EXPECT_EQ(got->batch_key, "b1");
  EXPECT_EQ(got->file_ids, (std::vector<std::string>{"o2", "o1"}));
  auto seen = [&](const std::string& key) {
    return this->in_tx(
        [&](MetaTransaction& tx) { return tx.batch_key_seen("t1", "a1", "f1", key); });
  };
  EXPECT_TRUE(*seen("b1"));
  EXPECT_FALSE(*seen("b2"));

  // An object is bound to one record at most.
  Record other = record_row("r2", 2);
  other.file_ids = {"o1"};
  EXPECT_ERRC(this->in_tx([&](MetaTransaction& tx) -> Status {
    UP_TRY(tx.insert_record(other));
    return tx.set_record_files(other);
  }),
              Errc::kObjectNotTemporary);
  EXPECT_ERRC(s.get_record("t1", "a1", "f1", "r2"), Errc::kRecordNotFound);

  r.revision = 2;
  r.data_json = R"({"title":"y"})";
  r.updater = "bob";
  r.updated_at = kNow + 5;
  r.file_ids = {"o3"};
  ASSERT_OK(this->in_tx([&](MetaTransaction& tx) -> Status {
    UP_TRY(tx.update_record(r));
    return tx.set_record_files(r);
  }));
  got = this->in_tx([](MetaTransaction& tx) { return tx.get_record("t1", "a1", "f1", "r1"); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->revision, 2u);
  EXPECT_EQ(got->data_json, R"({"title":"y"})");
  EXPECT_EQ(got->updater, "bob");
  EXPECT_EQ(got->updated_at, kNow + 5);
  EXPECT_EQ(got->file_ids, (std::vector<std::string>{"o3"}));

  ASSERT_OK(this->in_tx([&](MetaTransaction& tx) { return tx.delete_record(r); }));
  EXPECT_ERRC(s.get_record("t1", "a1", "f1", "r1"), Errc::kRecordNotFound);
  EXPECT_ERRC(this->in_tx([&](MetaTransaction& tx) { return tx.update_record(r); }),
              Errc::kRecordNotFound);
  EXPECT_EQ(*seq("f1"), 3u);  // numbers are not given out again
}

// One batch over several apps and tenants (the sweeper's): each app's and
// each tenant's usage loses exactly its own objects.
TYPED_TEST(MetaStoreConformance, ExpireObjectsTakesEachAppsShareOutOfUsage) {
  MetaStore& s = this->store();
  const std::pair<const char*, const char*> owners[] = {
      {"t1", "a1"}, {"t1", "a1"}, {"t1", "a2"}, {"t2", "a1"}};
  for (size_t i = 0; i < 4; ++i) {
    Object o = object("01e" + std::to_string(i), owners[i].first, owners[i].second, "", 1u << i);
    o.expires_at = kNow;
    ASSERT_OK(this->insert(o));
  }
  ASSERT_OK(this->insert(object("01k", "t1", "a1", "", 16)));  // no expiry
  auto n = this->expire(kNow, 100);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4u);
  const std::tuple<const char*, const char*, uint64_t, uint64_t> want[] = {{"t1", "a1", 16, 1},
                                                                           {"t1", "a2", 0, 0},
                                                                           {"t1", "", 16, 1},
                                                                           {"t2", "a1", 0, 0},
                                                                           {"t2", "", 0, 0}};
  for (const auto& [tenant, app, bytes, objects] : want) {
    auto u = s.usage(tenant, app);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->bytes, bytes) << tenant << "/" << app;
    EXPECT_EQ(u->objects, objects) << tenant << "/" << app;
  }
}

}  // namespace
}  // namespace up::meta
