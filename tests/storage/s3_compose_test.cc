// BlobStore::compose: on S3 (the test RGW) the new blob is the ranges'
// concatenation, made of copied and read-through parts as s3_compose.cc
// plans them; the stores that cannot compose say so. One bucket for the
// suite, each source blob stored once when a test first needs it; bodies as
// small as S3's 5 MiB minimum part allows.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/blocking.h"
#include "storage/blob_store.h"
#include "storage/local/local_blob_store.h"
#include "storage/memory/memory_blob_store.h"
#include "storage/s3/s3_blob_store.h"
#include "storage/s3_test_env.h"
#include "support/temp_dir.h"

namespace up::storage {
namespace {

constexpr uint64_t kMiB = 1 << 20;

using s3_test::random_bytes;

class S3ComposeTest : public ::testing::Test {
 protected:
  // One bucket and store for the suite; the sources go up as the tests need
  // them (ctest runs each test in a process of its own).
  static void SetUpTestSuite() {
    pool_ = core::make_thread_pool(2).release();
    auto b = s3_test::create_bucket();
    ASSERT_TRUE(b) << b.error().message;
    bucket_ = new std::string(*b);
    // The plans below were drawn for 8 MiB parts (the default was 8 MiB then).
    auto options = s3_test::options(*bucket_);
    options.part_size = 8 * kMiB;
    options.parts_in_memory = 2;
    auto store = open_s3_blob_store(options, *pool_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = store->release();
    sources_ = new std::vector<std::string>(kNames.size());
  }

  static void TearDownTestSuite() {
    delete store_;
    delete pool_;
    if (bucket_) {
      EXPECT_TRUE(s3_test::remove_bucket(*bucket_));
    }
    delete bucket_;
    delete sources_;
  }

  void SetUp() override { ASSERT_NE(store_, nullptr); }

  static std::string key(const std::string& locator) { return "blobs/" + locator; }

  // Source blob `i` (kNames, kSizes), stored on first use; its bytes.
  static const std::string& source(size_t i) {
    std::string& bytes = (*sources_)[i];
    if (bytes.empty()) {
      bytes = random_bytes(kSizes[i], static_cast<uint32_t>(i + 1));
      auto st = s3_test::put_object(*bucket_, key(kNames[i]), bytes);
      EXPECT_TRUE(st) << st.error().message;
    }
    return bytes;
  }

  // The range [offset, offset + length) of source `i`, and its bytes.
  BlobRange range(size_t i, uint64_t offset, uint64_t length) {
    expected_ += source(i).substr(offset, length);
    return BlobRange{kNames[i], offset, length};
  }
  BlobRange whole(size_t i) { return range(i, 0, kSizes[i]); }

  // Composes `ranges` under `locator` and checks the bytes read back; the ETag.
  std::string compose_and_check(const std::string& locator, const std::vector<BlobRange>& ranges) {
    auto st = store_->compose(locator, ranges);
    EXPECT_TRUE(st) << st.error().message;
    auto got = s3_test::get_object(*bucket_, key(locator));
    EXPECT_TRUE(got) << got.error().message;
    if (got) {
      EXPECT_EQ(got->size(), expected_.size());
      EXPECT_TRUE(*got == expected_) << "the bytes differ from the concatenation";
    }
    auto etag = s3_test::object_etag(*bucket_, key(locator));
    return etag ? *etag : "!" + etag.error().message;
  }

  // Checks that nothing is under `locator`: no object, no upload in progress.
  static void expect_nothing_at(const std::string& locator) {
    auto got = s3_test::get_object(*bucket_, key(locator));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::kObjectNotFound);
    auto uploads = s3_test::list_uploads(*bucket_, key(locator));
    ASSERT_TRUE(uploads) << uploads.error().message;
    EXPECT_TRUE(uploads->empty());
  }

