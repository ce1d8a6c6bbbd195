#pragma once
// The two opaque strings the OpenIM dialect hands to clients and later reads
// back: the initiate_form_data `id` (OpenIM's FormDataMate, unpadded standard
// base64 of a JSON object, as open-im-server makes it) and the `token` header
// (a JWT signed with HMAC-SHA256 under a key upgate derives per app). No Beast,
// no I/O; both decoders take untrusted input and are fuzzed
// (fuzz/openim_ids_fuzz.cc).

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "core/result.h"
#include "core/types.h"

namespace up::dialects::openim {

// FormDataMate: {"name","size","contentType","group","key"}.
struct FormId {
  std::string name;
  int64_t size = 0;
  std::string content_type;
  std::string group;
  std::string key;
  // A direct upload's blob locator and its signature (direct_form_signature);
  // both empty for upgate's own form.
  std::string blob;
  std::string blob_signature;
};
std::string encode_form_id(const FormId& id);
// kInvalidArgument ("invalid id") for anything that is not such an object.
Result<FormId> decode_form_id(std::string_view id);

// OpenIM's token error codes (errs/predefine.go), returned as they are sent.
enum class TokenFault {
  kExpired = 1501,
  kInvalid = 1502,
  kMalformed = 1503,
  kNotValidYet = 1504,
  kUnknown = 1505,
  kKicked = 1506,
  kNotExist = 1507,
};

// What a token says. Times in Unix seconds, as JWT has them.
struct TokenClaims {
  std::string user_id;
  int platform_id = 0;
  std::string tenant_id;
  std::string app_id;
  std::string
      key_id;  // the API key ("secret") that obtained it: revoking the key revokes the token
  bool admin = false;
  int64_t issued_at = 0;
  int64_t not_before = 0;
  int64_t expires_at = 0;
};

// "<b64url header>.<b64url claims>.<b64url HMAC-SHA256>"
std::string issue_token(const TokenClaims& claims, std::string_view signing_key);
// Reads the claims without checking the signature (to find the app whose key
// signs it); kMalformed when it is not such a token.
tl::expected<TokenClaims, TokenFault> read_token(std::string_view token);
// The signature (kInvalid), then the time window (kNotValidYet, kExpired).
tl::expected<void, TokenFault> verify_token(std::string_view token, const TokenClaims& claims,
                                            std::string_view signing_key, UnixMs now);

}  // namespace up::dialects::openim

namespace up::dialects::openim {

// The S3 access key id of an app's form credentials: "UPG" + upper-case hex of
// "<tenant>/<app>", so the form endpoint finds the app (and so its secret)
// from the signed credential alone. Ids never contain '/'.
std::string access_key_id(std::string_view tenant_id, std::string_view app_id);
// false when `key_id` is not of that shape.
bool parse_access_key_id(std::string_view key_id, std::string& tenant_id, std::string& app_id);

}  // namespace up::dialects::openim

namespace up::dialects::openim {

// A multipart upload of initiate_multipart_upload, carried in its uploadID
// (stateless: "<b64url JSON>.<b64url HMAC-SHA256>" under a key derived per app).
struct MultipartUpload {
  std::string tenant_id;
  std::string app_id;
  std::string user_id;
  std::string hash;  // OpenIM's: hex md5 of the comma-joined hex md5s of the parts
  int64_t size = 0;
  int64_t part_size = 0;
  UnixMs expires_at = 0;
  std::string nonce;  // the core resumable upload holding its parts (core/resumable.h)

  int64_t part_count() const { return part_size > 0 ? (size + part_size - 1) / part_size : 0; }
  // The exact length of part n (1-based): part_size, the last one the rest.
  int64_t part_length(int64_t n) const {
    return n < part_count() ? part_size : size - (part_count() - 1) * part_size;
  }
};
std::string encode_upload_id(const MultipartUpload& upload, std::string_view signing_key);
// The claims without checking the signature (to find the app whose key signs
// it); kInvalidArgument when it is not such an id.
Result<MultipartUpload> read_upload_id(std::string_view upload_id);
// kGrantInvalid for a bad signature (the expiry is the caller's to check).
Status verify_upload_id(std::string_view upload_id, std::string_view signing_key);
// Hex HMAC binding a direct upload's blob locator to its key, size and type:
// the id travels through the client, and complete_form_data records the blob
// it names, so only a locator upgate handed out for that form may come back.
std::string direct_form_signature(std::string_view signing_key, const FormId& id);
// Hex HMAC over the upload id, part number and expiry (unix seconds) of a part PUT URL.
std::string part_signature(std::string_view signing_key, std::string_view upload_id,
                           int64_t part_number, int64_t expires_unix_s);

}  // namespace up::dialects::openim
