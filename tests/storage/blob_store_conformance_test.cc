// The behaviour every BlobStore must have (STYLE.md §3.16), run over each backend.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "core/blocking.h"
#include "storage/blob_store.h"
#include "storage/local/local_blob_store.h"
#include "storage/memory/memory_blob_store.h"
#include "storage/memory/slow_blob_store.h"
#include "storage/s3/s3_blob_store.h"
#include "storage/s3_test_env.h"
#include "support/await.h"
#include "support/temp_dir.h"

namespace up::storage {
namespace {

using testing::await;
using testing::await_all;

struct MemoryBackend {
  BlobStorePtr make() { return make_memory_blob_store(); }
};

// The memory store behind a latency on every call, as a network store would
// have: every await really suspends, so code that assumes a call completes at
// once, or keeps a reference across one, fails here.
struct SlowMemoryBackend {
  BlobStorePtr make() {
    return make_slow_blob_store(make_memory_blob_store(), std::chrono::milliseconds(2));
  }
};

// The local store as configured by default (small blobs in the pack) and with
// every blob a file.
template <uint64_t SmallBlobMax>
struct LocalBackend {
  testing::TempDir dir;
  core::BlockingPoolPtr pool = core::make_thread_pool(4);
  BlobStorePtr make() {
    if (dir.path().empty()) return nullptr;
    auto store = open_local_blob_store(
        dir.path() + "/store", *pool,
        LocalBlobStoreOptions{.small_blob_max = SmallBlobMax, .reserve_bytes = 0});
    return store ? std::move(*store) : nullptr;
  }
};
using LocalPackBackend = LocalBackend<64 * 1024>;
using LocalFilesBackend = LocalBackend<0>;

// The S3 store on the test RGW (s3-up.sh), in a bucket of its own that goes
// away with the test.
struct S3Backend {
  core::BlockingPoolPtr pool = core::make_thread_pool(4);
  std::string bucket;
  BlobStorePtr make() {
    auto b = s3_test::create_bucket();
    if (!b) {
      ADD_FAILURE() << b.error().message;
      return nullptr;
    }
    bucket = *b;
    auto store = open_s3_blob_store(s3_test::options(bucket), *pool);
    if (!store) ADD_FAILURE() << store.error().message;
    return store ? std::move(*store) : nullptr;
  }
  ~S3Backend() {
    pool.reset();  // aborts of abandoned uploads run first
    if (!bucket.empty()) {
      EXPECT_TRUE(s3_test::remove_bucket(bucket));
    }
  }
};

template <class Backend>
class BlobStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = backend_.make();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override { store_.reset(); }

  Backend backend_;
  BlobStorePtr store_;
};

struct BackendNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, MemoryBackend>) return "Memory";
    if constexpr (std::is_same_v<T, SlowMemoryBackend>) return "SlowMemory";
    if constexpr (std::is_same_v<T, LocalFilesBackend>) return "LocalFiles";
    if constexpr (std::is_same_v<T, S3Backend>) return "S3";
    return "Local";
  }
};

using Backends = ::testing::Types<MemoryBackend, SlowMemoryBackend, LocalPackBackend,
                                  LocalFilesBackend, S3Backend>;
TYPED_TEST_SUITE(BlobStoreConformance, Backends, BackendNames);

UnixMs now_ms() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// By value: the coroutine outlives its caller's temporaries.
net::awaitable<Status> put_async(BlobStore& store, std::string locator, std::string bytes,
                                 size_t chunk) {
  auto w = store.create(locator);
  if (!w) co_return fail(w.error());
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    if (auto st = co_await (*w)->append(std::string_view(bytes).substr(off, chunk)); !st)
      co_return st;
  }
  co_return co_await (*w)->commit();
}

Status put(BlobStore& store, std::string_view locator, std::string_view bytes,
           size_t chunk = 64 * 1024) {
  return await(put_async(store, std::string(locator), std::string(bytes), chunk));
}

Status append(BlobWriter& w, std::string_view bytes) { return await(w.append(bytes)); }
Status commit(BlobWriter& w) { return await(w.commit()); }

Result<BlobReaderPtr> open(BlobStore& store, std::string_view locator, uint64_t offset = 0,
                           uint64_t length = UINT64_MAX) {
  return await(store.open(locator, offset, length));
}

