#pragma once
// The kintone error envelope
//   {"code":"CB_VA01","id":"<random>","message":"...","errors":{"record.Text.value":{"messages":["..."]}}}
// and the one mapping from core errors to kintone codes and HTTP statuses.

#include <string>

#include <tl/expected.hpp>

#include "core/result.h"
#include "http/exchange.h"

namespace up::dialects::kintone {

// A core error plus what kintone adds: the input it concerns (an `errors` key
// such as "records[3].attachment.value", which clients parse for the failing
// index) and, rarely, a vendor code the core catalogue has no kind for.
struct Failure {
  Failure(Error e) : error(std::move(e)) {}  // NOLINT: implicit, so UP_TRY and fail() work
  Failure(Error e, std::string f) : error(std::move(e)), field(std::move(f)) {}

  Error error;
  std::string field;
  std::string vendor_code;  // overrides the mapped code when set
  std::string body;         // a whole body to send instead of the envelope (a failed bulkRequest)
};
template <class T>
using KResult = tl::expected<T, Failure>;

// `return refuse(f);` from a function returning KResult<T>.
inline tl::unexpected<Failure> refuse(Failure f) { return tl::unexpected<Failure>(std::move(f)); }
// An API token that is unknown, disabled, or not one of the app's: GAIA_IA02.
tl::unexpected<Failure> bad_api_token(std::string message);

struct WireError {
  int status;
  const char* code;
};
WireError wire_error(const Error& e);

// The JSON body of an error (also the per-request entry of a failed bulkRequest).
std::string error_body(const Failure& f);
int error_status(const Failure& f);
// Internal errors get a generic message; their detail belongs in the server log.
http::Response error_response(const Failure& f);

}  // namespace up::dialects::kintone
