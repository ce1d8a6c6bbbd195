#pragma once
// The wire pieces of Qiniu's resumable upload (spec/qiniu-resumable.md) that
// need no server: the signed `ctx` (v1) and `uploadId` (v2) handed to
// clients, the mkfile path's parameters, and the v2 etag of other part
// layouts. Pure functions over untrusted bytes: no Beast, no I/O.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace up::dialects::jodoo {

constexpr uint64_t kQiniuBlockBytes = 4ull << 20;

// What a ctx or an uploadId stands for: a resumable upload of one tenant's
// app, until `expires_s`. A v1 ctx also carries its block's declared size
// and the bytes received so far (a ctx is issued per mkblk/bput and names
// the next offset; the pieces are stored by offset).
struct ResumableToken {
  enum class Kind : char { kBlock = 'b', kMultipart = 'm' };
  Kind kind = Kind::kBlock;
  std::string tenant_id;
  std::string app_id;
  std::string id;  // ResumableUploads::new_id()
  uint64_t size = 0;
  uint64_t offset = 0;
  int64_t expires_s = 0;
};

// A decimal number, the whole of `s` (path segments, query values).
std::optional<uint64_t> parse_decimal(std::string_view s);

// url-safe base64 of the fields, '.', a truncated HMAC-SHA256 under
// `signing_key`: path-safe, no ','.
std::string encode_resumable_token(const ResumableToken& t, std::string_view signing_key);

// The token's tenant, read before its signature is checked (it says which
// key checks it); nullopt when malformed.
std::optional<std::string> resumable_token_tenant(std::string_view text);

// kFailedPrecondition for anything malformed, forged, of the other kind or
// expired at `now_s` (Qiniu answers 701 for a ctx, 612 for an uploadId).
Result<ResumableToken> decode_resumable_token(std::string_view text, std::string_view signing_key,
                                              ResumableToken::Kind kind, int64_t now_s);

// `/mkfile/<fileSize>[/key/<b64>][/mimeType/<b64>][/fname/<b64>][/x:<var>/<b64>]
// [/x-qn-meta-<k>/<b64>]...`: name/value pairs in any order, values url-safe
// base64 (padding optional) of UTF-8.
struct MkfileParams {
  uint64_t file_size = 0;
  std::optional<std::string> key;
  std::string mime_type;
  std::string fname;
  std::map<std::string, std::string> vars;  // "x:*" and "x-qn-meta-*"
};
// kInvalidArgument when malformed. `path` starts after "/mkfile/" and is
// still percent-encoded.
Result<MkfileParams> parse_mkfile_path(std::string_view path);

// The v2 etag of a part layout that is not 4 MiB blocks: url-safe base64 of
// 0x9e ‖ SHA1(raw(p1)[1:] ‖ raw(p2)[1:] ‖ …), raw(p) the 21-byte qetag of
// each part (spec §5). `part_qetags` are the parts' qetags as encoded.
Result<std::string> qiniu_etag_v2(std::span<const std::string> part_qetags);

// Whether the parts' sizes make the plain qetag (all 4 MiB but a last
// ≤ 4 MiB), in which case the final etag is the object's qetag.
bool qetag_layout(std::span<const uint64_t> part_sizes);

}  // namespace up::dialects::jodoo
