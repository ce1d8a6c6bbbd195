#pragma once
// The one mapping from core errors to the Jodoo dialect's two envelopes:
//  - the Jodoo REST API: HTTP 400 {"code": <int>, "msg": "<text>"} with the
//    Developer's Guide codes (seeds/002_*);
//  - the Qiniu form upload: Qiniu's statuses with {"error": "<text>"}
//    (spec/jodoo.md §2.5).

#include "core/result.h"
#include "http/exchange.h"

namespace up::dialects::jodoo {

// Which REST API failed: a few codes depend on it (17023 vs 17024), and
// kCompany marks the tenant-wide rate limit (8303 rather than 8304).
enum class Api {
  kGetUploadToken,
  kCreate,
  kBatchCreate,
  kUpdate,
  kBatchUpdate,
  kGet,
  kDelete,
  kCompany,
  kOther
};

struct JodooError {
  int status;
  int code;
  const char* msg;  // the guide's message for the code
};

JodooError jodoo_error(const Error& e, Api api);
// Internal errors get a generic message; their detail belongs in the server log.
http::Response jodoo_error_response(const Error& e, Api api);

// The Qiniu status for a failed form upload.
int qiniu_status(const Error& e);
http::Response qiniu_error_response(const Error& e);

}  // namespace up::dialects::jodoo
