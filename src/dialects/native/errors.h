#pragma once
// The native envelope: {"code": <catalogue number>, "msg": "<text>"} with a
// status chosen by the error's kind.

#include "core/result.h"
#include "http/exchange.h"

namespace up::dialects::native {

int http_status(const Error& e);
http::Response error_response(const Error& e);

// tus (/v1/tus/): the same envelope with tus's statuses (460 for a checksum
// mismatch, 410 for an expired upload, 415 for a body that is not
// application/offset+octet-stream) and the Tus-Resumable header.
int tus_status(const Error& e);
http::Response tus_error_response(const Error& e);
// 412 with Tus-Version: the client speaks another tus version.
http::Response tus_version_mismatch();

}  // namespace up::dialects::native
