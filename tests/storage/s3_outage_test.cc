// The S3 store while RGW is down (s3-down.sh): every call fails with
// kUnavailable within a bounded time, and the same store works again once RGW
// is back. Runs alone (RUN_SERIAL): stopping RGW wipes it for everyone.

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "core/blocking.h"
#include "storage/s3/s3_blob_store.h"
#include "storage/s3_test_env.h"
#include "support/await.h"

namespace up::storage {
namespace {

using testing::await;
using Clock = std::chrono::steady_clock;

Status put(BlobStore& store, const std::string& locator, const std::string& bytes) {
  auto w = store.create(locator);
  if (!w) return fail(w.error());
  for (size_t off = 0; off < bytes.size(); off += 1 << 20)
    if (auto st = await((*w)->append(std::string_view(bytes).substr(off, 1 << 20))); !st) return st;
  return await((*w)->commit());
}

class S3OutageTest : public ::testing::Test {
 protected:
  void TearDown() override {
    store_.reset();
    pool_.reset();
    // Whatever happened, RGW is up again for the tests after this one.
    EXPECT_TRUE(s3_test::start_rgw());
    if (!bucket_.empty()) {
      EXPECT_TRUE(s3_test::remove_bucket(bucket_));
    }
  }

  std::string bucket_;
  core::BlockingPoolPtr pool_ = core::make_thread_pool(4);
  BlobStorePtr store_;
};

// Each call while RGW is down: kUnavailable, well within the retry budget.
template <class F>
void expect_unavailable(const char* what, F&& call) {
  const auto t0 = Clock::now();
  Status st = call();
  EXPECT_FALSE(st) << what;
  if (!st) {
    EXPECT_EQ(st.error().code, Errc::kUnavailable) << what << ": " << st.error().message;
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10)) << what;
}

TEST_F(S3OutageTest, RgwDownIsUnavailableThenRecovers) {
  auto b = s3_test::create_bucket();
  ASSERT_TRUE(b) << b.error().message;
  bucket_ = *b;
  auto o = s3_test::options(bucket_);
  o.part_size = 5ull << 20;
  auto s = open_s3_blob_store(o, *pool_);
  ASSERT_TRUE(s) << s.error().message;
  store_ = std::move(*s);
  ASSERT_TRUE(put(*store_, "before", "bytes"));

  ASSERT_TRUE(s3_test::stop_rgw());
  expect_unavailable("open", [&]() -> Status {
    auto r = await(store_->open("before", 0, UINT64_MAX));
    return r ? ok() : fail(r.error());
  });
  expect_unavailable("small put", [&] { return put(*store_, "small", "x"); });
  expect_unavailable("multipart put",
                     [&] { return put(*store_, "large", std::string(6 << 20, 'y')); });
  expect_unavailable("remove", [&] { return store_->remove("before"); });
  expect_unavailable("list", [&]() -> Status {
    auto r = store_->list("", "", 10);
    return r ? ok() : fail(r.error());
  });
  expect_unavailable("stale sweep", [&]() -> Status {
    auto r = store_->remove_stale_temporaries(0);
    return r ? ok() : fail(r.error());
  });

  // Back up (empty: memstore), the same store object works again.
  ASSERT_TRUE(s3_test::start_rgw());
  ASSERT_TRUE(s3_test::create_bucket(bucket_));
  ASSERT_TRUE(put(*store_, "after", "bytes again"));
  auto page = store_->list("", "", 10);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].locator, "after");
}

}  // namespace
}  // namespace up::storage
