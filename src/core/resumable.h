#pragma once
// Resumable uploads: one object whose bytes arrive in pieces over many
// requests, possibly to different upgate processes, possibly hours apart
// (tus, Qiniu's resumable upload, OpenIM's multipart upload). Each protocol
// keeps its own wire state (what was declared, until when, by whom; usually in
// a signed upload id); the core keeps the pieces and makes the object:
//   - a piece is stored durably when its request ends, as a temporary object
//     under a reserved key of its upload: a piece acknowledged to a client
//     survives a crash, every process sees it, and two requests racing for
//     one piece cannot both store it;
//   - sequential pieces (tus: each continues the bytes so far) are appended
//     to one staged blob of the upload where the blob store has them
//     (storage::BlobStore::extend), and complete() seals that blob into the
//     final object: the bytes are written once, never copied;
//   - otherwise complete() joins the pieces inside the blob store where it
//     can (S3: a multipart upload of server-side part copies) and this
//     process hashed them in order, or streams them, in order, into the final
//     object (nothing visible before its commit; the pieces are removed after), and
//     a request that carries a whole upload at once goes straight into the
//     final object (begin_whole), with no piece and no copy;
//   - the final object's id is the upload's id, so completing twice (two
//     processes, a client retry) stores one object;
//   - pieces nobody completes expire with the upload (the sweeper collects
//     them like any temporary).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/types.h"
#include "core/uploads.h"

namespace up::meta {
class MetaStore;
}  // namespace up::meta

namespace up::core {

// One resumable upload: the tenant and app it stores into, and its id (from
// ResumableUploads::new_id(); also the final object's id).
struct ResumableRef {
  std::string tenant_id;
  std::string app_id;
  std::string id;
};

// A stored piece of an upload.
struct Piece {
  // The protocol's position of the piece: a part or block number (Qiniu,
  // OpenIM), or the offset its first byte has in the upload (tus).
  uint64_t index = 0;
  // The temporary object holding it (size, sha256, md5/qetag when asked). A
  // staged piece's bytes are [index, index + size) of the upload's staged
  // blob (object.locator). A sequential piece's sha256 covers the upload from
  // its start when this process stored the pieces before it.
  Object object;
  bool staged = false;
};

// How a piece is stored.
struct PieceSpec {
  uint64_t index = 0;
  // The upload's expiry: an unfinished upload's pieces are collected after it.
  UnixMs expires_at = 0;
  std::optional<uint64_t> declared_size;  // the request's Content-Length, when sent
  uint64_t min_bytes = 0;
  std::optional<uint64_t> max_bytes;  // besides the app's limit on one object
  // A piece already stored at this index: removed before this one streams
  // (Qiniu v2 and S3 parts may be sent again), or, when false, this one's
  // commit fails with kObjectKeyExists (tus: two PATCHes racing at one offset).
  bool replace = false;
  // A sequential piece: `index` is the offset of its first byte, and the
  // pieces before it are sequential too. It goes to the upload's staged blob
  // when the blob store has them (and the pieces before it are there: not
  // after a tus whole-upload request cut off), else to a blob of its own. Never with
  // `replace`. Opening it fails with kObjectKeyExists when a piece is at
  // `index` already, kFailedPrecondition when another request is writing the
  // upload or it is completed or terminated.
  bool staged = false;
  // A staged piece's expected size (a Content-Length), when known: a hint
  // (UploadSpec::Staged::size_hint), never checked.
  std::optional<uint64_t> size_hint;
  std::string owner;
  std::string key_id;            // as UploadSpec::key_id
  std::string meta_json = "{}";  // the protocol's extras for this piece (kept with it)
  bool want_md5 = false;
  bool want_qetag = false;
  bool want_crc32 = false;
};

enum class ResumableStatus { kOpen, kCompleted, kTerminated };
struct ResumableState {
  ResumableStatus status = ResumableStatus::kOpen;
  std::optional<Object> object;  // kCompleted: the final object
};

// Thread-safe. The calls not returning an awaitable block (metadata reads and
// writes, copies): call them on the blocking pool.
class ResumableUploads {
 public:
  ResumableUploads(UploadService& uploads, meta::MetaStore& meta, const Clock& clock);
  ResumableUploads(const ResumableUploads&) = delete;
  ResumableUploads& operator=(const ResumableUploads&) = delete;