// Reads a whole reader, or an error message prefixed with "!".
std::string read_all(BlobReader& r, size_t piece = 1 << 20) {
  std::string out;
  std::vector<char> buf(piece);
  for (;;) {
    auto n = await(r.read(buf));
    if (!n) return "!" + n.error().message;
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  EXPECT_EQ(out.size(), r.size());
  return out;
}

// Reads a whole blob, or an error message prefixed with "!".
std::string get(BlobStore& store, std::string_view locator) {
  auto r = open(store, locator);
  if (!r) return "!" + r.error().message;
  return read_all(**r);
}

// Every page of the listing, `limit` entries at a time.
std::map<std::string, BlobEntry> list_all(BlobStore& store, size_t limit = 1000,
                                          std::string_view prefix = "") {
  std::map<std::string, BlobEntry> entries;
  std::string after;
  do {
    auto page = store.list(prefix, after, limit);
    EXPECT_TRUE(page) << page.error().message;
    if (!page) break;
    EXPECT_LE(page->entries.size(), limit);
    for (const BlobEntry& e : page->entries) {
      EXPECT_GT(e.locator, after);  // ascending, no repeats across pages
      after = e.locator;
      entries[e.locator] = e;
    }
    after = page->next_after;
  } while (!after.empty());
  return entries;
}

TYPED_TEST(BlobStoreConformance, CommitMakesObjectVisible) {
  auto w = this->store_->create("obj1");
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE(append(**w, "hello "));
  ASSERT_TRUE(append(**w, "world"));
  EXPECT_EQ((*w)->bytes_written(), 11u);

  auto before = open(*this->store_, "obj1");
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, Errc::kObjectNotFound);
  EXPECT_TRUE(list_all(*this->store_).empty());

  auto c = commit(**w);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(get(*this->store_, "obj1"), "hello world");
}

TYPED_TEST(BlobStoreConformance, AbortLeavesNothing) {
  {
    auto w = this->store_->create("aborted");
    ASSERT_TRUE(w);
    ASSERT_TRUE(append(**w, random_bytes(100'000, 1)));
  }
  auto r = open(*this->store_, "aborted");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kObjectNotFound);
  EXPECT_TRUE(list_all(*this->store_).empty());
  // Nothing left for the stale sweep either.
  auto removed = this->store_->remove_stale_temporaries(std::numeric_limits<UnixMs>::max());
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 0u);
  // The locator is still free.
  ASSERT_TRUE(put(*this->store_, "aborted", "second try"));
  EXPECT_EQ(get(*this->store_, "aborted"), "second try");
}

TYPED_TEST(BlobStoreConformance, OpensFixedRanges) {
  std::string bytes = random_bytes(1000, 2);
  ASSERT_TRUE(put(*this->store_, "offsets", bytes));
  auto whole = open(*this->store_, "offsets");
  ASSERT_TRUE(whole);
  EXPECT_EQ((*whole)->size(), 1000u);
  EXPECT_EQ(read_all(**whole), bytes);

  struct Case {
    uint64_t offset, length;
    std::string want;
  };
  const Case cases[] = {
      {0, 10, bytes.substr(0, 10)},
      {500, 10, bytes.substr(500, 10)},
      {995, 10, bytes.substr(995)},  // clipped at the end
      {1000, 10, ""},
      {1'000'000, 10, ""},
      {10, 0, ""},
      {1, UINT64_MAX, bytes.substr(1)},
  };
  for (const Case& c : cases) {
    auto r = open(*this->store_, "offsets", c.offset, c.length);
    ASSERT_TRUE(r) << c.offset;
    EXPECT_EQ((*r)->size(), c.want.size()) << c.offset;
    EXPECT_EQ(read_all(**r, 7), c.want) << c.offset;  // in small pieces
    auto n = await((*r)->read(std::span<char>()));
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 0u);
  }
}

