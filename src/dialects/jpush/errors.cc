#include "dialects/jpush/errors.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace up::dialects::jpush {

// Codes and statuses from the vendor's file API table (spec/jpush.md §5.2).
// Note the auth failure: 400/1101 on the file API, not 401.
WireError wire_error(const Error& e) {
  switch (e.code) {
    case Errc::kMissingField: return {400, 1102};
    case Errc::kObjectNotFound: return {400, 1104};
    case Errc::kObjectLimit: return {400, 1112};
    case Errc::kRateLimited: return {429, 2002};
    // No such route or method: the request itself is wrong, the closest file
    // code is "invalid parameter", with the HTTP status saying which.
    case Errc::kRouteNotFound: return {404, 1103};
    case Errc::kMethodNotAllowed: return {405, 1103};
    case Errc::kDiskFull: return {500, 1100};
    case Errc::kQuotaExceeded: return {400, 1103};  // a byte quota: the table's "other errors"
    default: break;
  }
  switch (e.kind()) {
    case Kind::kInvalidArgument:
    case Kind::kTooLarge:
    case Kind::kOutOfRange: return {400, 1103};
    case Kind::kUnauthenticated: return {400, 1101};
    case Kind::kPermissionDenied: return {403, 1105};
    case Kind::kNotFound: return {400, 1104};
    case Kind::kResourceExhausted: return {429, 2002};
    case Kind::kAlreadyExists:
    case Kind::kFailedPrecondition: return {400, 1103};
    case Kind::kUnavailable: return {503, 1100};
    case Kind::kDeadlineExceeded: return {408, 1103};
    case Kind::kInternal:
    case Kind::kUnimplemented: return {500, 1100};
  }
  return {500, 1100};
}

http::Response error_response(const Error& e) {
  const WireError w = wire_error(e);
  boost::json::object inner;
  inner["code"] = w.code;
  if (e.code == Errc::kRateLimited)
    inner["message"] = "Rate limit exceeded";  // the vendor's exact text
  else if (w.code == 1100) inner["message"] = std::string(default_message(e.code));
  else inner["message"] = e.message;
  boost::json::object body;
  body["error"] = std::move(inner);
  return http::json_response(w.status, boost::json::serialize(body));
}

}  // namespace up::dialects::jpush
