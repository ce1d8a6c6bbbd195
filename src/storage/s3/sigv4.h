#pragma once
// AWS Signature Version 4 for S3 REST requests (header authorization): the
// canonical request over core/sigv4.h's date, scope and signing key. Pure
// functions, no I/O.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/sigv4.h"
#include "core/types.h"

namespace up::storage::s3 {

using sigv4::Fields;
using sigv4::uri_encode;

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
