#pragma once
// The native envelope: {"code": <catalogue number>, "msg": "<text>"} with a
// status chosen by the error's kind.

#include "core/result.h"
#include "http/exchange.h"

namespace up::dialects::native {

int http_status(const Error& e);
http::Response error_response(const Error& e);

}  // namespace up::dialects::native