TYPED_TEST(BlobStoreConformance, EmptyBlob) {
  auto w = this->store_->create("empty");
  ASSERT_TRUE(w);
  ASSERT_TRUE(commit(**w));
  EXPECT_EQ((*w)->bytes_written(), 0u);

  auto r = open(*this->store_, "empty");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->size(), 0u);
  char buf[4];
  auto n = await((*r)->read(buf));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);

  auto entries = list_all(*this->store_);
  ASSERT_EQ(entries.count("empty"), 1u);
  EXPECT_EQ(entries["empty"].size, 0u);
}

TYPED_TEST(BlobStoreConformance, LargeBlobInChunks) {
  std::string bytes = random_bytes(20 << 20, 3);
  auto w = this->store_->create("large");
  ASSERT_TRUE(w);
  for (size_t off = 0; off < bytes.size(); off += 64 * 1024) {
    ASSERT_TRUE(append(**w, std::string_view(bytes).substr(off, 64 * 1024)));
  }
  EXPECT_EQ((*w)->bytes_written(), bytes.size());
  ASSERT_TRUE(commit(**w));
  EXPECT_TRUE(get(*this->store_, "large") == bytes);  // not EXPECT_EQ: no 20 MiB diff
}

TYPED_TEST(BlobStoreConformance, OddSizedAppendsKeepOrder) {
  // Mixes tiny, just-under, exact and just-over 64 KiB appends (coalescing paths).
  std::string bytes = random_bytes(1 << 20, 4);
  const size_t sizes[] = {1, 7, 65535, 65536, 65537, 3, 100'000, 0, 12345};
  auto w = this->store_->create("odd");
  ASSERT_TRUE(w);
  size_t off = 0;
  for (size_t i = 0; off < bytes.size(); ++i) {
    size_t n = std::min(sizes[i % std::size(sizes)], bytes.size() - off);
    ASSERT_TRUE(append(**w, std::string_view(bytes).substr(off, n)));
    off += n;
  }
  EXPECT_EQ((*w)->bytes_written(), bytes.size());
  ASSERT_TRUE(commit(**w));
  EXPECT_TRUE(get(*this->store_, "odd") == bytes);
}

TYPED_TEST(BlobStoreConformance, RemoveIsIdempotent) {
  EXPECT_TRUE(this->store_->remove("never-existed"));
  ASSERT_TRUE(put(*this->store_, "gone", "bytes"));
  ASSERT_TRUE(open(*this->store_, "gone"));  // read first: what a read keeps must go too
  ASSERT_TRUE(this->store_->remove("gone"));
  auto r = open(*this->store_, "gone");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kObjectNotFound);
  EXPECT_TRUE(this->store_->remove("gone"));
  EXPECT_TRUE(list_all(*this->store_).empty());
}

TYPED_TEST(BlobStoreConformance, NeverOverwrites) {
  ASSERT_TRUE(put(*this->store_, "dup", "old bytes"));
  auto again = put(*this->store_, "dup", "new bytes!");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), Kind::kAlreadyExists);
  EXPECT_EQ(get(*this->store_, "dup"), "old bytes");

  // Two writers racing for one locator: the first commit wins.
  auto w1 = this->store_->create("race");
  auto w2 = this->store_->create("race");
  ASSERT_TRUE(w1);
  ASSERT_TRUE(w2);
  ASSERT_TRUE(append(**w1, "first"));
  ASSERT_TRUE(append(**w2, "second"));
  ASSERT_TRUE(commit(**w1));
  auto c2 = commit(**w2);
  ASSERT_FALSE(c2);
  EXPECT_EQ(c2.error().kind(), Kind::kAlreadyExists);
  w2->reset();
  EXPECT_EQ(get(*this->store_, "race"), "first");
  auto removed = this->store_->remove_stale_temporaries(std::numeric_limits<UnixMs>::max());
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 0u);  // the losing writer cleaned up after itself
}

