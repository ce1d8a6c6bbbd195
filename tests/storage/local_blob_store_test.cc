// What only the local-disk store promises: its folder layout, temp files and
// crash leftovers, durability across reopening; small blobs in the pack.

#include "storage/local/local_blob_store.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/blocking.h"
#include "support/await.h"
#include "support/temp_dir.h"

namespace up::storage {
namespace {

namespace fs = std::filesystem;
using testing::await;

UnixMs now_ms() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

// Fan-out folder names are two lower-case hex digits.
bool is_hex2(const std::string& s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return s.size() == 2 && hex(s[0]) && hex(s[1]);
}

std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir));
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// How many of the file's pages the page cache holds, or nullopt where that
// cannot be told: tmpfs keeps every page (its pages are the file).
std::optional<size_t> cached_pages(const fs::path& p) {
  struct statfs fs_info {};
  if (::statfs(p.c_str(), &fs_info) != 0 || fs_info.f_type == 0x01021994 /* TMPFS_MAGIC */)
    return std::nullopt;
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<size_t> cached;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    const auto size = static_cast<size_t>(st.st_size);
    // Mapping the file touches none of its pages; mincore() says which are in memory.
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
      std::vector<unsigned char> in_core((size + page - 1) / page);
      if (::mincore(map, size, in_core.data()) == 0) {
        cached = 0;
        for (unsigned char c : in_core) *cached += c & 1;
      }
      ::munmap(map, size);
    }
  }
  ::close(fd);
  return cached;
}

// The file half of the store: every blob a file, whatever its size.
class LocalBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    root_ = dir_.path() + "/store";
    auto s = open_local_blob_store(root_, *pool_, options_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  Status put(std::string_view locator, std::string_view bytes) {
    auto w = store_->create(locator);
    if (!w) return fail(w.error());
    UP_TRY(await((*w)->append(bytes)));
    return await((*w)->commit());
  }

  fs::path tmp() const { return fs::path(root_) / "tmp"; }
  fs::path blobs() const { return fs::path(root_) / "blobs"; }

  // Every blob in the store, through the paged listing.
  static std::vector<BlobEntry> list_all(BlobStore& store) {
    std::vector<BlobEntry> all;
    std::string after;
    do {
      auto page = store.list("", after, 3);
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      all.insert(all.end(), page->entries.begin(), page->entries.end());
      after = page->next_after;
    } while (!after.empty());
    return all;
  }

  LocalBlobStoreOptions options_{.small_blob_max = 0, .reserve_bytes = 0};
  core::BlockingPoolPtr pool_ = core::make_thread_pool(4);
  testing::TempDir dir_;
  std::string root_;
  BlobStorePtr store_;
};

// The default store: blobs up to 64 KiB are rows of the pack.
class SmallBlobTest : public LocalBlobStoreTest {
 protected:
  SmallBlobTest() { options_ = LocalBlobStoreOptions{}; }
  fs::path pack() const { return fs::path(root_) / "small-blobs.db"; }
  fs::path segments() const { return fs::path(root_) / "small-blobs"; }

  // One value of the first row of `sql` on the pack's database, as text ("" if none).
  std::string query(const std::string& sql) const {
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2(pack().c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return out;
  }

  std::string read_back(std::string_view locator) {
    auto r = await(store_->open(locator, 0, UINT64_MAX));
    if (!r) return "<" + r.error().message + ">";
    std::string back((*r)->size(), '\0');
    if (!await((*r)->read(back))) return "<read failed>";
    return back;
  }

  // Blocks the file system holds for the file (holes take none).
  static uint64_t allocated(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
  }
};

TEST_F(LocalBlobStoreTest, OpenCreatesLayout) {
  EXPECT_TRUE(fs::is_directory(blobs()));
  EXPECT_TRUE(fs::is_directory(tmp()));
  // Opening again is fine.
  EXPECT_TRUE(open_local_blob_store(root_, *pool_));
  // A root whose parent is missing is an error, not a silently created tree.
  auto bad = open_local_blob_store(dir_.path() + "/no/such/parent", *pool_);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kStorageIo);
  EXPECT_EQ(bad.error().message.find(dir_.path()), std::string::npos) << "no paths in messages";
}

