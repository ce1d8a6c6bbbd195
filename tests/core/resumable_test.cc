#include "core/resumable.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "core/fixture.h"
#include "storage/local/local_blob_store.h"

namespace up::core {
namespace {

class ResumableTest : public ::testing::Test, protected testing::CoreFixture {
 protected:
  explicit ResumableTest(const testing::BlobFactory& blobs = testing::memory_blobs)
      : CoreFixture(blobs) {}

  ResumableUploads resumable{uploads, *meta, clock};
  ResumableRef ref{"t1", std::string(Directory::kDefaultApp), resumable.new_id()};

  PieceSpec piece(uint64_t index) {
    PieceSpec p;
    p.index = index;
    p.expires_at = clock.now() + 3'600'000;
    p.want_md5 = true;
    return p;
  }
  Result<Object> put(const ResumableRef& r, const PieceSpec& spec, std::string_view bytes) {
    auto up = resumable.begin_piece(r, spec);
    if (!up) return fail(up.error());
    UP_TRY(testing::await((*up)->append(bytes)));
    return testing::await((*up)->commit());
  }
  std::vector<uint64_t> indexes(const ResumableRef& r) {
    std::vector<uint64_t> out;
    auto stored = resumable.pieces(r);
    if (stored)
      for (const Piece& p : *stored) out.push_back(p.index);
    return out;
  }
  std::string content(const Object& o) {
    auto reader = testing::await(blobs->open(o.locator, 0, o.size));
    if (!reader) return "<" + reader.error().message + ">";
    std::string out(o.size, '\0');
    size_t at = 0;
    while (at < out.size()) {
      auto n = testing::await((*reader)->read(std::span<char>(out.data() + at, out.size() - at)));
      if (!n || *n == 0) return "<short>";
      at += *n;
    }
    return out;
  }
  UploadSpec final_spec() {
    UploadSpec s = testing::spec_for("t1", "whole.bin");
    s.want_md5 = true;
    return s;
  }
};

TEST_F(ResumableTest, PiecesStoredOutOfOrderCompleteInOrderOnce) {
  ASSERT_TRUE(put(ref, piece(11), " world"));
  ASSERT_TRUE(put(ref, piece(0), "hello"));
  ASSERT_TRUE(put(ref, piece(5), ","));
  // Another upload's pieces are not this one's.
  ResumableRef other{"t1", ref.app_id, resumable.new_id()};
  ASSERT_TRUE(put(other, piece(0), "other"));
  EXPECT_EQ(indexes(ref), (std::vector<uint64_t>{0, 5, 11}));
  auto st = resumable.state(ref);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, ResumableStatus::kOpen);

  auto stored = resumable.pieces(ref);
  ASSERT_TRUE(stored);
  EXPECT_EQ((*stored)[0].object.md5, crypto::to_hex(crypto::md5("hello")));
  auto o = resumable.complete(ref, final_spec(), *stored);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->id, ref.id);
  EXPECT_NE(o->locator, ref.id);  // a new blob: a second completer never touches this one
  EXPECT_EQ(o->size, 12u);
  EXPECT_EQ(o->md5, crypto::to_hex(crypto::md5("hello, world")));
  EXPECT_EQ(content(*o), "hello, world");
  EXPECT_TRUE(indexes(ref).empty());
  EXPECT_EQ(indexes(other), std::vector<uint64_t>{0});
  st = resumable.state(ref);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, ResumableStatus::kCompleted);
  ASSERT_TRUE(st->object);
  EXPECT_EQ(st->object->sha256, o->sha256);

  // Completing again (a retry, another process) stores nothing more.
  ASSERT_TRUE(put(ref, piece(0), "late"));
  auto again = resumable.complete(ref, final_spec(), *resumable.pieces(ref));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kAlreadyExists);
  auto sweep = sweeper.sweep();
  ASSERT_TRUE(sweep);
  EXPECT_EQ(content(*files.get("t1", ref.id)), "hello, world");
}

// Past the first page of pieces (1000): the next page starts after the last
// key of the one before (that key was read after being moved out, so every
// page started over and the list grew without end: 1001 tus chunks took a
// server to 12 GB).
TEST_F(ResumableTest, PiecesPastOnePageAreListedOnceEach) {
  constexpr uint64_t kPieces = 2'345;
  std::string whole;
  for (uint64_t i = 0; i < kPieces; ++i) {
    const std::string byte(1, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(put(ref, piece(i), byte));
    whole += byte;
  }
  auto stored = resumable.pieces(ref);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), kPieces);
  for (uint64_t i = 0; i < kPieces; ++i) ASSERT_EQ((*stored)[i].index, i);
  auto o = resumable.complete(ref, final_spec(), *stored);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(content(*o), whole);
  EXPECT_TRUE(indexes(ref).empty());
}

