// Core's metadata rules (core/object_rules.h, core/records.h) over every
// store: quotas and object limits (expired objects not counting), single-use
// grants, the key-enabled check, binding of files to records, and their races.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/object_rules.h"
#include "core/records.h"
#include "core/transact.h"
#include "meta/store_test_support.h"

namespace up::core {
namespace {

using namespace up::meta::store_test;  // NOLINT(google-build-using-namespace)
using meta::MetaStore;

template <class Backend>
class StoreRules : public StoreTest<Backend> {
 protected:
  Status insert(const Object& o, const InsertOptions& opts = {}) {
    return insert_object(this->store(), o, opts);
  }
};

TYPED_TEST_SUITE(StoreRules, Backends, BackendNames);

TYPED_TEST(StoreRules, GrantIsSingleUse) {
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

TYPED_TEST(StoreRules, InsertRefusesUploadOfDisabledOrDeletedKey) {
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

TYPED_TEST(StoreRules, InsertObjectsGivesEachItsOwnResult) {
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
  insert_objects(s, batch);
  ASSERT_OK(batch[0].result);
  EXPECT_ERRC(batch[1].result, Errc::kObjectKeyExists);
  EXPECT_ERRC(batch[2].result, Errc::kGrantUsed);  // the first insert of the batch used it
  ASSERT_OK(s.get_object("t1", "01b"));
  EXPECT_ERRC(s.get_object("t1", "01c"), Errc::kObjectNotFound);
  EXPECT_ERRC(s.get_object("t1", "01d"), Errc::kObjectNotFound);
  insert_objects(s, {});  // an empty batch is fine
}

TYPED_TEST(StoreRules, AppQuotaLimitsBytesAndObjects) {
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
  ASSERT_TRUE(mark_deleted(s, "t1", "01a"));
  ASSERT_OK(this->insert(object("01e", "t1", "a1", "", 60), opts));
}

TYPED_TEST(StoreRules, TenantQuotaCountsEveryApp) {
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

TYPED_TEST(StoreRules, RecordsInsertBindGetList) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(temporary("o1", "tx1")));
  ASSERT_OK(this->insert(temporary("o2", "tx1")));
  auto ins = insert_records(s, {record("r1", {"o1", "o2"}), record("")}, BindOptions{"tx1", kNow});
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

TYPED_TEST(StoreRules, RecordsBindingRules) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(temporary("tx_a", "tx1")));
  ASSERT_OK(this->insert(temporary("expired", "", kNow - 1)));
  ASSERT_OK(this->insert(temporary("other_app", "", kNow + 1000, "a2")));
  ASSERT_OK(this->insert(object("stored")));  // kStored: not awaiting binding
  ASSERT_OK(this->insert(temporary("free")));
  const BindOptions bind{"tx2", kNow};
  EXPECT_ERRC(insert_records(s, {record("r", {"tx_a"})}, bind), Errc::kTransactionMismatch);
  EXPECT_ERRC(insert_records(s, {record("r", {"expired"})}, bind), Errc::kObjectNotFound);
  EXPECT_ERRC(insert_records(s, {record("r", {"other_app"})}, bind), Errc::kObjectNotFound);
  EXPECT_ERRC(insert_records(s, {record("r", {"nope"})}, bind), Errc::kObjectNotFound);
  EXPECT_ERRC(insert_records(s, {record("r", {"stored"})}, bind), Errc::kObjectNotTemporary);
  EXPECT_ERRC(insert_records(s, {record("r", {"free", "free"})}, bind), Errc::kInvalidArgument);
  // All or nothing: the second record fails, so the first is not kept and
  // "free" stays temporary.
  EXPECT_ERRC(insert_records(s, {record("r1", {"free"}), record("r2", {"free"})}, bind),
              Errc::kObjectNotTemporary);
  EXPECT_ERRC(s.get_record("t1", "a1", "f1", "r1"), Errc::kRecordNotFound);
  EXPECT_EQ(s.get_object("t1", "free")->state, ObjectState::kTemporary);
  // Numbers given out by failed writes may be skipped, never reused.
  ASSERT_OK(insert_records(s, {record("r1", {"free"})}, bind));
  EXPECT_ERRC(insert_records(s, {record("r1")}, bind), Errc::kAlreadyExists);
  // Bound to r1: another record cannot take it.
  EXPECT_ERRC(insert_records(s, {record("r3", {"free"})}, bind), Errc::kObjectNotTemporary);
}

TYPED_TEST(StoreRules, RecordsUpdateKeepsReplacesAndDropsFiles) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(temporary("keep")));
  ASSERT_OK(this->insert(temporary("drop")));
  ASSERT_OK(this->insert(temporary("add")));
  ASSERT_OK(insert_records(s, {record("r1", {"keep", "drop"})}, BindOptions{"", kNow}));
  RecordUpdate u;
  u.id = "r1";
  u.expected_revision = 1;
  u.data_json = R"({"title":"y"})";
  u.file_ids = {"add", "keep"};
  u.updater = "bob";
  auto up = update_records(s, "t1", "a1", "f1", {u}, BindOptions{"", kNow + 5});
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
  EXPECT_ERRC(update_records(s, "t1", "a1", "f1", {u}, BindOptions{"", kNow}),
              Errc::kRevisionConflict);
  EXPECT_EQ(s.get_record("t1", "a1", "f1", "r1")->revision, 2u);
  EXPECT_EQ(s.get_object("t1", "keep")->state, ObjectState::kAttached);
  u.id = "missing";
  u.expected_revision.reset();
  EXPECT_ERRC(update_records(s, "t1", "a1", "f1", {u}, BindOptions{"", kNow}),
              Errc::kRecordNotFound);
}

