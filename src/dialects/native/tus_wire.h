#pragma once
// The wire format of tus 1.0.0 (https://tus.io/protocols/resumable-upload) on
// the native API: its header values, the signed upload URL and the upload
// grant. No Beast, no I/O: a pure library (fuzzed by fuzz/tus_wire_fuzz.cc).
//
// An upload URL is /v1/tus/<token>: the token carries everything the upload
// was created with (tenant, app, resumable id, length or deferred, metadata,
// expiry, partial/final, the credential) signed with a key derived from the
// server's master key, so HEAD, PATCH and DELETE need no credential and no
// metadata read to know what the upload is. A grant is the same kind of
// signed token, minted by an app for a browser.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/result.h"
#include "core/types.h"

namespace up::dialects::native::tus {

inline constexpr std::string_view kVersion = "1.0.0";
inline constexpr std::string_view kExtensions =
    "creation,creation-with-upload,creation-defer-length,termination,concatenation,expiration,"
    "checksum";
inline constexpr std::string_view kChecksumAlgorithms = "sha1,sha256,md5";
inline constexpr std::string_view kOffsetStream = "application/offset+octet-stream";
// Grants are bearer tokens like API keys ("upk_..."); the prefix tells them apart.
inline constexpr std::string_view kGrantPrefix = "ugr_";
// The longest Upload-Metadata kept (it travels inside the upload URL).
inline constexpr size_t kMaxMetadataBytes = 2048;

enum class Concat { kNone, kPartial, kFinal };

struct UploadToken {
  std::string tenant_id, app_id;
  std::string id;                  // core::ResumableUploads::new_id(); the final object's id
  std::optional<uint64_t> length;  // nullopt: deferred (Upload-Defer-Length: 1)
  uint64_t max_bytes = 0;          // the largest length allowed (app or grant limit)
  std::string metadata;            // Upload-Metadata as sent, for HEAD
  std::string name, content_type;  // from the metadata's filename and filetype/contentType
  UnixMs expires_at = 0;
  Concat concat = Concat::kNone;
  std::string key_id;    // the API key that created it, or
  std::string grant_id;  // the grant (consumed when the upload completes)
  UnixMs grant_expires_at = 0;
};
std::string encode_upload_token(const UploadToken& t, std::string_view signing_key);
// kGrantInvalid when malformed or not signed with `signing_key`; the expiry is
// the caller's to check.
Result<UploadToken> decode_upload_token(std::string_view token, std::string_view signing_key);

struct UploadGrant {
  std::string tenant_id, app_id;
  std::string id;      // random; the single-use id
  std::string key_id;  // the API key that minted it
  uint64_t max_bytes = 0;
  UnixMs expires_at = 0;
};
// "ugr_" + signed payload.
std::string encode_grant(const UploadGrant& g, std::string_view signing_key);
Result<UploadGrant> decode_grant(std::string_view token, std::string_view signing_key);

// Upload-Metadata: comma-separated "key base64value" pairs (the value may be
// absent). kInvalidArgument for bad base64, an empty or repeated key.
Result<std::map<std::string, std::string>> parse_metadata(std::string_view header);

// Upload-Checksum: "<sha1|sha256|md5> <base64 digest>".
struct Checksum {
  crypto::Digest::Algo algo = crypto::Digest::Algo::kSha256;
  std::string digest;  // raw bytes
};
// kInvalidArgument for an algorithm not listed in kChecksumAlgorithms or a bad digest.
Result<Checksum> parse_checksum(std::string_view header);

// Upload-Concat: "partial" or "final;<url> <url> ...": the upload tokens of
// the URLs (the last path segment of each), in order.
struct ConcatHeader {
  Concat kind = Concat::kNone;
  std::vector<std::string> tokens;
};
Result<ConcatHeader> parse_concat(std::string_view header);

// A non-negative decimal (Upload-Offset, Upload-Length); kInvalidArgument otherwise.
Result<uint64_t> parse_size(std::string_view s, std::string_view header_name);

// RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (Upload-Expires).
std::string http_date(UnixMs t);

}  // namespace up::dialects::native::tus