TEST_F(ResumableTest, APieceIsStoredOnceUnlessReplaced) {
  ASSERT_TRUE(put(ref, piece(0), "first"));
  auto racing = put(ref, piece(0), "second");
  ASSERT_FALSE(racing);
  EXPECT_EQ(racing.error().code, Errc::kObjectKeyExists);
  PieceSpec again = piece(0);
  again.replace = true;
  ASSERT_TRUE(put(ref, again, "third"));
  auto stored = resumable.pieces(ref);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(content((*stored)[0].object), "third");
  // A piece is bounded like any upload.
  PieceSpec small = piece(9);
  small.max_bytes = 3;
  EXPECT_EQ(put(ref, small, "four").error().code, Errc::kTooLarge);
}

TEST_F(ResumableTest, CompleteTakesOtherUploadsPiecesAndRemovesThem) {
  // tus concatenation, Qiniu v1 blocks: each part is an upload of its own.
  ResumableRef a{"t1", ref.app_id, resumable.new_id()};
  ResumableRef b{"t1", ref.app_id, resumable.new_id()};
  ASSERT_TRUE(put(b, piece(0), "tail"));
  ASSERT_TRUE(put(a, piece(0), "head-"));
  auto head = resumable.pieces(a);
  auto tail = resumable.pieces(b);
  ASSERT_TRUE(head && tail);
  std::vector<Piece> all = *head;
  all.insert(all.end(), tail->begin(), tail->end());
  auto o = resumable.complete(ref, final_spec(), all);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(content(*o), "head-tail");
  EXPECT_TRUE(indexes(a).empty());
  EXPECT_TRUE(indexes(b).empty());
}

TEST_F(ResumableTest, WholeUploadInOneRequestIsTheObjectItself) {
  auto up = resumable.begin_whole(ref, final_spec());
  ASSERT_TRUE(up);
  ASSERT_TRUE(testing::await((*up)->append("all at once")));
  auto o = testing::await((*up)->commit());
  ASSERT_TRUE(o);
  EXPECT_EQ(o->id, ref.id);
  auto st = resumable.state(ref);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, ResumableStatus::kCompleted);
  auto twice = resumable.begin_whole(ref, final_spec());
  ASSERT_TRUE(twice);
  ASSERT_TRUE(testing::await((*twice)->append("all at once")));
  EXPECT_EQ(testing::await((*twice)->commit()).error().code, Errc::kAlreadyExists);
  ASSERT_TRUE(sweeper.sweep());
  EXPECT_EQ(blob_count(), 1u);  // the loser's blob is gone, the winner's kept
}

TEST_F(ResumableTest, TerminateRemovesPiecesAndIsRemembered) {
  ASSERT_TRUE(put(ref, piece(0), "abc"));
  ASSERT_TRUE(put(ref, piece(3), "def"));
  const UnixMs expires = clock.now() + 3'600'000;
  ASSERT_TRUE(resumable.terminate(ref, expires));
  ASSERT_TRUE(resumable.terminate(ref, expires));  // idempotent
  EXPECT_TRUE(indexes(ref).empty());
  auto st = resumable.state(ref);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, ResumableStatus::kTerminated);
  ASSERT_TRUE(sweeper.sweep());
  EXPECT_EQ(blob_count(), 1u);  // the marker's (empty) blob only
}

TEST_F(ResumableTest, PiecesOfAnAbandonedUploadExpire) {
  ASSERT_TRUE(put(ref, piece(0), "abc"));
  clock.advance(3'600'001);
  ASSERT_TRUE(sweeper.sweep());
  EXPECT_TRUE(indexes(ref).empty());
  EXPECT_EQ(blob_count(), 0u);
}

storage::BlobStorePtr local_blobs(BlockingPool& pool, const std::string& dir) {
  auto store = storage::open_local_blob_store(dir + "/blobs", pool);
  return store ? std::move(*store) : nullptr;
}

// On the local store sequential pieces go to one staged blob, sealed at the end.
class StagedResumableTest : public ResumableTest {
 protected:
  StagedResumableTest() : ResumableTest(local_blobs) {}

  PieceSpec staged(uint64_t offset) {
    PieceSpec p = piece(offset);
    p.staged = true;
    return p;
  }
  UploadSpec plain_final_spec() {  // SHA-256 only: the running hash suffices
    UploadSpec s = testing::spec_for("t1", "whole.bin");
    s.declared_size = 12;
    return s;
  }
};

