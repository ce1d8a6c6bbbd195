#include "core/uploads.h"

#include <vector>

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "core/fixture.h"

namespace up::core {
namespace {

class UploadServiceTest : public ::testing::Test, protected testing::CoreFixture {};

TEST_F(UploadServiceTest, CommitMakesObjectVisibleWithHashes) {
  auto spec = testing::spec_for("t1", "a.txt");
  spec.want_md5 = spec.want_qetag = true;
  auto o = upload(spec, "hello world");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->size, 11u);
  EXPECT_EQ(o->sha256, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_EQ(o->md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_EQ(o->qetag, "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
  auto got = files.get("t1", o->id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "a.txt");
  EXPECT_EQ(blob_count(), 1u);
}

// A blob stored by another way (a direct POST to S3) is recorded by adopt()
// as commit() records an upload; the memory store has no direct form.
TEST_F(UploadServiceTest, AdoptRecordsAStoredBlobOnceAndNeverRemovesIt) {
  storage::DirectPostLimits limits;
  limits.max_bytes = 10;
  auto direct = uploads.direct_post(limits);
  ASSERT_FALSE(direct);
  EXPECT_EQ(direct.error().code, Errc::kUnimplemented);

  auto spec = testing::spec_for("t1", "a.txt");
  spec.key = "k1";
  spec.declared_size = 11;
  spec.want_md5 = true;
  EXPECT_EQ(testing::await(uploads.adopt(spec, "blob1")).error().code, Errc::kObjectNotFound);
  auto w = blobs->create("blob1");
  ASSERT_TRUE(w);
  ASSERT_TRUE(testing::await((*w)->append("hello world")));
  ASSERT_TRUE(testing::await((*w)->commit()));
  spec.declared_size = 12;
  EXPECT_EQ(testing::await(uploads.adopt(spec, "blob1")).error().code, Errc::kSizeMismatch);
  spec.declared_size = 11;
  auto o = testing::await(uploads.adopt(spec, "blob1"));
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->locator, "blob1");
  EXPECT_EQ(o->sha256, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_EQ(o->md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
  ASSERT_TRUE(files.get("t1", o->id));
  // A second adopt of the same blob fails and leaves the first one's bytes.
  EXPECT_FALSE(testing::await(uploads.adopt(spec, "blob1")));
  EXPECT_EQ(blob_count(), 1u);
}

TEST_F(UploadServiceTest, QetagOfANineMibStreamMatchesTheReference) {
  std::string data(9 * 1024 * 1024, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7 + 3) % 251);
  auto spec = testing::spec_for("t1", "nine.bin");
  spec.want_md5 = spec.want_qetag = true;
  auto up = uploads.begin(spec);
  ASSERT_TRUE(up);
  // Odd chunk sizes so block edges fall inside chunks.
  for (size_t off = 0; off < data.size(); off += 65537)
    ASSERT_TRUE(testing::await((*up)->append(std::string_view(data).substr(off, 65537))));
  auto o = testing::await((*up)->commit());
  ASSERT_TRUE(o);
  // Computed independently (Python hashlib) from the same bytes.
  EXPECT_EQ(o->qetag, "lk5_fzx0HE36id937TNm8Z_m-5Bn");
  EXPECT_EQ(o->md5, "ef9d68a9a399031ae38c4c5a144879e0");
  EXPECT_EQ(qiniu_etag(data), o->qetag);
  EXPECT_EQ(o->sha256, crypto::to_hex(crypto::sha256(data)));
}

TEST_F(UploadServiceTest, LimitIsEnforcedWhileStreaming) {
  auto spec = testing::spec_for("t1", "big");
  spec.max_bytes = 10;
  auto up = uploads.begin(spec);
  ASSERT_TRUE(up);
  ASSERT_TRUE(testing::await((*up)->append("0123456789")));
  auto st = testing::await((*up)->append("x"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kTooLarge);
  up->reset();  // abandoned: nothing kept
  EXPECT_EQ(blob_count(), 0u);
}

// begin_at_once never reads the store: it opens only while the app's limits
// are cached, and holds the upload to them as begin() does.
TEST_F(UploadServiceTest, BeginAtOnceOpensOnlyWithCachedLimits) {
  Tenant t = *directory.tenant("t1");
  t.quota.max_object_bytes = 100;
  ASSERT_TRUE(directory.update_tenant(t));  // and the cache is empty again
  auto spec = testing::spec_for("t1", "a.txt");
  EXPECT_FALSE(uploads.begin_at_once(spec));
  EXPECT_EQ(spec.name, "a.txt");  // left for begin()

  ASSERT_TRUE(directory.quota_for("t1", Directory::kDefaultApp));
  auto up = uploads.begin_at_once(spec);
  ASSERT_TRUE(up);
  ASSERT_TRUE(*up) << (*up).error().message;
  EXPECT_EQ((**up)->limit(), 100u);
  ASSERT_TRUE(testing::await((**up)->append("hello")));
  auto o = testing::await((**up)->commit());
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(files.get("t1", o->id)->name, "a.txt");

  auto big = testing::spec_for("t1", "big");
  big.declared_size = 101;
  auto refused = uploads.begin_at_once(big);
  ASSERT_TRUE(refused);
  ASSERT_FALSE(*refused);
  EXPECT_EQ((*refused).error().code, Errc::kTooLarge);

  auto staged = testing::spec_for("t1", "piece");
  staged.staged = UploadSpec::Staged{"some-locator", 0};
  EXPECT_FALSE(uploads.begin_at_once(staged));  // opening it reads the store

  clock.advance(60'000);  // past the cache's bound
  auto later = testing::spec_for("t1", "later");
  EXPECT_FALSE(uploads.begin_at_once(later));
}

TEST_F(UploadServiceTest, DeclaredSizeOverLimitIsRefusedUpFront) {
  auto spec = testing::spec_for("t1", "big");
  spec.max_bytes = 10;
  spec.declared_size = 11;
  auto up = uploads.begin(spec);
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().code, Errc::kTooLarge);
}

TEST_F(UploadServiceTest, KeysAreNeverOverwrittenAndGrantsAreSingleUse) {
  auto spec = testing::spec_for("t1", "k");
  spec.key = "saved/key";
  spec.grant_id = "grant-1";
  ASSERT_TRUE(upload(spec, "first"));
  auto again = upload(spec, "second");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kGrantUsed);
  spec.grant_id = "grant-2";
  again = upload(spec, "second");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kObjectKeyExists);
  // The refused uploads left no blob behind; the first is intact.
  EXPECT_EQ(blob_count(), 1u);
  auto first = files.get_by_key("t1", "default", "saved/key");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->size, 5u);
}

TEST_F(UploadServiceTest, QuotaCountsBytesAndObjects) {
  auto t = directory.tenant("t1");
  ASSERT_TRUE(t);
  Tenant changed = *t;
  changed.quota.max_bytes = 10;
  changed.quota.max_objects = 2;
  ASSERT_TRUE(directory.update_tenant(changed));
  ASSERT_TRUE(upload(testing::spec_for("t1", "a"), "12345"));
  auto over = upload(testing::spec_for("t1", "b"), "123456");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::kQuotaExceeded);
  ASSERT_TRUE(upload(testing::spec_for("t1", "c"), "12345"));
  auto third = upload(testing::spec_for("t1", "d"), "");
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, Errc::kObjectLimit);
  EXPECT_EQ(blob_count(), 2u);
}