  // A new upload id. Nothing is stored until the first piece.
  std::string new_id() const;

  // Opens piece spec.index of upload `ref`: append its bytes, then commit()
  // stores it (durable when commit returns; kObjectKeyExists when a piece is
  // there and spec.replace is false). An Upload dropped uncommitted keeps
  // nothing. A commit after the upload completed or was terminated still
  // stores the piece; the protocol checks state() first, and the sweeper
  // collects such a piece at its expiry.
  Result<UploadPtr> begin_piece(const ResumableRef& ref, const PieceSpec& spec);
  // begin_piece's first step, for a request whose upload is opened from a
  // spec (http::UploadHooks::spec, then http::receive_upload): the upload spec
  // of the piece; a piece to be replaced is removed here.
  Result<UploadSpec> piece_upload_spec(const ResumableRef& ref, const PieceSpec& spec);

  // The pieces stored so far, ascending by index (the terminate() marker
  // excluded).
  Result<std::vector<Piece>> pieces(const ResumableRef& ref);

  // The final object opened directly, for a request that carries the whole
  // upload: its id becomes ref.id (UploadSpec::object_id; a spec handed to
  // http::receive_upload may set that itself). Its commit fails
  // with kAlreadyExists when the upload was completed already.
  Result<UploadPtr> begin_whole(const ResumableRef& ref, UploadSpec spec);
  // begin_whole() without blocking (UploadService::begin_at_once): empty when
  // the app's limits are not cached, for begin_whole() on the blocking pool.
  std::optional<Result<UploadPtr>> begin_whole_at_once(const ResumableRef& ref, UploadSpec spec);

  // Streams `pieces` in the order given into a new object made from `spec`
  // (its id is ref.id; when they are all of ref's staged blob, from its
  // start, the blob is sealed instead, and sequential pieces may be joined
  // inside the store: no byte is copied), commits it, then removes those
  // pieces and every other piece of `ref`. The pieces may belong to other uploads (tus
  // concatenation, Qiniu v1 blocks), each listed by pieces() of its own ref. kAlreadyExists when
  // the upload was completed already (the caller may answer with the object from state()); nothing
  // is removed then.
  Result<Object> complete(const ResumableRef& ref, UploadSpec spec, std::span<const Piece> pieces);

  // Removes every piece and leaves a marker, so state() says kTerminated
  // until the marker expires at `expires_at` (the upload's own expiry).
  // Idempotent.
  Status terminate(const ResumableRef& ref, UnixMs expires_at);

  // Whether the upload was completed (and into what) or terminated.
  Result<ResumableState> state(const ResumableRef& ref);

 private:
  // Whether `pieces` are ref's staged blob from its start, in order.
  static bool all_staged(const ResumableRef& ref, std::span<const Piece> pieces);
  Result<Object> seal(const ResumableRef& ref, UploadSpec spec, std::span<const Piece> pieces);
  Result<Object> copy_together(const ResumableRef& ref, UploadSpec spec,
                               std::span<const Piece> pieces);

  UploadService& uploads_;
  meta::MetaStore& meta_;
  const Clock& clock_;
};

// The reserved key of piece `index` of upload `id` (keys starting with "//"
// are never a dialect's), and the prefix all of that upload's pieces share.
std::string piece_key(std::string_view upload_id, uint64_t index);
std::string piece_key_prefix(std::string_view upload_id);
// The locator of upload `id`'s staged blob.
std::string staged_locator(std::string_view upload_id);
// Whether `o` is a piece whose bytes are a range of its upload's staged blob
// (not a blob of its own).
bool is_staged_piece(const Object& o);

}  // namespace up::core
