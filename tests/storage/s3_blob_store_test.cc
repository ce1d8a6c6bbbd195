// What the S3 store does beyond the conformance suite, on the real RGW:
// multipart uploads, their clean-up, ranged reads in pieces, start-up errors.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/blocking.h"
#include "core/crypto.h"
#include "storage/s3/s3_blob_store.h"
#include "storage/s3/s3_client.h"
#include "storage/s3/sigv4.h"
#include "storage/s3_test_env.h"
#include "support/await.h"

namespace up::storage {
namespace {

using testing::await;

using s3_test::random_bytes;

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = s3_test::create_bucket();
    ASSERT_TRUE(b) << b.error().message;
    bucket_ = *b;
  }
  void TearDown() override {
    store_.reset();
    pool_.reset();
    EXPECT_TRUE(s3_test::remove_bucket(bucket_));
  }

  // A store with small parts and pieces, so a few MiB exercise every path.
  void open_store(uint64_t part_size = 5ull << 20, uint64_t read_piece = 1ull << 20,
                  unsigned pieces_ahead = 4) {
    auto o = s3_test::options(bucket_);
    o.part_size = part_size;
    o.read_piece = read_piece;
    o.pieces_ahead = pieces_ahead;
    open_with(o);
  }
  void open_with(const S3BlobStoreOptions& o) {
    auto s = open_s3_blob_store(o, *pool_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  Status put(const std::string& locator, std::string_view bytes, size_t chunk = 64 * 1024) {
    auto w = store_->create(locator);
    if (!w) return fail(w.error());
    for (size_t off = 0; off < bytes.size(); off += chunk)
      if (auto st = await((*w)->append(bytes.substr(off, chunk))); !st) return st;
    return await((*w)->commit());
  }

  std::string get(const std::string& locator, uint64_t offset = 0, uint64_t length = UINT64_MAX) {
    auto r = await(store_->open(locator, offset, length));
    if (!r) return "!" + r.error().message;
    std::string out;
    std::vector<char> buf(64 * 1024);
    for (;;) {
      auto n = await((*r)->read(buf));
      if (!n) return "!" + n.error().message;
      if (*n == 0) break;
      out.append(buf.data(), *n);
    }
    EXPECT_EQ(out.size(), (*r)->size());
    return out;
  }

  std::string bucket_;
  core::BlockingPoolPtr pool_ = core::make_thread_pool(4);
  BlobStorePtr store_;
};

TEST_F(S3BlobStoreTest, MultipartRoundTrip) {
  open_store();
  const std::string bytes = random_bytes((20 << 20) + 123, 1);  // 5 parts, the last short
  ASSERT_TRUE(put("multi", bytes));
  const std::string got = get("multi");
  EXPECT_EQ(got.size(), bytes.size());
  EXPECT_TRUE(got == bytes);
  auto page = store_->list("", "", 10);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].size, bytes.size());
  EXPECT_EQ(*s3_test::count_uploads(bucket_), 0u);
  // A second multipart blob under the same locator is refused, the first kept.
  auto again = put("multi", random_bytes(6 << 20, 2));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), Kind::kAlreadyExists);
  EXPECT_TRUE(get("multi") == bytes);
}

TEST_F(S3BlobStoreTest, ExactPartMultipleAndOnePartsInMemory) {
  auto o = s3_test::options(bucket_);
  o.part_size = 5ull << 20;
  o.parts_in_memory = 1;
  open_with(o);
  const std::string bytes = random_bytes(10 << 20, 3);
  ASSERT_TRUE(put("exact", bytes, 1 << 20));
  EXPECT_TRUE(get("exact") == bytes);
}