net::awaitable<Result<Object>> commit(UploadPtr upload) { co_return co_await upload->commit(); }

TEST_F(UploadServiceTest, ConcurrentCommitsAnswerEachUpload) {
  auto t = directory.tenant("t1");
  ASSERT_TRUE(t);
  Tenant changed = *t;
  changed.quota.max_objects = 3;
  ASSERT_TRUE(directory.update_tenant(changed));
  // Five uploads committing at once (their rows share group commits): three
  // fit, the fourth is over the object count, the fifth is under its minimum
  // size; each hears its own answer.
  std::vector<net::awaitable<Result<Object>>> commits;
  for (int i = 0; i < 5; ++i) {
    auto spec = testing::spec_for("t1", "f" + std::to_string(i));
    if (i == 4) spec.min_bytes = 100;
    auto up = uploads.begin(spec);
    ASSERT_TRUE(up);
    ASSERT_TRUE(testing::await((*up)->append("body " + std::to_string(i))));
    commits.push_back(commit(std::move(*up)));
  }
  auto answers = testing::await_all(std::move(commits));
  int stored = 0, over = 0;
  for (int i = 0; i < 4; ++i) {
    if (answers[i]) {
      ++stored;
      EXPECT_EQ(answers[i]->size, 6u);
      EXPECT_TRUE(files.get("t1", answers[i]->id));
    } else {
      ++over;
      EXPECT_EQ(answers[i].error().code, Errc::kObjectLimit);
    }
  }
  EXPECT_EQ(stored, 3);
  EXPECT_EQ(over, 1);
  ASSERT_FALSE(answers[4]);
  EXPECT_EQ(answers[4].error().code, Errc::kTooSmall);
  EXPECT_EQ(blob_count(), 3u);  // the refused ones left no bytes
}

