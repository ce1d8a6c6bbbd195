#include "dialects/native/errors.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace up::dialects::native {

int http_status(const Error& e) {
  switch (e.code) {
    case Errc::kRateLimited: return 429;
    case Errc::kQuotaExceeded:
    case Errc::kObjectLimit:
    case Errc::kDiskFull: return 507;
    case Errc::kKeyLimit: return 409;
    case Errc::kMethodNotAllowed: return 405;
    case Errc::kHeadersTooLarge: return 431;
    default: break;
  }
  switch (e.kind()) {
    case Kind::kInvalidArgument: return 400;
    case Kind::kUnauthenticated: return 401;
    case Kind::kPermissionDenied: return 403;
    case Kind::kNotFound: return 404;
    case Kind::kAlreadyExists: return 409;
    case Kind::kFailedPrecondition: return 409;
    case Kind::kTooLarge: return 413;
    case Kind::kOutOfRange: return 416;
    case Kind::kResourceExhausted: return 429;
    case Kind::kUnavailable: return 503;
    case Kind::kDeadlineExceeded: return 408;
    case Kind::kInternal: return 500;
    case Kind::kUnimplemented: return 501;
  }
  return 500;
}

http::Response error_response(const Error& e) {
  boost::json::object body;
  body["code"] = static_cast<int>(e.code);
  // Internal details (paths, database messages) and the store's reason for
  // being down (naming host and port) are not for clients.
  const bool hide = e.kind() == Kind::kInternal || e.code == Errc::kUnavailable;
  body["msg"] = hide ? std::string(default_message(e.code)) : e.message;
  auto r = http::json_response(http_status(e), boost::json::serialize(body));
  if (e.kind() == Kind::kUnauthenticated) r.header("WWW-Authenticate", "Bearer");
  return r;
}

int tus_status(const Error& e) {
  switch (e.code) {
    case Errc::kChecksumMismatch: return 460;  // tus's own status ("Checksum Mismatch")
    case Errc::kGrantExpired: return 410;
    case Errc::kBadContentType: return 415;
    case Errc::kGrantUsed: return 403;
    default: return http_status(e);
  }
}

http::Response tus_error_response(const Error& e) {
  http::Response r = error_response(e);
  r.status = tus_status(e);
  r.header("Tus-Resumable", "1.0.0");
  return r;
}

http::Response tus_version_mismatch() {
  http::Response r = error_response(
      Error(Errc::kFailedPrecondition, "this server speaks tus 1.0.0 (Tus-Resumable: 1.0.0)"));
  r.status = 412;
  r.header("Tus-Version", "1.0.0");
  return r;
}

}  // namespace up::dialects::native