TEST_F(S3BlobStoreTest, AbortedWriterLeavesNoUpload) {
  open_store();
  {
    auto w = store_->create("aborted");
    ASSERT_TRUE(w);
    const std::string bytes = random_bytes(12 << 20, 4);
    for (size_t off = 0; off < bytes.size(); off += 1 << 20)
      ASSERT_TRUE(await((*w)->append(std::string_view(bytes).substr(off, 1 << 20))));
    auto during = s3_test::count_uploads(bucket_);
    ASSERT_TRUE(during);
    EXPECT_EQ(*during, 1u);  // the parts went out while the blob was being written
  }
  // The abort runs on the pool once the parts in flight are done.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  uint64_t left = 1;
  while (left > 0 && std::chrono::steady_clock::now() < deadline) {
    auto n = s3_test::count_uploads(bucket_);
    ASSERT_TRUE(n);
    left = *n;
    if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(left, 0u);
  EXPECT_EQ(get("aborted").substr(0, 1), "!");
}

// A size hint over the part size and at most single_put_max: one PUT streamed
// while the bytes come (no multipart upload meanwhile, an ETag without the
// "-<parts>" of a multipart object), the exact bytes stored.
TEST_F(S3BlobStoreTest, SizeHintStreamsOneSinglePut) {
  open_store();
  const std::string bytes = random_bytes((12 << 20) + 7, 10);
  auto w = store_->create("single", bytes.size());
  ASSERT_TRUE(w);
  for (size_t off = 0; off < bytes.size(); off += 64 * 1024)
    ASSERT_TRUE(await((*w)->append(std::string_view(bytes).substr(off, 64 * 1024))));
  EXPECT_EQ(*s3_test::count_uploads(bucket_), 0u);  // multipart would have sent 2 parts by now
  ASSERT_TRUE(await((*w)->commit()));
  EXPECT_EQ(crypto::to_hex(crypto::sha256(get("single"))), crypto::to_hex(crypto::sha256(bytes)));
  auto etag = s3_test::object_etag(bucket_, "blobs/single");
  ASSERT_TRUE(etag) << etag.error().message;
  EXPECT_EQ(etag->find('-'), std::string::npos) << *etag;
  // Never overwrites: the same locator again is refused, the first kept.
  auto again = store_->create("single", bytes.size());
  ASSERT_TRUE(again);
  Status st = ok();
  for (size_t off = 0; off < bytes.size() && st; off += 1 << 20)
    st = await((*again)->append(std::string_view(bytes).substr(off, 1 << 20)));
  if (st) st = await((*again)->commit());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind(), Kind::kAlreadyExists);
  EXPECT_TRUE(get("single") == bytes);
}

// Fewer bytes than announced: commit fails and nothing is under the key.
TEST_F(S3BlobStoreTest, SizeHintWithFewerBytesStoresNothing) {
  open_store();
  const std::string bytes = random_bytes(8 << 20, 11);
  auto w = store_->create("short", 12 << 20);
  ASSERT_TRUE(w);
  for (size_t off = 0; off < bytes.size(); off += 1 << 20)
    ASSERT_TRUE(await((*w)->append(std::string_view(bytes).substr(off, 1 << 20))));
  auto st = await((*w)->commit());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kSizeMismatch);
  w->reset();
  store_.reset();
  pool_.reset();  // waits for the aborted PUT to end
  EXPECT_TRUE(s3_test::object_etag(bucket_, "blobs/short").error().code == Errc::kObjectNotFound);
  EXPECT_TRUE(s3_test::list_objects(bucket_)->empty());
  EXPECT_EQ(*s3_test::count_uploads(bucket_), 0u);
}

// More bytes than announced: the append that goes over fails, nothing stored.
TEST_F(S3BlobStoreTest, SizeHintWithMoreBytesStoresNothing) {
  open_store();
  const std::string bytes = random_bytes(8 << 20, 12);
  auto w = store_->create("long", (6 << 20) + 1);
  ASSERT_TRUE(w);
  Status st = ok();
  for (size_t off = 0; off < bytes.size() && st; off += 1 << 20)
    st = await((*w)->append(std::string_view(bytes).substr(off, 1 << 20)));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kSizeMismatch);
  EXPECT_FALSE(await((*w)->commit()));
  w->reset();
  store_.reset();
  pool_.reset();
  EXPECT_TRUE(s3_test::list_objects(bucket_)->empty());
}

