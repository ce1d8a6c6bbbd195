#pragma once
// The two envelopes of the OpenIM dialect and the one mapping from core errors
// to each: the OpenIM API's {"errCode","errMsg","errDlt","data"} (HTTP 200, as
// OpenIM answers, except 503 while a store is down), and the S3 form
// endpoint's XML <Error> documents.

#include <string>
#include <string_view>

#include "core/result.h"
#include "dialects/openim/wire_ids.h"
#include "http/exchange.h"

namespace up::dialects::openim {

struct WireError {
  int code;          // errCode
  const char* name;  // errMsg
};

WireError wire_error(const Error& e);
// HTTP 200 with errCode/errMsg/errDlt; internal details stay in the server log.
// Errors of kind kUnavailable (the database or blob store down for now) are
// HTTP 503 with the same envelope, so that retries and load balancers see them.
http::Response error_response(const Error& e);
http::Response token_error_response(TokenFault fault);
// errCode 0 with `data_json` (a serialized JSON value; empty: no data member).
http::Response ok_response(std::string_view data_json);

struct S3Error {
  int status;
  const char* code;
};
S3Error s3_error(const Error& e);
// <Error><Code/><Message/><Key/><BucketName/><Resource/><RequestId/></Error>
http::Response s3_error_response(const Error& e, std::string_view bucket, std::string_view key,
                                 std::string_view resource, std::string_view request_id);
// XML-escapes text for element content.
std::string xml_escape(std::string_view s);

}  // namespace up::dialects::openim
