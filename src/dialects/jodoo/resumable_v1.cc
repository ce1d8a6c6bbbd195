// Qiniu resumable upload v1 (spec/qiniu-resumable.md §2, §8.3):
//   POST /mkblk/<blockSize>          the block's first chunk: a new upload per block
//   POST /bput/<ctx>/<offset>        its next chunk (GO SDK; QN sends whole blocks)
//   POST /mkfile/<fileSize>/...      the last ctx of each block, comma-separated
// A block is a core resumable upload whose pieces are indexed by offset; the
// ctx names it, its size and the bytes received (signed, 7 days). mkfile
// completes the first block's upload from every block's pieces in order.

#include <map>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/services.h"
#include "dialects/dialect_prelude.h"
#include "dialects/jodoo/resumable_upload.h"
#include "http/header_params.h"

namespace up::dialects::jodoo::resumable {
namespace {

constexpr uint64_t kMaxCtxListBytes = 4ull << 20;
constexpr size_t kReadBytes = 64 * 1024;

using Kind = ResumableToken::Kind;

Error incomplete(size_t block, uint64_t want, uint64_t got) {
  return stale("incomplete block: block " + std::to_string(block) + " expect " +
               std::to_string(want) + " bytes but only " + std::to_string(got) + " bytes uploaded");
}

// Blocking: the pieces of a block that hold its bytes [0, upto), in order.
Result<std::vector<core::Piece>> block_pieces(core::Services& s, const ResumableToken& t,
                                              uint64_t upto) {
  auto stored = s.resumable.pieces(ref_of(t));
  if (!stored) return fail(stored.error());
  std::map<uint64_t, core::Piece*> by_offset;
  for (core::Piece& p : *stored) by_offset[p.index] = &p;
  std::vector<core::Piece> chain;
  uint64_t at = 0;
  while (at < upto) {
    auto it = by_offset.find(at);
    if (it == by_offset.end() || it->second->object.size == 0 ||
        at + it->second->object.size > upto)
      return fail(stale("conflict with uploaded data, please retry"));
    at += it->second->object.size;
    chain.push_back(std::move(*it->second));
  }
  return chain;
}

// The block so far into `sha1`, read back from its pieces (at most 4 MiB).
net::awaitable<Status> hash_pieces(core::Services& s, const std::vector<core::Piece>& pieces,
                                   crypto::Digest& sha1) {
  std::string buf(kReadBytes, '\0');
  for (const core::Piece& p : pieces) {
    auto reader = co_await s.files.open_blob(p.object);
    if (!reader) co_return fail(reader.error());
    for (;;) {
      auto n = co_await reader->read(std::span<char>(buf.data(), buf.size()));
      if (!n) co_return fail(n.error());
      if (*n == 0) break;
      sha1.update(std::string_view(buf.data(), *n));
    }
  }
  co_return ok();
}

std::string block_answer(const ResumableContext& c, const ResumableToken& t,
                         const std::string& checksum, uint32_t crc32) {
  json::object o;
  o["ctx"] = encode_token(c.services, t);
  o["checksum"] = crypto::base64url(checksum, true);
  o["crc32"] = crc32;
  o["offset"] = t.offset;
  o["host"] = c.upload_url.empty() ? c.services.public_url : c.upload_url;
  o["expired_at"] = t.expires_s;
  return json::serialize(o);
}

// mkblk (bput_ctx empty) or bput: one chunk of a block, stored as a piece at
// its offset.
net::awaitable<void> serve_chunk(Exchange& ex, const ResumableContext& c, std::string_view arg,
                                 std::string_view bput_ctx) {
  core::Services& s = c.services;
  std::optional<Grant> grant;
  ResumableToken t;
  std::vector<core::Piece> before;
  auto admitted = co_await blocking(ex, [&]() -> Status {
    auto g = authorize(s, ex, false);
    if (!g) return fail(g.error());
    grant.emplace(std::move(*g));
    if (bput_ctx.empty()) {
      const auto size = parse_decimal(arg);
      if (!size || *size == 0 || *size > kQiniuBlockBytes)
        return fail(Errc::kInvalidArgument, "invalid block size: blocks are 1 B to 4 MiB");
      t.kind = Kind::kBlock;
      t.tenant_id = grant->app.tenant_id;
      t.app_id = grant->app.id;
      t.id = s.resumable.new_id();
      t.size = *size;
      t.expires_s = now_s(s) + kUploadSeconds;
      return ok();
    }
    auto read = read_token(s, *grant, bput_ctx, Kind::kBlock);
    if (!read) return fail(read.error());
    t = std::move(*read);
    if (parse_decimal(arg) != t.offset || t.offset >= t.size)
      return fail(stale("conflict with uploaded data, please retry"));
    auto pieces = block_pieces(s, t, t.offset);
    if (!pieces) return fail(pieces.error());
    before = std::move(*pieces);
    return ok();
  });
  if (!admitted) co_return co_await fail_with(ex, admitted.error(), Version::kV1);
  ex.log_field("tenant", t.tenant_id);
  const uint64_t room = t.size - t.offset;
  if (ex.content_length() && *ex.content_length() > room)
    co_return co_await fail_with(
        ex, Error(Errc::kTooLarge, "the chunk is larger than the rest of its block"), Version::kV1);

  crypto::Digest sha1(crypto::Digest::Algo::kSha1);
  if (auto st = co_await hash_pieces(s, before, sha1); !st)
    co_return co_await fail_with(ex, st.error(), Version::kV1);
  PieceRequest req;
  req.ref = ref_of(t);
  req.spec.index = t.offset;
  req.spec.expires_at = t.expires_s * 1000;
  req.spec.declared_size = ex.content_length();
  req.spec.min_bytes = 1;
  req.spec.max_bytes = room;
  req.spec.replace = true;  // a chunk sent again (a retry) replaces its first try
  req.spec.owner = grant->token.access_key;
  req.spec.want_crc32 = true;
  req.on_data = [&sha1](std::string_view data) {
    sha1.update(data);
    return ok();
  };
  req.before_commit = [](core::Upload&) { return ok(); };
  req.answer = [&](core::Upload& upload, const Object& piece) {
    t.offset += piece.size;
    return block_answer(c, t, sha1.final(), upload.crc32());
  };
  co_await receive_piece(ex, s, Version::kV1, std::move(req));
}

// Blocking: mkfile's checks and the final object.
Result<Object> make_file(core::Services& s, const Grant& g, const MkfileParams& p,
                         std::string_view ctx_list) {
  std::vector<std::string_view> ctxs;
  for (size_t at = 0; at < ctx_list.size();) {
    const auto comma = std::min(ctx_list.find(',', at), ctx_list.size());
    const auto ctx = http::trim_ows(ctx_list.substr(at, comma - at));
    if (!ctx.empty()) ctxs.push_back(ctx);
    at = comma + 1;
  }
  UP_TRY(check_final_size(g, p.file_size));
  std::vector<core::Piece> pieces;
  std::optional<ResumableToken> first;
  uint64_t total = 0;
  for (size_t i = 0; i < ctxs.size(); ++i) {
    auto t = read_token(s, g, ctxs[i], Kind::kBlock);
    if (!t) return fail(t.error());
    if (i == 0) {
      // The file is made under the first block's id: made already, the blocks are gone.
      auto state = s.resumable.state(ref_of(*t));
      if (!state) return fail(state.error());
      if (state->status == core::ResumableStatus::kCompleted)
        return fail(Errc::kGrantUsed, "file exists");
    }
    if (t->offset != t->size) return fail(incomplete(i, t->size, t->offset));
    if (i + 1 < ctxs.size() && t->size != kQiniuBlockBytes)
      return fail(stale("block " + std::to_string(i) + " is not 4 MiB and not the last"));
    auto chain = block_pieces(s, *t, t->size);
    if (!chain) return fail(chain.error());
    for (core::Piece& piece : *chain) pieces.push_back(std::move(piece));
    total += t->size;
    if (!first) first = std::move(*t);
  }
  if (total != p.file_size)
    return fail(stale("file size " + std::to_string(p.file_size) + " but the blocks hold " +
                      std::to_string(total) + " bytes"));
  auto spec = final_spec(g, p.key ? &*p.key : nullptr, p.fname, p.mime_type, p.vars);
  if (!spec) return fail(spec.error());
  Result<Object> made = fail(Errc::kInternal);
  if (!first) {
    // An empty file (mkfile/0, no block): nothing to assemble.
    const core::ResumableRef ref{g.app.tenant_id, g.app.id, s.resumable.new_id()};
    auto upload = s.resumable.begin_whole(ref, std::move(*spec));
    if (!upload) return fail(upload.error());
    made = (*upload)->commit_blocking();
  } else {
    made = s.resumable.complete(ref_of(*first), std::move(*spec), pieces);
  }
  // Completed before: the file is there, under this token's single use.
  if (!made && made.error().code == Errc::kAlreadyExists)
    return fail(Errc::kGrantUsed, "file exists");
  return made;
}

net::awaitable<void> serve_mkfile(Exchange& ex, const ResumableContext& c, std::string_view rest) {
  core::Services& s = c.services;
  auto decoded = http::percent_decode(rest);
  if (!decoded) co_return co_await fail_with(ex, decoded.error(), Version::kV1);
  auto params = parse_mkfile_path(*decoded);
  if (!params) co_return co_await fail_with(ex, params.error(), Version::kV1);
  auto grant = co_await blocking(ex, [&] { return authorize(s, ex, true); });
  if (!grant) co_return co_await fail_with(ex, grant.error(), Version::kV1);
  ex.log_field("tenant", grant->app.tenant_id);
  auto body = co_await ex.read_all(kMaxCtxListBytes);
  if (!body) co_return co_await fail_with(ex, body.error(), Version::kV1);
  auto object = co_await blocking(ex, [&] { return make_file(s, *grant, *params, *body); });
  if (!object) co_return co_await fail_with(ex, object.error(), Version::kV1);
  auto answer =
      co_await final_answer(ex, s, c.callbacks, *grant, *object, params->vars, object->qetag);
  if (!answer) co_return co_await fail_with(ex, answer.error(), Version::kV1);
  co_await ex.send(std::move(*answer));
}

}  // namespace

net::awaitable<void> serve_v1(Exchange& ex, const ResumableContext& c) {
  const std::string_view path = ex.path();
  if (ex.method() != "POST")
    co_return co_await fail_with(ex, Error(Errc::kMethodNotAllowed, "use POST"), Version::kV1);
  if (path.starts_with("/mkblk/")) co_return co_await serve_chunk(ex, c, path.substr(7), {});
  if (path.starts_with("/mkfile/")) co_return co_await serve_mkfile(ex, c, path.substr(8));
  // /bput/<ctx>/<offset>
  const std::string_view rest = path.substr(6);
  const auto slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0)
    co_return co_await fail_with(ex, Error(Errc::kRouteNotFound, "no such route"), Version::kV1);
  co_await serve_chunk(ex, c, rest.substr(slash + 1), rest.substr(0, slash));
}

}  // namespace up::dialects::jodoo::resumable
