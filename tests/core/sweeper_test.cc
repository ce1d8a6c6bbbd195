#include "core/sweeper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/fixture.h"
#include "storage/local/local_blob_store.h"

namespace up::core {
namespace {

class SweeperTest : public ::testing::Test, protected testing::CoreFixture {};

TEST_F(SweeperTest, ExpiredTemporariesGoAndAttachedOnesStay) {
  auto spec = testing::spec_for("t1", "tmp");
  spec.state = ObjectState::kTemporary;
  spec.expires_at = clock.now() + 1000;
  auto doomed = upload(spec, "unbound");
  auto kept = upload(spec, "bound");
  ASSERT_TRUE(doomed && kept);
  ASSERT_TRUE(files.set_state("t1", kept->id, ObjectState::kAttached, std::nullopt));
  clock.advance(999);
  auto s = sweeper.sweep();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->expired_objects, 0u);
  clock.advance(1);
  s = sweeper.sweep();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->expired_objects, 1u);
  EXPECT_EQ(s->purged_objects, 1u);
  EXPECT_FALSE(files.get("t1", doomed->id));
  EXPECT_TRUE(files.get("t1", kept->id));
  EXPECT_EQ(blob_count(), 1u);
}

TEST_F(SweeperTest, ExpiredObjectsAreHiddenBeforeTheSweep) {
  auto spec = testing::spec_for("t1", "ttl");
  spec.expires_at = clock.now() + 10;
  auto o = upload(spec, "x");
  ASSERT_TRUE(o);
  clock.advance(10);
  EXPECT_EQ(files.get("t1", o->id).error().code, Errc::kObjectNotFound);
  core::ObjectQuery q;
  q.tenant_id = "t1";
  auto page = files.list(q);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->objects.empty());
}

TEST_F(SweeperTest, DeletionFinishesAfterAnInterruptedSweep) {
  auto o = upload(testing::spec_for("t1", "d"), "bytes");
  ASSERT_TRUE(o);
  ASSERT_TRUE(files.remove("t1", o->id));
  // As if a sweep died after removing the blob but before dropping the row.
  ASSERT_TRUE(blobs->remove(o->locator));
  auto s = sweeper.sweep();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->purged_objects, 1u);
  auto again = sweeper.sweep();
  EXPECT_EQ(again->purged_objects, 0u);
}

TEST_F(SweeperTest, OrphansPastGraceAreRemovedReferencedBlobsAreNot) {
  auto live = upload(testing::spec_for("t1", "live"), "referenced");
  ASSERT_TRUE(live);
  // A blob committed by an upload that died before its metadata commit.
  auto w = blobs->create("orphan0000000000000000000");
  ASSERT_TRUE(w);
  ASSERT_TRUE(testing::await((*w)->append("orphan bytes")));
  ASSERT_TRUE(testing::await((*w)->commit()));
  EXPECT_EQ(blob_count(), 2u);
  // Within the grace period nothing is touched (it may be an upload in flight).
  auto s = sweeper.collect_orphans(3'600'000'000'000);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->orphan_blobs, 0u);
  s = sweeper.collect_orphans(-1'000'000'000'000);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->orphan_blobs, 1u);
  EXPECT_EQ(blob_count(), 1u);
  EXPECT_TRUE(files.get("t1", live->id));
  EXPECT_TRUE(testing::await(files.open_blob(*live)));
}

TEST_F(SweeperTest, PurgesInBatchesPastOneBatch) {
  // More deleted objects than one batch of deleted_objects / purge_objects.
  constexpr int kObjects = 1203;
  for (int i = 0; i < kObjects; ++i) {
    auto o = upload(testing::spec_for("t1", "n" + std::to_string(i)), "x");
    ASSERT_TRUE(o);
    ASSERT_TRUE(files.remove("t1", o->id));
  }
  auto s = sweeper.sweep();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->purged_objects, static_cast<uint64_t>(kObjects));
  EXPECT_EQ(blob_count(), 0u);
  auto deleted = meta->deleted_objects(10);
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(deleted->empty());
}

TEST_F(SweeperTest, EmbeddedStoresAreNotShared) {
  // The start-up orphan sweep (collect_orphans(0)) runs only then.
  EXPECT_FALSE(sweeper.stores_shared());
}

}  // namespace
}  // namespace up::core

