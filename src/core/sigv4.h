#pragma once
// AWS Signature Version 4, the parts every signer shares: the amz date, the
// credential scope, the signing-key HMAC chain, and the browser POST form
// (policy + signature). Pure functions over core/crypto, no I/O. Below both
// users: storage/s3 signs its REST requests with it (storage/s3/sigv4.h adds
// the canonical request) and hands out direct POST forms; dialects/openim
// issues and verifies the same forms for upgate's own S3-style endpoint.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.h"

namespace up::sigv4 {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

using Fields = std::vector<std::pair<std::string, std::string>>;

// "20261201T203000Z" for `t`; its first 8 characters are the scope's date.
std::string amz_date(UnixMs t);
// "2026-12-01T20:30:00.000Z": a POST policy's expiration.
std::string policy_expiration(UnixMs t);
// "yyyymmdd/region/service/aws4_request".
std::string scope(std::string_view yyyymmdd, std::string_view region,
                  std::string_view service = "s3");
// The raw signing key: HMAC chain "AWS4"+secret -> yyyymmdd -> region ->
// service -> "aws4_request".
std::string signing_key(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                        std::string_view service = "s3");
// Hex HMAC-SHA256 of `text` (a string to sign, a base64 policy) under the
// signing key of `secret` for that day and region.
std::string signature(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                      std::string_view text);
// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay,
// everything else is %XX (upper case); '/' stays when `keep_slash`.
std::string uri_encode(std::string_view s, bool keep_slash);

// A browser-based POST upload (AWS "POST Object" with a SigV4 policy).
struct PostFormRequest {
  std::string bucket;
  std::string key;
  std::string content_type;  // empty: no Content-Type field nor condition
  uint64_t max_size = 0;     // content-length-range 0..max_size
  UnixMs now = 0;
  UnixMs expires_at = 0;
  std::string access_key_id;
  std::string secret_key;
  std::string region;
};
// The form fields, in minio-go's order (its PresignedPostPolicy, byte for
// byte for keys without JSON escapes): key, bucket, success_action_status
// (200), Content-Type, policy, x-amz-algorithm, x-amz-credential, x-amz-date,
// x-amz-signature.
Fields post_form(const PostFormRequest& request);

}  // namespace up::sigv4
