#include "core/resumable.h"

#include <charconv>
#include <cinttypes>
#include <cstdio>

#include "core/ids.h"
#include "core/object_rules.h"
#include "meta/meta_store.h"

namespace up::core {
namespace {

// The index of terminate()'s marker: no protocol's piece is there (tus
// offsets and Qiniu/S3 part numbers are far smaller).
constexpr uint64_t kTerminatedMarker = UINT64_MAX;
constexpr uint32_t kPiecesPage = 1000;
constexpr std::string_view kPieceKeyRoot = "//r/";

std::optional<uint64_t> index_of(std::string_view key, size_t prefix_size) {
  const std::string_view digits = key.substr(prefix_size);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

}  // namespace

std::string piece_key_prefix(std::string_view upload_id) {
  return std::string(kPieceKeyRoot) + std::string(upload_id) + "/";
}

std::string piece_key(std::string_view upload_id, uint64_t index) {
  // Zero-padded: key order is index order.
  char digits[21];
  std::snprintf(digits, sizeof digits, "%020" PRIu64, index);
  return piece_key_prefix(upload_id) + digits;
}

std::string staged_locator(std::string_view upload_id) { return std::string(upload_id) + "-s"; }

bool is_staged_piece(const Object& o) {
  if (!o.key.starts_with(kPieceKeyRoot)) return false;
  const std::string_view rest = std::string_view(o.key).substr(kPieceKeyRoot.size());
  return o.locator == staged_locator(rest.substr(0, rest.find('/')));
}

ResumableUploads::ResumableUploads(UploadService& uploads, meta::MetaStore& meta,
                                   const Clock& clock)
    : uploads_(uploads), meta_(meta), clock_(clock) {}

std::string ResumableUploads::new_id() const { return new_object_id(clock_.now()); }

Result<UploadPtr> ResumableUploads::begin_piece(const ResumableRef& ref, const PieceSpec& spec) {
  auto u = piece_upload_spec(ref, spec);
  if (!u) return fail(u.error());
  if (!spec.staged) return uploads_.begin(std::move(*u));
  u->staged = UploadSpec::Staged{staged_locator(ref.id), spec.index, spec.size_hint};
  auto upload = uploads_.begin(std::move(*u));
  if (!upload) return upload;
  // The blob is ours until the Upload goes: now nothing can store a piece
  // here or complete the upload behind our back. One that did before must
  // not have its bytes cut (extend() dropped only unrecorded ones if not).
  auto there = meta_.get_object_by_key(ref.tenant_id, ref.app_id, piece_key(ref.id, spec.index));
  if (there) return fail(Errc::kObjectKeyExists, "a piece is stored at this offset already");
  if (there.error().code != Errc::kObjectNotFound) return fail(there.error());
  auto s = state(ref);
  if (!s) return fail(s.error());
  if (s->status != ResumableStatus::kOpen)
    return fail(Errc::kFailedPrecondition, "the upload is completed or terminated");
  return upload;
}

Result<UploadSpec> ResumableUploads::piece_upload_spec(const ResumableRef& ref,
                                                       const PieceSpec& spec) {
  UploadSpec u;
  u.tenant_id = ref.tenant_id;
  u.app_id = ref.app_id;
  u.key = piece_key(ref.id, spec.index);
  u.name = "piece-" + std::to_string(spec.index);
  u.declared_size = spec.declared_size;
  u.min_bytes = spec.min_bytes;
  u.max_bytes = spec.max_bytes;
  u.state = ObjectState::kTemporary;
  u.expires_at = spec.expires_at;
  u.owner = spec.owner;
  u.key_id = spec.key_id;
  u.meta_json = spec.meta_json;
  u.want_md5 = spec.want_md5;
  u.want_qetag = spec.want_qetag;
  u.want_crc32 = spec.want_crc32;
  if (spec.replace) {
    auto old = meta_.get_object_by_key(ref.tenant_id, ref.app_id, u.key);
    if (old) {
      auto gone = mark_deleted(meta_, ref.tenant_id, old->id);
      if (!gone) return fail(gone.error());
    } else if (old.error().code != Errc::kObjectNotFound) {
      return fail(old.error());
    }
  }
  return u;
}

Result<std::vector<Piece>> ResumableUploads::pieces(const ResumableRef& ref) {
  const std::string prefix = piece_key_prefix(ref.id);
  std::vector<Piece> out;
  std::string after;
  for (;;) {
    auto page = meta_.objects_by_key_prefix(ref.tenant_id, ref.app_id, prefix, after, kPiecesPage);
    if (!page) return fail(page.error());
    const bool last_page = page->size() < kPiecesPage;
    if (!last_page) after = page->back().key;  // before the loop moves the keys out
    for (Object& o : *page) {
      auto index = index_of(o.key, prefix.size());
      if (!index || *index == kTerminatedMarker) continue;
      const bool staged = is_staged_piece(o);
      out.push_back(Piece{*index, std::move(o), staged});
    }
    if (last_page) return out;
  }
}

namespace {
UploadSpec whole_spec(const ResumableRef& ref, UploadSpec spec) {
  spec.tenant_id = ref.tenant_id;
  spec.app_id = ref.app_id;
  spec.object_id = ref.id;
  return spec;
}
}  // namespace

Result<UploadPtr> ResumableUploads::begin_whole(const ResumableRef& ref, UploadSpec spec) {
  return uploads_.begin(whole_spec(ref, std::move(spec)));
}

std::optional<Result<UploadPtr>> ResumableUploads::begin_whole_at_once(const ResumableRef& ref,
                                                                       UploadSpec spec) {
  spec = whole_spec(ref, std::move(spec));
  return uploads_.begin_at_once(spec);
}

Result<Object> ResumableUploads::complete(const ResumableRef& ref, UploadSpec spec,
                                          std::span<const Piece> pieces) {
  auto object = all_staged(ref, pieces) ? seal(ref, std::move(spec), pieces)
                                        : copy_together(ref, std::move(spec), pieces);
  if (!object) return object;
  // The object is durable: what remains is clean-up. A piece left behind by a
  // failure here expires with the upload.
  for (const Piece& p : pieces) UP_TRY(mark_deleted(meta_, p.object.tenant_id, p.object.id));
  auto rest = this->pieces(ref);
  if (!rest) return fail(rest.error());
  for (const Piece& p : *rest) UP_TRY(mark_deleted(meta_, p.object.tenant_id, p.object.id));
  return object;
}

bool ResumableUploads::all_staged(const ResumableRef& ref, std::span<const Piece> pieces) {
  const std::string staged = staged_locator(ref.id);
  uint64_t end = 0;
  for (const Piece& p : pieces) {
    if (!p.staged || p.object.locator != staged || p.index != end) return false;
    end += p.object.size;
  }
  return !pieces.empty();
}

Result<Object> ResumableUploads::seal(const ResumableRef& ref, UploadSpec spec,
                                      std::span<const Piece> pieces) {
  spec.tenant_id = ref.tenant_id;
  spec.app_id = ref.app_id;
  spec.object_id = ref.id;
  const Piece& last = pieces.back();
  return uploads_.seal(std::move(spec), staged_locator(ref.id), last.index + last.object.size);
}

Result<Object> ResumableUploads::copy_together(const ResumableRef& ref, UploadSpec spec,
                                               std::span<const Piece> pieces) {
  spec.tenant_id = ref.tenant_id;
  spec.app_id = ref.app_id;
  spec.object_id = ref.id;
  // Joined inside the store when it can and this process hashed them all.
  std::vector<storage::BlobRange> ranges;
  for (const Piece& p : pieces)
    ranges.push_back({p.object.locator, p.staged ? p.index : 0, p.object.size});
  auto composed = uploads_.compose(spec, staged_locator(ref.id), ranges);
  if (composed || composed.error().code != Errc::kUnimplemented) return composed;
  auto upload = begin_whole(ref, std::move(spec));
  if (!upload) return fail(upload.error());
  for (const Piece& p : pieces) UP_TRY((*upload)->append_object(p.object, p.staged ? p.index : 0));
  return (*upload)->commit_blocking();
}

Status ResumableUploads::terminate(const ResumableRef& ref, UnixMs expires_at) {
  auto stored = pieces(ref);
  if (!stored) return fail(stored.error());
  for (const Piece& p : *stored) UP_TRY(mark_deleted(meta_, p.object.tenant_id, p.object.id));
  PieceSpec marker;
  marker.index = kTerminatedMarker;
  marker.expires_at = expires_at;
  marker.max_bytes = 0;
  auto upload = begin_piece(ref, marker);
  if (!upload) return fail(upload.error());
  auto committed = (*upload)->commit_blocking();
  if (!committed && committed.error().code != Errc::kObjectKeyExists)
    return fail(committed.error());
  return ok();
}

Result<ResumableState> ResumableUploads::state(const ResumableRef& ref) {
  ResumableState s;
  auto object = meta_.get_object(ref.tenant_id, ref.id);
  if (object && object->app_id == ref.app_id) {
    s.status = ResumableStatus::kCompleted;
    s.object = std::move(*object);
    return s;
  }
  if (!object && object.error().code != Errc::kObjectNotFound) return fail(object.error());
  auto marker =
      meta_.get_object_by_key(ref.tenant_id, ref.app_id, piece_key(ref.id, kTerminatedMarker));
  if (marker) {
    s.status = ResumableStatus::kTerminated;
  } else if (marker.error().code != Errc::kObjectNotFound) {
    return fail(marker.error());
  }
  return s;
}

}  // namespace up::core