TYPED_TEST(BlobStoreConformance, ListSeesCommitted) {
  UnixMs before = now_ms();
  ASSERT_TRUE(put(*this->store_, "a", "1"));
  ASSERT_TRUE(put(*this->store_, "b", "22"));
  ASSERT_TRUE(put(*this->store_, "c", random_bytes(70'000, 5)));
  ASSERT_TRUE(put(*this->store_, "removed", "x"));
  ASSERT_TRUE(this->store_->remove("removed"));
  auto pending = this->store_->create("pending");
  ASSERT_TRUE(pending);
  ASSERT_TRUE(append(**pending, "not yet"));
  UnixMs after = now_ms();

  auto entries = list_all(*this->store_);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries["a"].size, 1u);
  EXPECT_EQ(entries["b"].size, 2u);
  EXPECT_EQ(entries["c"].size, 70'000u);
  for (const auto& [locator, e] : entries) {
    EXPECT_EQ(e.locator, locator);
    // File-system timestamps are coarser than the clock; allow a second.
    EXPECT_GE(e.modified_at, before - 1000) << locator;
    EXPECT_LE(e.modified_at, after + 1000) << locator;
  }
}

TYPED_TEST(BlobStoreConformance, InvalidLocatorRejected) {
  const std::string bad[] = {"../x", "a/b", "",    std::string("a\0b", 3), ".",
                             "..",   "a b", "a.b", "caf\xc3\xa9",          std::string(129, 'x')};
  for (const auto& locator : bad) {
    auto w = this->store_->create(locator);
    ASSERT_FALSE(w) << locator;
    EXPECT_EQ(w.error().code, Errc::kInvalidArgument) << locator;
    auto r = open(*this->store_, locator);
    ASSERT_FALSE(r) << locator;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << locator;
    auto d = this->store_->remove(locator);
    ASSERT_FALSE(d) << locator;
    EXPECT_EQ(d.error().code, Errc::kInvalidArgument) << locator;
  }
  // The longest and the full alphabet are fine.
  EXPECT_TRUE(put(*this->store_, std::string(128, 'x'), "ok"));
  EXPECT_TRUE(put(*this->store_, "AZaz09_-", "ok"));
}

TYPED_TEST(BlobStoreConformance, ListPagesInLocatorOrder) {
  std::vector<std::string> locators;
  for (int i = 0; i < 25; ++i) {
    // Small (pack) and larger (file) blobs interleaved.
    std::string locator = (i % 2 ? "p-" : "q-") + std::to_string(100 + i);
    ASSERT_TRUE(put(*this->store_, locator, std::string(i % 3 == 0 ? 70'000 : 10, 'x')));
    locators.push_back(locator);
  }
  std::sort(locators.begin(), locators.end());
  for (size_t limit : {1u, 3u, 7u, 25u, 100u}) {
    auto entries = list_all(*this->store_, limit);
    ASSERT_EQ(entries.size(), locators.size()) << limit;
    size_t i = 0;
    for (const auto& [locator, e] : entries) EXPECT_EQ(locator, locators[i++]) << limit;
  }
  auto first = this->store_->list("", "", 4);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->entries.size(), 4u);
  EXPECT_EQ(first->next_after, locators[3]);
  auto rest = this->store_->list("", locators[20], 100);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->entries.size(), 4u);
  EXPECT_TRUE(rest->next_after.empty());

  auto p = list_all(*this->store_, 5, "p-");
  EXPECT_EQ(p.size(), 12u);
  for (const auto& [locator, e] : p) EXPECT_EQ(locator.substr(0, 2), "p-");
  EXPECT_TRUE(list_all(*this->store_, 5, "none").empty());
}

TYPED_TEST(BlobStoreConformance, ConcurrentWriters) {
  // Many uploads in flight at once on a few threads, as the server runs them:
  // small ones share group commits, none waits for another's latency.
  constexpr int kWriters = 100;
  std::vector<net::awaitable<Status>> puts;
  for (int i = 0; i < kWriters; ++i) {
    std::string locator = "w" + std::to_string(i);
    std::string bytes = locator + std::string(i % 10 == 0 ? 100'000 : 1000, 'z');
    puts.push_back(put_async(*this->store_, locator, std::move(bytes), 100));
  }
  for (const Status& st : await_all(std::move(puts))) EXPECT_TRUE(st) << st.error().message;
  auto entries = list_all(*this->store_);
  EXPECT_EQ(entries.size(), static_cast<size_t>(kWriters));
  EXPECT_EQ(get(*this->store_, "w99"), "w99" + std::string(1000, 'z'));
  EXPECT_EQ(get(*this->store_, "w90"), "w90" + std::string(100'000, 'z'));
}

}  // namespace
}  // namespace up::storage
