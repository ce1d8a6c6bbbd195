// The upload and download paths dialects use (core::UploadService streaming
// in, FileService::open_blob streaming out, the orphan sweep) over every blob
// backend: memory, memory behind a latency on every call, and local disk.
// Nothing here knows which one runs.

#include <chrono>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/fixture.h"
#include "storage/local/local_blob_store.h"
#include "storage/memory/slow_blob_store.h"

namespace up::core {
namespace {

struct Memory {
  static storage::BlobStorePtr make(BlockingPool&, const std::string&) {
    return storage::make_memory_blob_store();
  }
};
struct SlowMemory {
  static storage::BlobStorePtr make(BlockingPool&, const std::string&) {
    return storage::make_slow_blob_store(storage::make_memory_blob_store(),
                                         std::chrono::milliseconds(2));
  }
};
struct Local {
  static storage::BlobStorePtr make(BlockingPool& pool, const std::string& dir) {
    auto store = storage::open_local_blob_store(dir + "/blobs", pool,
                                                storage::LocalBlobStoreOptions{.reserve_bytes = 0});
    return store ? std::move(*store) : nullptr;
  }
};

template <class Backend>
class UploadPaths : public ::testing::Test, protected testing::CoreFixture {
 protected:
  UploadPaths() : CoreFixture(&Backend::make) {}
};

struct Names {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, Memory>) return "Memory";
    if constexpr (std::is_same_v<T, SlowMemory>) return "SlowMemory";
    return "Local";
  }
};
using Backends = ::testing::Types<Memory, SlowMemory, Local>;
TYPED_TEST_SUITE(UploadPaths, Backends, Names);

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 17) % 251);
  return s;
}

// A body arriving in pieces, as a dialect feeds it: 64 KiB reads, or (uneven)
// each read split where a multipart boundary would cut it.
net::awaitable<Result<Object>> stream_in(UploadPtr up, std::string body, bool uneven) {
  for (size_t off = 0; off < body.size(); off += 65536) {
    std::string_view piece = std::string_view(body).substr(off, 65536);
    const size_t cut = uneven ? std::min<size_t>(1000, piece.size()) : piece.size();
    if (auto st = co_await up->append(piece.substr(0, cut)); !st) co_return fail(st.error());
    if (cut == piece.size()) continue;
    if (auto st = co_await up->append(piece.substr(cut)); !st) co_return fail(st.error());
  }
  co_return co_await up->commit();
}

// What a download sends: the range read in 64 KiB pieces.
net::awaitable<Result<std::string>> stream_out(FileService& files, Object o, uint64_t offset,
                                               uint64_t length) {
  auto reader = co_await files.open_blob(o, offset, length);
  if (!reader) co_return fail(reader.error());
  std::string out;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    auto n = co_await reader->read(buf);
    if (!n) co_return fail(n.error());
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  if (out.size() != reader->size()) co_return fail(Errc::kStorageIo, "short read");
  co_return out;
}

TYPED_TEST(UploadPaths, ManyConcurrentUploadsRoundTrip) {
  ASSERT_NE(this->blobs, nullptr);
  // Small ones (group-committed where the store batches) and large ones.
  std::vector<std::string> bodies;
  std::vector<net::awaitable<Result<Object>>> uploads;
  for (int i = 0; i < 24; ++i) {
    bodies.push_back(pattern(i % 6 == 0 ? 300'000 + i : 100 + i));
    auto up = this->uploads.begin(testing::spec_for("t1", "f" + std::to_string(i)));
    ASSERT_TRUE(up) << up.error().message;
    uploads.push_back(stream_in(std::move(*up), bodies.back(), i % 2 == 0));
  }
  auto objects = testing::await_all(std::move(uploads));
  std::vector<net::awaitable<Result<std::string>>> downloads;
  for (size_t i = 0; i < objects.size(); ++i) {
    ASSERT_TRUE(objects[i]) << objects[i].error().message;
    EXPECT_EQ(objects[i]->size, bodies[i].size());
    downloads.push_back(stream_out(this->files, *objects[i], 0, UINT64_MAX));
  }
  auto got = testing::await_all(std::move(downloads));
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i]) << got[i].error().message;
    EXPECT_TRUE(*got[i] == bodies[i]) << i;
  }
  EXPECT_EQ(this->blob_count(), bodies.size());
}