namespace up::core {
namespace {

// Two processes' sweepers over one store: one sweeps at a time, and the other
// takes over once the holder stops renewing (a crash).
TEST_F(SweeperTest, OneLeaseHolderAtATimeUntilTheLeaseRunsOut) {
  Sweeper other(*meta, *blobs, clock);
  EXPECT_NE(sweeper.holder(), other.holder());
  EXPECT_TRUE(*sweeper.take_lease(3000));
  EXPECT_FALSE(*other.take_lease(3000));
  clock.advance(2000);
  EXPECT_TRUE(*sweeper.take_lease(3000));  // renewed until +5000
  clock.advance(2999);
  EXPECT_FALSE(*other.take_lease(3000));
  clock.advance(1);
  EXPECT_TRUE(*other.take_lease(3000));
  EXPECT_FALSE(*sweeper.take_lease(3000));
}

TEST_F(SweeperTest, SweepDropsExpiredCursorsAndOldRateWindows) {
  Cursor c;
  c.id = "c1";
  c.tenant_id = "t1";
  c.expires_at = clock.now() + 1000;
  ASSERT_TRUE(meta->put_cursor(c, 10, clock.now()));
  ASSERT_TRUE(meta->rate_hit("k", 1, 1000, clock.now()));
  clock.advance(3'600'000 + 1000);
  ASSERT_TRUE(sweeper.sweep());
  EXPECT_EQ(meta->get_cursor("t1", "c1", 0).error().code, Errc::kNotFound);
  auto dropped = meta->expire_rate_windows(clock.now());
  ASSERT_TRUE(dropped);
  EXPECT_EQ(*dropped, 0u);  // the sweep took it
}

}  // namespace
}  // namespace up::core

namespace up::core {
namespace {

// The local store with blobs over 8 bytes in files, the rest in its pack.
storage::BlobStorePtr local_blobs(BlockingPool& pool, const std::string& dir) {
  auto store = storage::open_local_blob_store(
      dir + "/blobs", pool,
      storage::LocalBlobStoreOptions{.small_blob_max = 8, .reserve_bytes = 0});
  return store ? std::move(*store) : nullptr;
}

std::filesystem::path find_file(const std::string& root, const std::string& name) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (e.path().filename() == name) return e.path();
  return {};
}

class LocalSweeperTest : public ::testing::Test, protected testing::CoreFixture {
 protected:
  LocalSweeperTest() : CoreFixture(&local_blobs) {}
};

// A batch whose removals fail at one blob: the rows of blobs that went are
// dropped, every blob still there keeps its (deleted) row, and the next sweep
// finishes: nothing referenced is lost, nothing is left unreferenced.
TEST_F(LocalSweeperTest, AFailedRemovalKeepsTheRowsOfBlobsThatStayed) {
  std::vector<Object> objects;
  for (int i = 0; i < 4; ++i) {
    auto o =
        upload(testing::spec_for("t1", "f" + std::to_string(i)), i % 2 ? "packed" : "in a file");
    ASSERT_TRUE(o);
    ASSERT_TRUE(files.remove("t1", o->id));
    objects.push_back(*o);
  }
  // A folder with an entry where one blob's file was: unlink() fails there.
  const std::filesystem::path stuck = find_file(dir.path(), objects[2].locator);
  ASSERT_FALSE(stuck.empty());
  const std::filesystem::path aside = dir.path() + "/aside";
  std::filesystem::rename(stuck, aside);
  std::filesystem::create_directories(stuck / "x");
  EXPECT_FALSE(sweeper.sweep());

  auto left = meta->deleted_objects(100);
  ASSERT_TRUE(left);
  auto has_row = [&](const Object& o) {
    return std::ranges::any_of(*left, [&](const Object& l) { return l.id == o.id; });
  };
  EXPECT_TRUE(has_row(objects[2]));
  for (const Object& o : objects) {
    if (o.id == objects[2].id) continue;
    if (testing::await(blobs->open(o.locator, 0, 1))) {
      EXPECT_TRUE(has_row(o)) << o.id;
    }
  }

  std::filesystem::remove_all(stuck);
  std::filesystem::rename(aside, stuck);
  auto s = sweeper.sweep();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->purged_objects, left->size());
  EXPECT_EQ(blob_count(), 0u);
  auto rest = meta->deleted_objects(100);
  ASSERT_TRUE(rest);
  EXPECT_TRUE(rest->empty());
}

}  // namespace
}  // namespace up::core