// A writer dropped mid-stream aborts its PUT: nothing under the key.
TEST_F(S3BlobStoreTest, SizeHintDroppedWriterStoresNothing) {
  open_store();
  const std::string bytes = random_bytes(12 << 20, 13);
  {
    auto w = store_->create("dropped", bytes.size());
    ASSERT_TRUE(w);
    for (size_t off = 0; off < (9u << 20); off += 1 << 20)
      ASSERT_TRUE(await((*w)->append(std::string_view(bytes).substr(off, 1 << 20))));
  }
  store_.reset();
  pool_.reset();  // waits for the aborted PUT to end
  EXPECT_TRUE(s3_test::list_objects(bucket_)->empty());
  EXPECT_EQ(*s3_test::count_uploads(bucket_), 0u);
  // The locator is free: a whole blob goes under it.
  pool_ = core::make_thread_pool(4);
  open_store();
  ASSERT_TRUE(put("dropped", bytes));
  EXPECT_TRUE(get("dropped") == bytes);
}

// A hint over single_put_max, or one while single_puts PUTs run, still goes
// multipart (its upload is listed while the bytes come, its ETag ends in -3).
TEST_F(S3BlobStoreTest, SizeHintOverTheLimitOrSlotsGoesMultipart) {
  auto o = s3_test::options(bucket_);
  o.part_size = 5ull << 20;
  o.single_put_max = 10ull << 20;
  o.single_puts = 1;
  open_with(o);
  const std::string bytes = random_bytes(12 << 20, 14);
  auto stream = [&](const std::string& locator, uint64_t hint, uint64_t expected_uploads) {
    auto w = store_->create(locator, hint);
    EXPECT_TRUE(w);
    if (!w) return BlobWriterPtr();
    for (size_t off = 0; off < hint; off += 1 << 20)
      EXPECT_TRUE(await((*w)->append(std::string_view(bytes).substr(off, 1 << 20))));
    EXPECT_EQ(*s3_test::count_uploads(bucket_), expected_uploads) << locator;
    return std::move(*w);
  };
  BlobWriterPtr over = stream("over", bytes.size(), 1);
  ASSERT_TRUE(over);
  ASSERT_TRUE(await(over->commit()));
  EXPECT_TRUE(s3_test::object_etag(bucket_, "blobs/over")->ends_with("-3\""));
  // The one slot taken by a streamed PUT: the next hinted blob goes multipart.
  BlobWriterPtr first = stream("first", 9 << 20, 0);
  BlobWriterPtr second = stream("second", 9 << 20, 1);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(await(first->commit()));
  ASSERT_TRUE(await(second->commit()));
  EXPECT_EQ(s3_test::object_etag(bucket_, "blobs/first")->find('-'), std::string::npos);
  EXPECT_TRUE(s3_test::object_etag(bucket_, "blobs/second")->ends_with("-2\""));
  EXPECT_TRUE(get("first") == bytes.substr(0, 9 << 20));
  EXPECT_TRUE(get("second") == bytes.substr(0, 9 << 20));
}

TEST_F(S3BlobStoreTest, RangedReadsAcrossPieces) {
  open_store(5ull << 20, 1ull << 20);
  const std::string bytes = random_bytes(6 << 20, 5);
  ASSERT_TRUE(put("ranged", bytes));
  EXPECT_TRUE(get("ranged", (3 << 20) + 5, 2 << 20) == bytes.substr((3 << 20) + 5, 2 << 20));
  EXPECT_TRUE(get("ranged", (1 << 20) - 1, 2) == bytes.substr((1 << 20) - 1, 2));
  EXPECT_TRUE(get("ranged", (6 << 20) - 10, 100) == bytes.substr((6 << 20) - 10));
  EXPECT_EQ(get("ranged", 6 << 20, 100), "");
  EXPECT_EQ(get("missing").substr(0, 1), "!");
}