TEST_F(UploadServiceTest, ContentTypeMustBeAMediaTypeAtBegin) {
  auto spec = testing::spec_for("t1", "a.txt");
  spec.content_type = "text/plain\r\nSet-Cookie: pwn=1";
  auto up = uploads.begin(spec);
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().code, Errc::kBadContentType);
  EXPECT_EQ(up.error().kind(), Kind::kInvalidArgument);
  spec.content_type = "text/plain; charset=utf-8";
  auto good = upload(spec, "x");
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->content_type, "text/plain; charset=utf-8");
  spec.content_type = "";  // unknown: allowed, downloads say application/octet-stream
  EXPECT_TRUE(upload(spec, "y"));
  EXPECT_EQ(blob_count(), 2u);
}

// Dialects set a late content type (a form field after the file, a part's
// header) through spec(): commit checks it again and keeps nothing.
TEST_F(UploadServiceTest, LateContentTypeIsCheckedAtCommit) {
  auto spec = testing::spec_for("t1", "a.txt");
  auto up = uploads.begin(spec);
  ASSERT_TRUE(up);
  ASSERT_TRUE(testing::await((*up)->append("body")));
  (*up)->spec().content_type = "text/plain; x=\xff\xfe";
  auto o = testing::await((*up)->commit());
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().code, Errc::kBadContentType);
  up->reset();
  EXPECT_EQ(blob_count(), 0u);
}

TEST_F(UploadServiceTest, ADialectMayTightenTheObjectCount) {
  auto spec = testing::spec_for("t1", "a");
  spec.max_app_objects = 1;
  ASSERT_TRUE(upload(spec, "1"));
  auto second = upload(spec, "2");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kObjectLimit);
}

TEST_F(UploadServiceTest, MinimumSizeIsCheckedAtCommit) {
  auto spec = testing::spec_for("t1", "tiny");
  spec.min_bytes = 1;
  auto o = upload(spec, "");
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().code, Errc::kTooSmall);
  EXPECT_EQ(blob_count(), 0u);
}

TEST_F(UploadServiceTest, UnknownAppIsRefused) {
  auto spec = testing::spec_for("t1", "x");
  spec.app_id = "nope";
  auto up = uploads.begin(spec);
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().code, Errc::kAppNotFound);
}

TEST_F(UploadServiceTest, ForgettingATenantDropsItsCachedObjectsOnly) {
  auto mine = upload(testing::spec_for("t1", "a.txt"), "mine");
  ASSERT_TRUE(mine);
  ASSERT_TRUE(directory.create_tenant("t2", "Tenant Two"));
  auto theirs = upload(testing::spec_for("t2", "b.txt"), "theirs");
  ASSERT_TRUE(theirs);
  ASSERT_TRUE(files.get("t1", mine->id));  // get() caches what it read
  ASSERT_TRUE(files.get("t2", theirs->id));
  ASSERT_TRUE(files.get_cached("t1", mine->id));

  files.forget_tenant("t1");
  EXPECT_FALSE(files.get_cached("t1", mine->id));
  auto kept = files.get_cached("t2", theirs->id);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->id, theirs->id);

  // Read again, it is cached again; forgetting again drops it again.
  ASSERT_TRUE(files.get("t1", mine->id));
  EXPECT_TRUE(files.get_cached("t1", mine->id));
  files.forget_tenant("t1");
  EXPECT_FALSE(files.get_cached("t1", mine->id));
  EXPECT_TRUE(files.get_cached("t2", theirs->id));
}

}  // namespace
}  // namespace up::core
