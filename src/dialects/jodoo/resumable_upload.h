#pragma once
// Qiniu's resumable upload on the Jodoo upload host (spec/qiniu-resumable.md):
// v1 (mkblk/bput/mkfile, resumable_v1.cc) and v2 (/buckets/…/uploads,
// resumable_v2.cc) with Jodoo's upload tokens. The pieces are the core's
// (core/resumable.h); the wire state (which upload, how much of a block,
// until when) travels in signed ctxs and uploadIds (resumable_wire.h). The
// final request (mkfile, complete) applies the token's rules once, as the
// form upload does (upload_grant.h).

#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "core/resumable.h"
#include "dialects/jodoo/resumable_wire.h"
#include "dialects/jodoo/upload_grant.h"

namespace up::dialects::jodoo {

// What the resumable requests need of the dialect.
struct ResumableContext {
  core::Services& services;
  const CallbackClient& callbacks;
  std::string upload_url;  // the `host` a mkblk answer names; Services::public_url when empty
};

bool is_resumable_path(std::string_view path);
boost::asio::awaitable<void> serve_resumable(http::Exchange& ex, const ResumableContext& ctx);

namespace resumable {

constexpr int64_t kUploadSeconds = 7 * 86400;  // ctxs and uploadIds live 7 days (spec §8.5)

enum class Version { kV1, kV2 };

// Qiniu's envelope; kFailedPrecondition (the upload's own state: a bad,
// expired or finished ctx/uploadId) is 701 in v1 and 612 in v2.
http::Response error_response(const http::Exchange& ex, const Error& e, Version v);
boost::asio::awaitable<void> fail_with(http::Exchange& ex, const Error& e, Version v);
Error stale(std::string message);

// Blocking: the `Authorization: UpToken <token>` grant (verify_grant).
Result<Grant> authorize(core::Services& s, const http::Exchange& ex, bool count_rate);
// Blocking: a ctx/uploadId of the grant's app (stale() otherwise).
Result<ResumableToken> read_token(const core::Services& s, const Grant& g, std::string_view text,
                                  ResumableToken::Kind kind);
std::string encode_token(const core::Services& s, const ResumableToken& t);
core::ResumableRef ref_of(const ResumableToken& t);
int64_t now_s(const core::Services& s);

// A piece request (a v1 chunk, a v2 part) besides its bytes.
struct PieceRequest {
  core::ResumableRef ref;
  core::PieceSpec spec;
  std::function<Status(std::string_view)> on_data;     // each chunk, before it is stored
  std::function<Status(core::Upload&)> before_commit;  // once the body has ended
  std::function<std::string(core::Upload&, const Object&)> answer;  // the 200's JSON
};
// Streams the request body into the piece (http::receive_upload) and answers,
// errors in the version's envelope.
boost::asio::awaitable<void> receive_piece(http::Exchange& ex, core::Services& s, Version v,
                                           PieceRequest request);

// Final-size checks made before any copy (fsizeMin, fsizeLimit).
Status check_final_size(const Grant& g, uint64_t size);

// The final object's spec from the grant and the request's naming.
Result<core::UploadSpec> final_spec(const Grant& g, const std::string* requested_key,
                                    const std::string& fname, const std::string& mime_type,
                                    const std::map<std::string, std::string>& vars);

boost::asio::awaitable<void> serve_v1(http::Exchange& ex, const ResumableContext& ctx);
boost::asio::awaitable<void> serve_v2(http::Exchange& ex, const ResumableContext& ctx);

}  // namespace resumable
}  // namespace up::dialects::jodoo