// 64 KiB pieces, three on their way at once: every byte in order, whatever
// the range, and a reader dropped with pieces on the pool is harmless.
TEST_F(S3BlobStoreTest, SeveralPiecesInFlightKeepTheBytesInOrder) {
  open_store(5ull << 20, 64u << 10, 3);
  const std::string bytes = random_bytes((1 << 20) + 4321, 7);
  ASSERT_TRUE(put("window", bytes));
  EXPECT_TRUE(get("window") == bytes);
  EXPECT_TRUE(get("window", 300000, 500000) == bytes.substr(300000, 500000));
  EXPECT_TRUE(get("window", (1 << 20) - 7) == bytes.substr((1 << 20) - 7));
  auto dropped = await(store_->open("window", 0, UINT64_MAX));
  ASSERT_TRUE(dropped);
  dropped->reset();  // its three GETs still on the pool: they own nothing of it
  EXPECT_TRUE(get("window", 1) == bytes.substr(1));
}

// A piece that fails (the object is deleted once the reader is open, so every
// piece past the few already on their way gets a 404) fails the read, and
// every read after it, rather than leaving a gap.
TEST_F(S3BlobStoreTest, AFailedPieceFailsTheRead) {
  open_store(5ull << 20, 64u << 10, 2);
  const std::string bytes = random_bytes(1 << 20, 8);
  ASSERT_TRUE(put("vanishing", bytes));
  auto r = await(store_->open("vanishing", 0, UINT64_MAX));
  ASSERT_TRUE(r);
  ASSERT_TRUE(store_->remove("vanishing"));
  std::string out;
  std::vector<char> buf(64 * 1024);
  Status failure = ok();
  for (;;) {
    auto n = await((*r)->read(buf));
    if (!n) {
      failure = fail(n.error());
      break;
    }
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  ASSERT_FALSE(failure) << "read " << out.size() << " of " << bytes.size() << " bytes";
  EXPECT_LT(out.size(), bytes.size());
  EXPECT_TRUE(out == bytes.substr(0, out.size()));  // what came before the failure is right
  EXPECT_FALSE(await((*r)->read(buf)));
}

TEST_F(S3BlobStoreTest, StaleUploadsAreAborted) {
  open_store();
  ASSERT_TRUE(s3_test::leave_upload(bucket_, "blobs/crashed"));
  ASSERT_TRUE(s3_test::leave_upload(bucket_, "elsewhere/not-ours"));
  auto none = store_->remove_stale_temporaries(0);  // nothing that old
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  auto removed = store_->remove_stale_temporaries(std::numeric_limits<UnixMs>::max());
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(*s3_test::count_uploads(bucket_), 1u);  // outside the prefix: left alone
  EXPECT_TRUE(store_->shared());
}

// An upload is aged by its newest part, not by when it started: a writer that
// runs longer than the grace keeps its upload while another process sweeps.
TEST_F(S3BlobStoreTest, LiveUploadOlderThanTheGraceIsNotAborted) {
  auto o = s3_test::options(bucket_);
  o.part_size = 5ull << 20;
  o.parts_in_memory = 1;  // append returns once its part is stored
  open_with(o);
  const std::string bytes = random_bytes((10 << 20) + 7, 6);
  const std::string_view all(bytes);
  auto w = store_->create("long");
  ASSERT_TRUE(w);
  ASSERT_TRUE(await((*w)->append(all.substr(0, 5 << 20))));  // part 1: starts the upload
  ASSERT_TRUE(s3_test::leave_upload(bucket_, "blobs/crashed"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(await((*w)->append(all.substr(5 << 20, 5 << 20))));  // part 2, just now
  // A grace of 0.7 s: both uploads started before it, only the live one moved since.
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  auto removed = store_->remove_stale_temporaries(static_cast<UnixMs>(now.count()) - 700);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 1u);  // the crashed one
  ASSERT_TRUE(await((*w)->append(all.substr(10 << 20))));
  ASSERT_TRUE(await((*w)->commit()));
  EXPECT_TRUE(get("long") == bytes);
  EXPECT_EQ(*s3_test::count_uploads(bucket_), 0u);
}

TEST_F(S3BlobStoreTest, StartUpErrorsSayWhatIsWrong) {
  auto o = s3_test::options("no-such-bucket-" + bucket_);
  auto missing = open_s3_blob_store(o, *pool_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos)
      << missing.error().message;

  o = s3_test::options(bucket_);
  o.secret_key = "wrong";
  auto keys = open_s3_blob_store(o, *pool_);
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().message.find("refused the keys"), std::string::npos)
      << keys.error().message;

  o = s3_test::options(bucket_);
  o.endpoint = "http://127.0.0.1:1";
  const auto t0 = std::chrono::steady_clock::now();
  auto down = open_s3_blob_store(o, *pool_);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, Errc::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// The examples of AWS's "Signature Calculations for the Authorization Header"
// (sig-v4-header-based-auth), signature for signature.
TEST(S3SigV4Test, MatchesTheAwsExamples) {
  const std::string empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  s3::Fields range{{"range", "bytes=0-9"}};
  s3::Fields none;
  s3::SignInput in{.method = "GET",
                   .canonical_uri = "/test.txt",
                   .query = &none,
                   .headers = &range,
                   .host = "examplebucket.s3.amazonaws.com",
                   .payload_hash = empty_sha,
                   .region = "us-east-1",
                   .access_key = "AKIAIOSFODNN7EXAMPLE",
                   .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                   .now = 1369353600000};  // 2013-05-24T00:00:00Z
  auto get = s3::sign(in);
  ASSERT_EQ(get.size(), 3u);
  EXPECT_EQ(get[0].second, "20130524T000000Z");
  EXPECT_EQ(get[2].second,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

  s3::Fields list_query{{"max-keys", "2"}, {"prefix", "J"}};
  in.canonical_uri = "/";
  in.query = &list_query;
  in.headers = &none;
  auto list = s3::sign(in);
  EXPECT_NE(list[2].second.find(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            std::string::npos)
      << list[2].second;
}

TEST(S3ClientTest, AddressesPathStyleAndVirtualHost) {
  s3::Endpoint e;
  e.scheme = "https";
  e.host = "s3.eu-west-1.amazonaws.com";
  e.bucket = "bkt";
  EXPECT_EQ(s3::Client(e).describe(), "https://bkt.s3.eu-west-1.amazonaws.com");
  e.port = "443";
  EXPECT_EQ(s3::Client(e).describe(), "https://bkt.s3.eu-west-1.amazonaws.com");
  e.scheme = "http";
  e.host = "127.0.0.1";
  e.port = "7480";
  e.path_style = true;
  EXPECT_EQ(s3::Client(e).describe(), "http://127.0.0.1:7480/bkt");
}

TEST(S3UrlTest, ParsesTheBlobsFlag) {
  auto o = parse_s3_url(
      "s3://bkt/some/prefix/?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=eu-west-1"
      "&path_style=true&part_size_mb=16&parts_in_memory=3&read_piece_mb=8&pieces_ahead=6"
      "&single_put_max_mb=1024&single_puts=2");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->bucket, "bkt");
  EXPECT_EQ(o->prefix, "some/prefix");
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(o->region, "eu-west-1");
  EXPECT_TRUE(o->path_style);
  EXPECT_EQ(o->part_size, 16ull << 20);
  EXPECT_EQ(o->parts_in_memory, 3u);
  EXPECT_EQ(o->read_piece, 8ull << 20);
  EXPECT_EQ(o->pieces_ahead, 6u);
  EXPECT_EQ(o->single_put_max, 1ull << 30);
  EXPECT_EQ(o->single_puts, 2u);
  auto plain = parse_s3_url("s3://bkt?endpoint=http://127.0.0.1:7480");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->endpoint, "http://127.0.0.1:7480");
  EXPECT_TRUE(plain->prefix.empty());
  EXPECT_FALSE(plain->path_style);
  for (const char* bad : {"local:/x", "s3://", "s3:///p", "s3://b?nope=1", "s3://b?path_style=yes",
                          "s3://b?region"}) {
    EXPECT_FALSE(parse_s3_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace up::storage
