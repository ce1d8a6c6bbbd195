#pragma once
// AWS Signature Version 4 for S3 REST requests (header authorization). Pure
// functions over core/crypto, no I/O.
//
// TODO(s3): the signing-key chain and the amz date also live in
// dialects/openim/post_policy.cc (for POST policies); both should move to one
// core/sigv4.h, which storage may include (a dialect may not be).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.h"

namespace up::storage::s3 {

using Fields = std::vector<std::pair<std::string, std::string>>;

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay,
// everything else is %XX (upper case); '/' stays when `keep_slash`.
std::string uri_encode(std::string_view s, bool keep_slash);
// "20261201T203000Z" for `t`.
std::string amz_date(UnixMs t);

struct SignInput {
  std::string_view method;
  std::string_view canonical_uri;  // already encoded, e.g. "/bucket/a%20b"
  const Fields* query = nullptr;   // unencoded name/value pairs
  // Headers to sign besides host, x-amz-date and x-amz-content-sha256 (names
  // lower case, values trimmed).
  const Fields* headers = nullptr;
  std::string_view host;          // the Host header as sent
  std::string_view payload_hash;  // hex SHA-256 or "UNSIGNED-PAYLOAD"
  std::string_view region;
  std::string_view access_key;
  std::string_view secret_key;
  UnixMs now = 0;
};

// The canonical query string: names and values encoded, sorted.
std::string canonical_query(const Fields& query);
// The headers to add to the request: x-amz-date, x-amz-content-sha256 and
// Authorization.
Fields sign(const SignInput& in);

}  // namespace up::storage::s3