TEST_F(LocalBlobStoreTest, FilesLandInFanOutDirs) {
  ASSERT_TRUE(put("01hzzzzzzzzzzzzzzzzzzzzzzz", "bytes"));
  auto files = files_under(blobs());
  ASSERT_EQ(files.size(), 1u);
  std::vector<std::string> parts;
  for (const auto& p : files[0]) parts.push_back(p.string());
  ASSERT_EQ(parts.size(), 2u) << files[0];
  EXPECT_TRUE(is_hex2(parts[0])) << files[0];
  EXPECT_EQ(parts[1], "01hzzzzzzzzzzzzzzzzzzzzzzz");
  EXPECT_EQ(slurp(blobs() / files[0]), "bytes");
}

TEST_F(LocalBlobStoreTest, TimeOrderedIdsSpreadOverFanOut) {
  // Ids created in one millisecond share a long prefix; the hash must still spread them.
  std::set<std::string> level1;
  for (int i = 0; i < 256; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "01h00000000000000000000%03d", i);
    ASSERT_TRUE(put(id, "x"));
  }
  for (const auto& f : files_under(blobs())) level1.insert(f.begin()->string());
  EXPECT_GE(level1.size(), 100u);  // ~162 expected for 256 ids over 256 folders
}

TEST_F(LocalBlobStoreTest, TempFileLivesInTmpUntilCommit) {
  auto w = store_->create("pending");
  ASSERT_TRUE(w);
  ASSERT_TRUE(await((*w)->append(std::string(100'000, 'p'))));
  EXPECT_EQ(files_under(tmp()).size(), 1u);
  EXPECT_TRUE(files_under(blobs()).empty());

  ASSERT_TRUE(await((*w)->commit()));
  EXPECT_TRUE(files_under(tmp()).empty());
  EXPECT_EQ(files_under(blobs()).size(), 1u);
}

TEST_F(LocalBlobStoreTest, AbortRemovesTempFile) {
  {
    auto w = store_->create("aborted");
    ASSERT_TRUE(w);
    ASSERT_TRUE(await((*w)->append("some")));
    EXPECT_EQ(files_under(tmp()).size(), 1u);
  }
  EXPECT_TRUE(files_under(tmp()).empty());
  EXPECT_TRUE(files_under(blobs()).empty());
}

TEST_F(LocalBlobStoreTest, RemoveStaleTemporariesHonoursAge) {
  // A live writer, written just now.
  auto live = store_->create("live");
  ASSERT_TRUE(live);
  ASSERT_TRUE(await((*live)->append(std::string(70'000, 'l'))));

  // A leftover whose last write was two hours ago.
  fs::path old_file = tmp() / "12345-0000000000000000-0.tmp";
  std::ofstream(old_file) << "old";
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = (now_ms() - 2 * 3600 * 1000) / 1000;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, old_file.c_str(), times, 0), 0);

  auto removed = store_->remove_stale_temporaries(now_ms() - 3600 * 1000);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(old_file));
  EXPECT_EQ(files_under(tmp()).size(), 1u);  // the live one stays

  ASSERT_TRUE(await((*live)->commit()));
  auto r = await(store_->open("live", 0, UINT64_MAX));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->size(), 70'000u);
}

TEST_F(LocalBlobStoreTest, RemoveStaleTemporariesAllAtMax) {
  auto w = store_->create("doomed");
  ASSERT_TRUE(w);
  ASSERT_TRUE(await((*w)->append("x")));
  auto removed = store_->remove_stale_temporaries(std::numeric_limits<UnixMs>::max());
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_TRUE(files_under(tmp()).empty());
  // Its writer can no longer publish, and says so rather than losing bytes silently.
  EXPECT_FALSE(await((*w)->commit()));
  EXPECT_FALSE(await(store_->open("doomed", 0, UINT64_MAX)));
}

TEST_F(LocalBlobStoreTest, CrashLeftoverIsRemoved) {
  // A process killed mid-upload: its destructors never run.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Threads do not survive fork(): the child needs a pool of its own.
    auto child_pool = core::make_thread_pool(1);
    auto s = open_local_blob_store(root_, *child_pool);
    if (!s) ::_exit(2);
    auto w = (*s)->create("crashed");
    if (!w || !await((*w)->append(std::string(200'000, 'c')))) ::_exit(3);
    ::raise(SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);

  EXPECT_EQ(files_under(tmp()).size(), 1u);
  EXPECT_FALSE(await(store_->open("crashed", 0, UINT64_MAX)));
  EXPECT_TRUE(list_all(*store_).empty());

  auto removed = store_->remove_stale_temporaries(std::numeric_limits<UnixMs>::max());
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_TRUE(files_under(tmp()).empty());
}

TEST_F(LocalBlobStoreTest, DurableAfterReopen) {
  std::string bytes(300'000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 + 7);
  ASSERT_TRUE(put("durable", bytes));
  store_.reset();

  auto s = open_local_blob_store(root_, *pool_);
  ASSERT_TRUE(s);
  auto r = await((*s)->open("durable", 0, UINT64_MAX));
  ASSERT_TRUE(r);
  ASSERT_EQ((*r)->size(), bytes.size());
  std::string back(bytes.size(), '\0');
  auto n = await((*r)->read(back));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, bytes.size());
  EXPECT_TRUE(back == bytes);
  auto listed = list_all(**s);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].locator, "durable");
  EXPECT_EQ(listed[0].size, bytes.size());
}

// Synced bytes leave the page cache: an upload is written once and seldom read
// at once, and the pages it freed serve the next one (see FileAppender).
TEST_F(LocalBlobStoreTest, CommittedBytesLeaveThePageCache) {
  ASSERT_TRUE(put("big", std::string(9 << 20, 'b')));  // past two writeback steps
  auto files = files_under(blobs());
  ASSERT_EQ(files.size(), 1u);
  auto cached = cached_pages(blobs() / files[0]);
  if (!cached) GTEST_SKIP() << "the page cache cannot be told apart here (tmpfs)";
  EXPECT_EQ(*cached, 0u);
}

TEST_F(LocalBlobStoreTest, ReaderExposesFileRange) {
  ASSERT_TRUE(put("fd", "zero-copy"));
  auto r = await(store_->open("fd", 5, 100));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->size(), 4u);
  const FileRange file = (*r)->file_range();
  ASSERT_GE(file.fd, 0);
  EXPECT_EQ(file.offset, 5u);
  char buf[16];
  ssize_t n = ::pread(file.fd, buf, sizeof buf, 0);
  ASSERT_EQ(n, 9);
  EXPECT_EQ(std::string(buf, 9), "zero-copy");
  // Removing the blob does not disturb an open reader (a download in flight).
  ASSERT_TRUE(store_->remove("fd"));
  auto m = await((*r)->read(std::span<char>(buf, sizeof buf)));
  ASSERT_TRUE(m);
  EXPECT_EQ(std::string(buf, *m), "copy");
}

TEST_F(LocalBlobStoreTest, ListIgnoresStrayFiles) {
  ASSERT_TRUE(put("real", "r"));
  std::ofstream(blobs() / "README") << "stray";
  fs::create_directories(blobs() / "zz" / "00");
  std::ofstream(blobs() / "zz" / "00" / "fake") << "stray";
  auto files = files_under(blobs());
  fs::create_directories(blobs() / files[0].parent_path() / "sub");  // a folder, not a blob
  std::ofstream(blobs() / files[0].parent_path() / "bad.name") << "stray";

  std::vector<std::string> seen;
  for (const BlobEntry& e : list_all(*store_)) seen.push_back(e.locator);
  EXPECT_EQ(seen, std::vector<std::string>{"real"});
}

TEST_F(SmallBlobTest, SmallBlobIsARowNotAFile) {
  const std::string bytes(4096, 's');
  ASSERT_TRUE(put("small", bytes));
  EXPECT_TRUE(fs::exists(pack()));
  EXPECT_TRUE(files_under(blobs()).empty());
  EXPECT_TRUE(files_under(tmp()).empty());

  auto r = await(store_->open("small", 0, UINT64_MAX));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->size(), bytes.size());
  EXPECT_EQ((*r)->file_range().fd, -1);
  auto tail = await(store_->open("small", 4090, 10));
  ASSERT_TRUE(tail);
  EXPECT_EQ((*tail)->size(), 6u);
  std::string back(10, '\0');
  auto n = await((*tail)->read(back));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 6u);

  std::vector<BlobEntry> seen = list_all(*store_);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].locator, "small");
  EXPECT_EQ(seen[0].size, bytes.size());
  EXPECT_NEAR(static_cast<double>(seen[0].modified_at), static_cast<double>(now_ms()), 60'000);

  ASSERT_TRUE(store_->remove("small"));
  EXPECT_FALSE(await(store_->open("small", 0, UINT64_MAX)));
  ASSERT_TRUE(store_->remove("small"));  // idempotent
}

// in_memory: a packed blob once opened (a download), until removed; never a
// file's blob, nor one not read yet.
TEST_F(SmallBlobTest, InMemoryAfterAReadUntilRemoved) {
  const std::string bytes(4096, 'm');
  ASSERT_TRUE(put("hot", bytes));
  EXPECT_EQ(store_->in_memory("hot"), nullptr);
  ASSERT_TRUE(await(store_->open("hot", 0, UINT64_MAX)));
  auto kept = store_->in_memory("hot");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(*kept, bytes);
  EXPECT_EQ(store_->in_memory("other"), nullptr);
  EXPECT_EQ(store_->in_memory("../hot"), nullptr);
  ASSERT_TRUE(store_->remove("hot"));
  EXPECT_EQ(store_->in_memory("hot"), nullptr);

  ASSERT_TRUE(put("large", std::string(65 * 1024, 'l')));
  ASSERT_TRUE(await(store_->open("large", 0, UINT64_MAX)));
  EXPECT_EQ(store_->in_memory("large"), nullptr);
}

TEST_F(SmallBlobTest, SizeDecidesRowOrFile) {
  ASSERT_TRUE(put("at-limit", std::string(64 * 1024, 'a')));
  EXPECT_TRUE(files_under(blobs()).empty());
  // Appends that pass the limit midway move everything written so far to a file.
  auto w = store_->create("past-limit");
  ASSERT_TRUE(w);
  ASSERT_TRUE(await((*w)->append(std::string(60 * 1024, 'b'))));
  EXPECT_TRUE(files_under(tmp()).empty());
  ASSERT_TRUE(await((*w)->append(std::string(8 * 1024, 'c'))));
  EXPECT_EQ(files_under(tmp()).size(), 1u);
  ASSERT_TRUE(await((*w)->commit()));
  auto files = files_under(blobs());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(slurp(blobs() / files[0]), std::string(60 * 1024, 'b') + std::string(8 * 1024, 'c'));

  EXPECT_EQ(list_all(*store_).size(), 2u);
}

TEST_F(SmallBlobTest, AbortedSmallWriterLeavesNothing) {
  {
    auto w = store_->create("aborted");
    ASSERT_TRUE(w);
    ASSERT_TRUE(await((*w)->append("some")));
  }
  EXPECT_FALSE(await(store_->open("aborted", 0, UINT64_MAX)));
  EXPECT_TRUE(list_all(*store_).empty());
}

TEST_F(SmallBlobTest, NeverShadowsAFileOfTheSameLocator) {
  ASSERT_TRUE(put("twice", std::string(100'000, 'f')));
  auto again = put("twice", "small");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kAlreadyExists);
  auto r = await(store_->open("twice", 0, UINT64_MAX));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->size(), 100'000u);
}

TEST_F(SmallBlobTest, CommittedRowSurvivesAKilledProcess) {
  // The writer returns only after the WAL is synced; a process killed right
  // after that loses nothing (power loss is the crash-consistency test's part).
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Threads do not survive fork(): the child needs a pool of its own.
    auto child_pool = core::make_thread_pool(1);
    auto s = open_local_blob_store(root_, *child_pool);
    if (!s) ::_exit(2);
    auto w = (*s)->create("kept");
    if (!w || !await((*w)->append(std::string(3000, 'k'))) || !await((*w)->commit())) ::_exit(3);
    ::raise(SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);

  store_.reset();
  auto s = open_local_blob_store(root_, *pool_);
  ASSERT_TRUE(s);
  auto r = await((*s)->open("kept", 0, UINT64_MAX));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->size(), 3000u);
}

// Blobs over kInlineMax: their bytes in a segment file, the row says where.
TEST_F(SmallBlobTest, LargerSmallBlobsGoToASegmentAndComeBack) {
  const std::string tiny(100, 't'), mid(20'000, 'm'), top(64 * 1024, 'x');
  ASSERT_TRUE(put("tiny", tiny));
  ASSERT_TRUE(put("mid", mid));
  ASSERT_TRUE(put("top", top));
  EXPECT_TRUE(files_under(blobs()).empty());
  auto files = files_under(segments());
  ASSERT_EQ(files.size(), 1u);
  // Each put was a batch of its own. A batch written directly (not through the
  // page cache) starts at a file system block: the gap after `mid` is padding.
  const uint64_t top_at = std::stoull(query("SELECT at FROM blobs WHERE locator = 'top'"));
  EXPECT_EQ(query("SELECT at FROM blobs WHERE locator = 'mid'"), "0");
  EXPECT_TRUE(top_at == mid.size() ||
              (top_at > mid.size() && top_at % 4096 == 0 && top_at - mid.size() < 64 * 1024))
      << top_at;
  EXPECT_EQ(fs::file_size(segments() / files[0]), top_at + top.size());
  EXPECT_EQ(query("SELECT length(data) FROM blobs WHERE locator = 'tiny'"), "100");
  EXPECT_EQ(query("SELECT length(data) FROM blobs WHERE locator = 'mid'"), "0");
  EXPECT_EQ(query("SELECT size FROM blobs WHERE locator = 'top'"), "65536");
  EXPECT_EQ(read_back("tiny"), tiny);
  EXPECT_EQ(read_back("mid"), mid);
  EXPECT_EQ(read_back("top"), top);
  auto part = await(store_->open("mid", 19'990, 100));
  ASSERT_TRUE(part);
  EXPECT_EQ((*part)->size(), 10u);
  std::vector<BlobEntry> seen = list_all(*store_);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].locator, "mid");
  EXPECT_EQ(seen[0].size, mid.size());
  EXPECT_EQ(seen[2].locator, "top");
  EXPECT_EQ(seen[2].size, top.size());
  // A taken locator is refused, and its bytes are not kept.
  auto again = put("mid", std::string(30'000, 'n'));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(read_back("mid"), mid);
}

TEST_F(SmallBlobTest, SegmentBytesLeaveThePageCacheOnceSynced) {
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(put("s" + std::to_string(i), std::string(40'000, 'p')));
  auto files = files_under(segments());
  ASSERT_EQ(files.size(), 1u);
  auto cached = cached_pages(segments() / files[0]);
  if (!cached) GTEST_SKIP() << "the page cache cannot be told apart here (tmpfs)";
  EXPECT_EQ(*cached, 0u);
  EXPECT_EQ(read_back("s3"), std::string(40'000, 'p'));  // read back from the disk
}

// A batch larger than the direct writes' staging buffer (1 MiB) is written in
// several pieces; blobs of odd sizes straddle them, each in its place.
TEST_F(SmallBlobTest, ABatchPastTheStagingBufferLandsWhole) {
  constexpr int kBlobs = 40;
  auto content = [](int k) {
    std::string bytes(60'001 + k, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((k * 131 + i * 7) % 251);
    return bytes;
  };
  std::vector<BlobWriterPtr> writers;
  std::vector<net::awaitable<Status>> commits;
  for (int k = 0; k < kBlobs; ++k) {
    auto w = store_->create("big-batch-" + std::to_string(k));
    ASSERT_TRUE(w);
    ASSERT_TRUE(await((*w)->append(content(k))));
    commits.push_back((*w)->commit());
    writers.push_back(std::move(*w));
  }
  // Queued together: all but the first few share a batch of ~2.4 MB.
  for (const Status& st : testing::await_all(std::move(commits)))
    ASSERT_TRUE(st) << st.error().message;
  for (int k = 0; k < kBlobs; ++k)
    EXPECT_EQ(read_back("big-batch-" + std::to_string(k)), content(k));
}

// A removal gives the bytes' space back at once; the segment itself goes when
// no row uses it and no process appends to it (here: when the store reopens).
TEST_F(SmallBlobTest, RemovedBytesAreFreedAndEmptySegmentsDeleted) {
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(put("b" + std::to_string(i), std::string(64 * 1024, static_cast<char>('a' + i))));
  auto files = files_under(segments());
  ASSERT_EQ(files.size(), 1u);
  const fs::path segment = segments() / files[0];
  const uint64_t full = allocated(segment);
  EXPECT_GE(full, 8u * 64 * 1024);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store_->remove("b" + std::to_string(i)));
  EXPECT_LE(allocated(segment), full - 5 * 64 * 1024) << "holes punched";
  EXPECT_EQ(read_back("b6"), std::string(64 * 1024, 'g'));
  store_.reset();
  auto s = open_local_blob_store(root_, *pool_);
  ASSERT_TRUE(s);
  store_ = std::move(*s);
  EXPECT_TRUE(fs::exists(segment)) << "rows still use it";
  const std::vector<std::string> last{"b6", "b7", "none"};
  RemovedBlobs removed = store_->remove_many(last);
  ASSERT_TRUE(removed.status) << removed.status.error().message;
  EXPECT_EQ(removed.removed, 3u);
  EXPECT_FALSE(fs::exists(segment)) << "no row uses it and this process appends elsewhere";
  EXPECT_EQ(query("SELECT count(*) FROM segments"), "0");
}

// Two stores on one folder (two processes): each appends to a segment of its
// own, and reads the other's.
TEST_F(SmallBlobTest, TwoStoresAppendToSegmentsOfTheirOwn) {
  auto s = open_local_blob_store(root_, *pool_);
  ASSERT_TRUE(s);
  BlobStorePtr other = std::move(*s);
  ASSERT_TRUE(put("mine", std::string(30'000, '1')));
  auto w = other->create("theirs");
  ASSERT_TRUE(w);
  ASSERT_TRUE(await((*w)->append(std::string(30'000, '2'))));
  ASSERT_TRUE(await((*w)->commit()));
  EXPECT_EQ(files_under(segments()).size(), 2u);
  EXPECT_EQ(read_back("theirs"), std::string(30'000, '2'));
  // The other store's segment is in use: removing its only blob keeps it.
  ASSERT_TRUE(store_->remove("theirs"));
  EXPECT_EQ(files_under(segments()).size(), 2u);
  other.reset();
  // A sweep's removal finds the other's segment unlocked and unused now.
  const std::vector<std::string> mine{"mine"};
  ASSERT_TRUE(store_->remove_many(mine).status);
  EXPECT_EQ(files_under(segments()).size(), 1u) << "this store's own segment stays";
}

// A pack written before segments existed: its rows keep their bytes.
TEST_F(SmallBlobTest, ReadsAPackOfTheFormerLayout) {
  store_.reset();
  fs::remove_all(root_);
  fs::create_directories(root_);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(pack().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "PRAGMA journal_mode = WAL; CREATE TABLE blobs (locator TEXT PRIMARY KEY, "
                         "data BLOB NOT NULL, modified_at INTEGER NOT NULL); INSERT INTO blobs "
                         "VALUES ('old', zeroblob(40000), 1700000000000)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = open_local_blob_store(root_, *pool_);
  ASSERT_TRUE(s) << s.error().message;
  store_ = std::move(*s);
  EXPECT_EQ(read_back("old"), std::string(40'000, '\0'));
  ASSERT_TRUE(put("new", std::string(40'000, 'n')));
  std::vector<BlobEntry> seen = list_all(*store_);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].locator, "old");
  EXPECT_EQ(seen[1].size, 40'000u);
  ASSERT_TRUE(store_->remove("old"));
  EXPECT_FALSE(await(store_->open("old", 0, UINT64_MAX)));
  EXPECT_EQ(read_back("new"), std::string(40'000, 'n'));
}

TEST_F(SmallBlobTest, ConcurrentSmallPutsAllLand) {
  // Many writers committing at once share transactions (group commit); each
  // must still get its own answer and its own bytes.
  constexpr int kThreads = 16;
  constexpr int kEach = 50;
  // Rows of their own bytes and rows of a segment's, mixed in the batches.
  auto size_of = [](int t, int i) -> size_t { return (t % 2 ? 100 : 9'000) + t * 10 + i; };
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = "c" + std::to_string(t) + "-" + std::to_string(i);
        auto st = put(id, std::string(size_of(t, i), static_cast<char>('a' + t)));
        if (!st) {
          if (failures++ == 0) ADD_FAILURE() << st.error().message;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  // A taken locator inside a busy batch fails alone.
  auto dup = put("c3-7", "again");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::kAlreadyExists);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      auto r =
          await(store_->open("c" + std::to_string(t) + "-" + std::to_string(i), 0, UINT64_MAX));
      ASSERT_TRUE(r);
      std::string back((*r)->size(), '\0');
      ASSERT_TRUE(await((*r)->read(back)));
      EXPECT_EQ(back, std::string(size_of(t, i), static_cast<char>('a' + t)));
    }
  }
}

}  // namespace
}  // namespace up::storage