TYPED_TEST(StoreRules, RecordsBatchKeyAndDelete) {
  MetaStore& s = this->store();
  ASSERT_OK(this->insert(temporary("o1", "tx")));
  Record a = record("");
  Record b = record("", {"o1"});
  a.batch_key = b.batch_key = "tx";
  ASSERT_OK(insert_records(s, {a, b}, BindOptions{"tx", kNow}));
  Record retry = record("");
  retry.batch_key = "tx";
  EXPECT_ERRC(insert_records(s, {retry}, BindOptions{"tx", kNow}), Errc::kDuplicateRequest);
  RecordQuery q{"t1", "a1", "f1"};
  q.with_total = true;
  EXPECT_EQ(s.list_records(q)->total, 2u);

  EXPECT_ERRC(delete_records(s, "t1", "a1", "f1", {{"2", 7}}, kNow), Errc::kRevisionConflict);
  EXPECT_ERRC(delete_records(s, "t1", "a1", "f1", {{"1", std::nullopt}, {"9", std::nullopt}}, kNow),
              Errc::kRecordNotFound);
  EXPECT_TRUE(s.get_record("t1", "a1", "f1", "1"));  // all or nothing
  ASSERT_OK(delete_records(s, "t1", "a1", "f1", {{"2", 1}}, kNow));
  EXPECT_ERRC(s.get_record("t1", "a1", "f1", "2"), Errc::kRecordNotFound);
  EXPECT_ERRC(s.get_object("t1", "o1"), Errc::kObjectNotFound);  // its file went with it
  EXPECT_EQ(s.usage("t1", "a1")->objects, 0u);
  // A deleted record's number is not given out again.
  auto next = insert_records(s, {record("")}, BindOptions{"", kNow});
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)[0].seq, 3u);
}

TYPED_TEST(StoreRules, LimitsDoNotCountExpiredObjects) {
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

TYPED_TEST(StoreRules, ConcurrentInsertsNeverExceedQuota) {
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
        if (insert_object(s, object(id), opts)) succeeded.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(succeeded.load(), 10);
  auto u = s.usage("t1", "a1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->objects, 10u);
}

TYPED_TEST(StoreRules, RacingUploadsOfOneGrantOnlyOneWins) {
  MetaStore& s = this->store();
  InsertOptions opts;
  opts.grant_id = "g";
  opts.grant_expires_at = kNow + 1000;
  std::atomic<int> won{0};
  std::atomic<int> used{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Status r = insert_object(s, object("01" + std::to_string(t)), opts);
      if (r) won.fetch_add(1);
      if (!r && r.error().code == Errc::kGrantUsed) used.fetch_add(1);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(used.load(), 3);
  EXPECT_EQ(s.usage("t1", "a1")->objects, 1u);
}

TYPED_TEST(StoreRules, ConflictedTransactionRunsAgainBounded) {
  MetaStore& s = this->store();
  int runs = 0;
  int serial = 0;  // a fresh object id on every run
  auto body = [&](int conflicts) {
    return [&runs, &serial, conflicts](meta::MetaTransaction& tx) -> Status {
      ++runs;
      UP_TRY(tx.insert_object(object("01" + std::to_string(++serial))));
      if (runs <= conflicts) return fail(Errc::kTransactionConflict);
      return ok();
    };
  };
  ASSERT_OK(transact(s, body(2)));
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(s.usage("t1", "a1")->objects, 1u);  // the conflicted runs left nothing

  runs = 0;
  EXPECT_ERRC(transact(s, body(100)), Errc::kTransactionConflict);
  EXPECT_EQ(runs, kMaxTransactionAttempts);
  EXPECT_EQ(s.usage("t1", "a1")->objects, 1u);

  // A rule's own error is not retried.
  runs = 0;
  EXPECT_ERRC(transact(s,
                       [&](meta::MetaTransaction&) -> Status {
                         ++runs;
                         return fail(Errc::kQuotaExceeded);
                       }),
              Errc::kQuotaExceeded);
  EXPECT_EQ(runs, 1);

  // Nor does a conflict of one body of a group hold up the others.
  runs = 0;
  std::vector<meta::TransactionBody> bodies;
  bodies.push_back({body(1)});
  bodies.push_back({[](meta::MetaTransaction& tx) { return tx.insert_object(object("02a")); }});
  transact_each(s, bodies);
  ASSERT_OK(bodies[0].result);
  ASSERT_OK(bodies[1].result);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(s.usage("t1", "a1")->objects, 3u);
}

}  // namespace
}  // namespace up::core