  // Two 6 MiB blobs, one of 10 MiB (a range of it can fill a part and still
  // be copied), a 1 MiB tail and a small blob cut into pieces.
  static constexpr std::array<const char*, 5> kNames = {"large6a", "large6b", "large10", "tail1",
                                                        "small"};
  static constexpr std::array<uint64_t, 5> kSizes = {6 * kMiB, 6 * kMiB, 10 * kMiB, kMiB, 4096};
  static inline core::BlockingPool* pool_ = nullptr;
  static inline std::string* bucket_ = nullptr;
  static inline BlobStore* store_ = nullptr;
  static inline std::vector<std::string>* sources_ = nullptr;
  std::string expected_;  // the concatenation of the ranges made so far
};

constexpr size_t kLargeA = 0, kLargeB = 1, kLarge10 = 2, kTail = 3, kSmall = 4;

// Copied, copied, read through: three parts.
TEST_F(S3ComposeTest, LargePiecesAndTail) {
  std::string etag = compose_and_check("two-large", {whole(kLargeA), whole(kLargeB), whole(kTail)});
  EXPECT_TRUE(etag.ends_with("-3\"")) << etag;
}

// Under 5 MiB in all: one PUT, a plain object.
TEST_F(S3ComposeTest, SmallPiecesOnly) {
  std::string etag = compose_and_check(
      "small-only", {range(kSmall, 0, 1024), range(kSmall, 1024, 1024), range(kSmall, 2048, 1024)});
  EXPECT_EQ(etag.find('-'), std::string::npos) << etag;
}

// Each small piece fills its part from the large range after it; what is left
// of a large range under 5 MiB is read through too.
TEST_F(S3ComposeTest, SmallAndLargeMixed) {
  compose_and_check("mixed", {range(kSmall, 0, 1024), whole(kLargeA), range(kSmall, 1024, 2048),
                              whole(kLargeB), range(kSmall, 3072, 3)});
}

// Ranges that start inside their blob: a part filled from the head of a large
// range, the rest of it copied from an offset, then a small last part.
TEST_F(S3ComposeTest, RangesInsideTheirBlobs) {
  std::string etag =
      compose_and_check("offsets", {range(kSmall, 100, 1024), range(kLarge10, 100, 10 * kMiB - 200),
                                    range(kSmall, 7, 100), range(kSmall, 4095, 0)});
  EXPECT_TRUE(etag.ends_with("-3\"")) << etag;
}

// No ranges (or only empty ones) make an empty blob.
TEST_F(S3ComposeTest, NoRangesMakeAnEmptyBlob) {
  compose_and_check("empty", {});
  source(kSmall);
  auto r = store_->compose("empty2", std::vector<BlobRange>{BlobRange{kNames[kSmall], 5, 0}});
  ASSERT_TRUE(r) << r.error().message;
  auto got = s3_test::get_object(*bucket_, key("empty2"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, "");
}

// A missing source fails the compose, in one PUT or in a multipart upload,
// and leaves nothing under the locator.
TEST_F(S3ComposeTest, MissingSourceLeavesNothing) {
  source(kSmall);
  source(kLargeA);
  const std::vector<BlobRange> small = {BlobRange{kNames[kSmall], 0, 10}, {"nosuch", 0, 10}};
  auto st = store_->compose("failed-small", small);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kObjectNotFound) << st.error().message;
  expect_nothing_at("failed-small");

  const std::vector<BlobRange> large = {BlobRange{kNames[kLargeA], 0, 6 * kMiB},
                                        {"nosuch", 0, 6 * kMiB}};
  st = store_->compose("failed-large", large);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kObjectNotFound) << st.error().message;
  expect_nothing_at("failed-large");
}

// Composing onto an existing blob is refused and leaves it as it was.
TEST_F(S3ComposeTest, NeverOverwrites) {
  const std::string before = source(kSmall);
  source(kLargeA);
  for (const auto& ranges : {std::vector<BlobRange>{BlobRange{kNames[kLargeA], 0, 10}},
                             std::vector<BlobRange>{BlobRange{kNames[kLargeA], 0, 6 * kMiB}}}) {
    auto st = store_->compose(kNames[kSmall], ranges);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::kAlreadyExists) << st.error().message;
    auto got = s3_test::get_object(*bucket_, key(kNames[kSmall]));
    ASSERT_TRUE(got);
    EXPECT_TRUE(*got == before);
    auto uploads = s3_test::list_uploads(*bucket_, key(kNames[kSmall]));
    ASSERT_TRUE(uploads);
    EXPECT_TRUE(uploads->empty());
  }
}

// The stores without compose answer kUnimplemented: the caller copies.
TEST(ComposeElsewhere, LocalAndMemoryAnswerUnimplemented) {
  testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  core::BlockingPoolPtr pool = core::make_thread_pool(1);
  auto local = open_local_blob_store(
      dir.path() + "/store", *pool, LocalBlobStoreOptions{.small_blob_max = 0, .reserve_bytes = 0});
  ASSERT_TRUE(local) << local.error().message;
  BlobStorePtr memory = make_memory_blob_store();
  const std::vector<BlobRange> ranges = {BlobRange{"a", 0, 1}};
  for (BlobStore* store : {local->get(), memory.get()}) {
    auto st = store->compose("b", ranges);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::kUnimplemented);
  }
}

}  // namespace
}  // namespace up::storage
