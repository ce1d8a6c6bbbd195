#pragma once
// The JPush error envelope {"error":{"code":<int>,"message":"<text>"}} and the
// one mapping from core errors to JPush file-API codes and HTTP statuses.

#include "core/result.h"
#include "http/exchange.h"

namespace up::dialects::jpush {

struct WireError {
  int status;
  int code;
};

WireError wire_error(const Error& e);
// Internal errors get a generic message; their detail belongs in the server log.
http::Response error_response(const Error& e);

}  // namespace up::dialects::jpush