TEST_F(StagedResumableTest, SequentialPiecesAreSealedIntoTheObjectNotCopied) {
  ASSERT_TRUE(put(ref, staged(0), "hello"));
  ASSERT_TRUE(put(ref, staged(5), ", "));
  ASSERT_TRUE(put(ref, staged(7), "world"));
  auto stored = resumable.pieces(ref);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 3u);
  for (const Piece& p : *stored) {
    EXPECT_TRUE(p.staged);
    EXPECT_EQ(p.object.locator, staged_locator(ref.id));
  }
  EXPECT_EQ((*stored)[1].object.md5, crypto::to_hex(crypto::md5(", ")));  // its own bytes
  // Its SHA-256 runs from the blob's start: this process wrote the pieces before.
  EXPECT_EQ((*stored)[1].object.sha256, crypto::to_hex(crypto::sha256("hello, ")));

  auto o = resumable.complete(ref, plain_final_spec(), *stored);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->id, ref.id);
  EXPECT_NE(o->locator, staged_locator(ref.id));
  EXPECT_EQ(o->sha256, crypto::to_hex(crypto::sha256("hello, world")));
  EXPECT_EQ(content(*o), "hello, world");
  // The staged name goes with the pieces; the object keeps its bytes.
  ASSERT_TRUE(sweeper.sweep());
  EXPECT_TRUE(indexes(ref).empty());
  EXPECT_EQ(blob_count(), 1u);
  EXPECT_EQ(content(*o), "hello, world");
  // Nothing writes a completed upload's blob again.
  EXPECT_FALSE(resumable.begin_piece(ref, staged(12)));
  EXPECT_FALSE(resumable.begin_piece(ref, staged(0)));
  EXPECT_EQ(content(*o), "hello, world");
}

TEST_F(StagedResumableTest, AnotherProcessSealsByReadingTheBytesOnce) {
  ASSERT_TRUE(put(ref, staged(0), "hello, "));
  ASSERT_TRUE(put(ref, staged(7), "world"));
  // A second process: its running hashes are its own (empty).
  UploadService other_uploads{directory, *meta, *blobs, clock, *pool};
  ResumableUploads other{other_uploads, *meta, clock};
  ASSERT_TRUE(put(ref, staged(12), "!"));
  auto stored = other.pieces(ref);
  ASSERT_TRUE(stored);
  UploadSpec spec = plain_final_spec();
  spec.declared_size = 13;
  spec.want_md5 = true;
  auto o = other.complete(ref, spec, *stored);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->sha256, crypto::to_hex(crypto::sha256("hello, world!")));
  EXPECT_EQ(o->md5, crypto::to_hex(crypto::md5("hello, world!")));
  // Completing again stores nothing more.
  EXPECT_EQ(resumable.complete(ref, spec, *stored).error().code, Errc::kAlreadyExists);
  ASSERT_TRUE(sweeper.sweep());
  EXPECT_EQ(blob_count(), 1u);
}

TEST_F(StagedResumableTest, OneWriterAtATimeAndUnrecordedBytesAreDropped) {
  ASSERT_TRUE(put(ref, staged(0), "abc"));
  {
    auto held = resumable.begin_piece(ref, staged(3));
    ASSERT_TRUE(held);
    ASSERT_TRUE(testing::await((*held)->append("never recorded")));
    // Another request for the same offset while the first writes: refused.
    EXPECT_EQ(resumable.begin_piece(ref, staged(3)).error().code, Errc::kFailedPrecondition);
  }  // dropped uncommitted: its bytes are not the upload's
  ASSERT_TRUE(put(ref, staged(3), "def"));
  EXPECT_EQ(resumable.begin_piece(ref, staged(3)).error().code, Errc::kObjectKeyExists);
  auto stored = resumable.pieces(ref);
  ASSERT_TRUE(stored);
  UploadSpec spec = plain_final_spec();
  spec.declared_size = 6;
  auto o = resumable.complete(ref, spec, *stored);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(content(*o), "abcdef");
  EXPECT_EQ(o->sha256, crypto::to_hex(crypto::sha256("abcdef")));
}

TEST_F(StagedResumableTest, PartialUploadsConcatenateByCopyingTheirRanges) {
  ResumableRef a{"t1", ref.app_id, resumable.new_id()};
  ResumableRef b{"t1", ref.app_id, resumable.new_id()};
  ASSERT_TRUE(put(a, staged(0), "ab"));
  ASSERT_TRUE(put(a, staged(2), "cd"));
  ASSERT_TRUE(put(b, staged(0), "ef"));
  std::vector<Piece> all;
  for (const ResumableRef& r : {a, b}) {
    auto p = resumable.pieces(r);
    ASSERT_TRUE(p);
    all.insert(all.end(), p->begin(), p->end());
  }
  auto o = resumable.complete(ref, final_spec(), all);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(content(*o), "abcdef");
  EXPECT_EQ(o->md5, crypto::to_hex(crypto::md5("abcdef")));
}

}  // namespace
}  // namespace up::core