// A blob synced by a blocking call of its own (a local file, not the pack)
// and its row commit in one trip to the pool: the sync, then the row's group
// commit led by that same thread. A trip each cost two more thread switches.
TYPED_TEST(UploadPaths, AFileBlobAndItsRowCommitInOneTrip) {
  if constexpr (!std::is_same_v<TypeParam, Local>) GTEST_SKIP() << "no blob of its own file";
  ASSERT_NE(this->blobs, nullptr);
  const std::string body = pattern(300'000);
  auto up = this->uploads.begin(testing::spec_for("t1", "f"));
  ASSERT_TRUE(up) << up.error().message;
  ASSERT_TRUE(testing::await((*up)->append(body)));
  const int before = this->pool->trips();
  auto o = testing::await((*up)->commit());
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(this->pool->trips() - before, 1);
  auto stored = this->meta->get_object("t1", o->id);
  ASSERT_TRUE(stored) << stored.error().message;
  auto got = testing::await(stream_out(this->files, *stored, 0, UINT64_MAX));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(*got == body);
}

TYPED_TEST(UploadPaths, RangesAreServedFromTheStore) {
  ASSERT_NE(this->blobs, nullptr);
  const std::string body = pattern(200'000);
  auto o = this->upload(testing::spec_for("t1", "r"), body);
  ASSERT_TRUE(o) << o.error().message;
  auto mid = testing::await(stream_out(this->files, *o, 70'000, 65'537));
  ASSERT_TRUE(mid) << mid.error().message;
  EXPECT_TRUE(*mid == body.substr(70'000, 65'537));
  auto tail = testing::await(stream_out(this->files, *o, 199'990, 100));
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, body.substr(199'990));
}

// The bytes an ObjectReader gives, read in pieces of `piece` bytes.
net::awaitable<Result<std::string>> read_all(ObjectReader& reader, size_t piece) {
  std::string out;
  std::vector<char> buf(piece);
  for (;;) {
    auto n = co_await reader.read(buf);
    if (!n) co_return fail(n.error());
    if (*n == 0) co_return out;
    out.append(buf.data(), *n);
  }
}

// A small blob downloaded once is then opened in memory where the store keeps
// it (local disk: the pack's cache), without awaiting: the same range as
// open_blob gives, clipped the same way, whether sent whole or read.
TYPED_TEST(UploadPaths, SmallBlobReadOnceOpensInMemory) {
  ASSERT_NE(this->blobs, nullptr);
  const std::string body = pattern(4096);
  auto o = this->upload(testing::spec_for("t1", "hot"), body);
  ASSERT_TRUE(o) << o.error().message;
  auto first = testing::await(stream_out(this->files, *o, 0, UINT64_MAX));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(*first, body);
  const bool kept = std::is_same_v<TypeParam, Local>;
  for (auto [offset, length] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, UINT64_MAX}, {10, 20}, {4090, 100}, {4096, 1}, {9999, 5}, {0, 0}}) {
    auto hot = this->files.open_blob_in_memory(*o, offset, length);
    ASSERT_EQ(hot.has_value(), kept) << offset;
    if (!hot) continue;
    auto cold = testing::await(stream_out(this->files, *o, offset, length));
    ASSERT_TRUE(cold) << cold.error().message;
    EXPECT_EQ(hot->size(), cold->size()) << offset;
    ASSERT_TRUE(hot->bytes()) << offset;
    EXPECT_EQ(*hot->bytes(), *cold) << offset;
    EXPECT_EQ(hot->file().fd, -1);
    auto read = testing::await(read_all(*hot, 7));
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(*read, *cold) << offset;
    EXPECT_EQ(hot->bytes()->size(), 0u);  // read() took it all
  }
}

TYPED_TEST(UploadPaths, RefusedCommitKeepsNoBytesAndSweepFindsOrphans) {
  ASSERT_NE(this->blobs, nullptr);
  auto spec = testing::spec_for("t1", "k");
  spec.key = "same";
  ASSERT_TRUE(this->upload(spec, "first"));
  auto second = this->upload(spec, "second");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kObjectKeyExists);
  EXPECT_EQ(this->blob_count(), 1u);
  // A blob whose metadata never came (a crash between the two commits).
  auto w = this->blobs->create("orphan000000000000000000");
  ASSERT_TRUE(w);
  ASSERT_TRUE(testing::await((*w)->append("lost")));
  ASSERT_TRUE(testing::await((*w)->commit()));
  auto swept = this->sweeper.collect_orphans(-1'000'000'000'000);
  ASSERT_TRUE(swept) << swept.error().message;
  EXPECT_EQ(swept->orphan_blobs, 1u);
  EXPECT_EQ(this->blob_count(), 1u);
}

}  // namespace
}  // namespace up::core
