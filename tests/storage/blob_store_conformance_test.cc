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

#include "storage/blob_store.h"
#include "storage/local/local_blob_store.h"
#include "storage/memory/memory_blob_store.h"
#include "support/temp_dir.h"

namespace up::storage {
namespace {

struct MemoryBackend {
  BlobStorePtr make() { return make_memory_blob_store(); }
};

// The local store as configured by default (small blobs in the pack) and with
// every blob a file.
template <uint64_t SmallBlobMax>
struct LocalBackend {
  testing::TempDir dir;
  BlobStorePtr make() {
    if (dir.path().empty()) return nullptr;
    auto store = open_local_blob_store(
        dir.path() + "/store",
        LocalBlobStoreOptions{.small_blob_max = SmallBlobMax, .reserve_bytes = 0});
    return store ? std::move(*store) : nullptr;
  }
};
using LocalPackBackend = LocalBackend<64 * 1024>;
using LocalFilesBackend = LocalBackend<0>;

template <class Backend>
class BlobStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = backend_.make();
    ASSERT_NE(store_, nullptr);
  }

  Backend backend_;
  BlobStorePtr store_;
};

struct BackendNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, MemoryBackend>) return "Memory";
    if constexpr (std::is_same_v<T, LocalFilesBackend>) return "LocalFiles";
    return "Local";
  }
};

using Backends = ::testing::Types<MemoryBackend, LocalPackBackend, LocalFilesBackend>;
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

Status put(BlobStore& store, std::string_view locator, std::string_view bytes,
           size_t chunk = 64 * 1024) {
  auto w = store.create(locator);
  if (!w) return fail(w.error());
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    UP_TRY((*w)->append(bytes.substr(off, chunk)));
  }
  return (*w)->commit();
}

// Reads a whole blob, or an error message prefixed with "!".
std::string get(BlobStore& store, std::string_view locator) {
  auto r = store.open(locator);
  if (!r) return "!" + r.error().message;
  std::string out;
  std::vector<char> buf(1 << 20);
  for (;;) {
    auto n = (*r)->read_at(out.size(), buf);
    if (!n) return "!" + n.error().message;
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  EXPECT_EQ(out.size(), (*r)->size());
  return out;
}

std::map<std::string, BlobEntry> list_all(BlobStore& store) {
  std::map<std::string, BlobEntry> entries;
  auto s = store.list([&](const BlobEntry& e) { entries[e.locator] = e; });
  EXPECT_TRUE(s) << s.error().message;
  return entries;
}

TYPED_TEST(BlobStoreConformance, CommitMakesObjectVisible) {
  auto w = this->store_->create("obj1");
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE((*w)->append("hello "));
  ASSERT_TRUE((*w)->append("world"));
  EXPECT_EQ((*w)->bytes_written(), 11u);

  auto before = this->store_->open("obj1");
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, Errc::kObjectNotFound);
  EXPECT_TRUE(list_all(*this->store_).empty());

  auto c = (*w)->commit();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(get(*this->store_, "obj1"), "hello world");
}

TYPED_TEST(BlobStoreConformance, AbortLeavesNothing) {
  {
    auto w = this->store_->create("aborted");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(random_bytes(100'000, 1)));
  }
  auto r = this->store_->open("aborted");
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

TYPED_TEST(BlobStoreConformance, ReadAtOffsets) {
  std::string bytes = random_bytes(1000, 2);
  ASSERT_TRUE(put(*this->store_, "offsets", bytes));
  auto r = this->store_->open("offsets");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->size(), 1000u);

  char buf[10];
  auto n = (*r)->read_at(0, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf, *n), bytes.substr(0, 10));

  n = (*r)->read_at(500, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf, *n), bytes.substr(500, 10));

  n = (*r)->read_at(995, buf);  // short read at the end
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf, *n), bytes.substr(995));

  n = (*r)->read_at(1000, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);

  n = (*r)->read_at(1'000'000, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);

  n = (*r)->read_at(10, std::span<char>());
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
}

TYPED_TEST(BlobStoreConformance, EmptyBlob) {
  auto w = this->store_->create("empty");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->commit());
  EXPECT_EQ((*w)->bytes_written(), 0u);

  auto r = this->store_->open("empty");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->size(), 0u);
  char buf[4];
  auto n = (*r)->read_at(0, buf);
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
    ASSERT_TRUE((*w)->append(std::string_view(bytes).substr(off, 64 * 1024)));
  }
  EXPECT_EQ((*w)->bytes_written(), bytes.size());
  ASSERT_TRUE((*w)->commit());
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
    ASSERT_TRUE((*w)->append(std::string_view(bytes).substr(off, n)));
    off += n;
  }
  EXPECT_EQ((*w)->bytes_written(), bytes.size());
  ASSERT_TRUE((*w)->commit());
  EXPECT_TRUE(get(*this->store_, "odd") == bytes);
}

TYPED_TEST(BlobStoreConformance, RemoveIsIdempotent) {
  EXPECT_TRUE(this->store_->remove("never-existed"));
  ASSERT_TRUE(put(*this->store_, "gone", "bytes"));
  ASSERT_TRUE(this->store_->remove("gone"));
  auto r = this->store_->open("gone");
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
  ASSERT_TRUE((*w1)->append("first"));
  ASSERT_TRUE((*w2)->append("second"));
  ASSERT_TRUE((*w1)->commit());
  auto c2 = (*w2)->commit();
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
  ASSERT_TRUE((*pending)->append("not yet"));
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
    auto r = this->store_->open(locator);
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

TYPED_TEST(BlobStoreConformance, ConcurrentWriters) {
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string locator = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!put(*this->store_, locator, locator + std::string(1000, 'z'), 100)) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  auto entries = list_all(*this->store_);
  EXPECT_EQ(entries.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(get(*this->store_, "t3-24"), "t3-24" + std::string(1000, 'z'));
}

TYPED_TEST(BlobStoreConformance, CommitBatchCommitsEachInOrder) {
  // Small and large writers together, one whose locator is taken, one empty.
  ASSERT_TRUE(put(*this->store_, "taken", "first"));
  const std::vector<std::pair<std::string, std::string>> blobs = {
      {"b-small", "small bytes"},
      {"b-large", random_bytes(200'000, 7)},
      {"taken", "second"},
      {"b-empty", ""},
  };
  std::vector<BlobWriterPtr> owned;
  std::vector<BlobWriter*> writers;
  for (const auto& [locator, bytes] : blobs) {
    auto w = this->store_->create(locator);
    ASSERT_TRUE(w) << locator;
    ASSERT_TRUE((*w)->append(bytes));
    writers.push_back(w->get());
    owned.push_back(std::move(*w));
  }
  auto results = this->store_->commit_batch(writers);
  ASSERT_EQ(results.size(), blobs.size());
  EXPECT_TRUE(results[0]) << results[0].error().message;
  EXPECT_TRUE(results[1]) << results[1].error().message;
  ASSERT_FALSE(results[2]);
  EXPECT_EQ(results[2].error().code, Errc::kAlreadyExists);
  EXPECT_TRUE(results[3]) << results[3].error().message;
  owned.clear();  // committed writers keep their blobs
  EXPECT_EQ(get(*this->store_, "b-small"), "small bytes");
  EXPECT_EQ(get(*this->store_, "b-large"), blobs[1].second);
  EXPECT_EQ(get(*this->store_, "taken"), "first");
  EXPECT_EQ(get(*this->store_, "b-empty"), "");
}

}  // namespace
}  // namespace up::storage
