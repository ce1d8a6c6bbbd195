#include "dialects/jodoo/errors.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace up::dialects::jodoo {

// Codes and messages from the Developer's Guide error table (seeds/002_*).
JodooError jodoo_error(const Error& e, Api api) {
  switch (e.code) {
    case Errc::kUnauthenticated: return {400, 8301, "Invalid Authorization"};
    case Errc::kKeyDisabled:
    case Errc::kKeyNotFound: return {400, 17018, "Invalid API Key"};
    case Errc::kAppNotFound: return {400, 2004, "Invalid App"};
    // The only plain kNotFound the dialect raises is an unknown entry (form).
    case Errc::kNotFound: return {400, 3000, "Invalid Form"};
    case Errc::kRecordNotFound: return {400, 4001, "Invalid Data"};
    // A file key that cannot be bound under the request's transaction_id:
    // unknown, expired with its transaction, of another transaction, or
    // already bound elsewhere.
    case Errc::kObjectNotFound:
    case Errc::kTransactionMismatch:
    case Errc::kTransactionExpired:
    case Errc::kTransactionNotFound:
    case Errc::kObjectNotTemporary: return {400, 17025, "Invalid transaction_id Parameter(s)"};
    case Errc::kDuplicateRequest: return {400, 17026, "Duplicate transaction_id"};
    case Errc::kTooLarge:
      if (api == Api::kBatchCreate) return {400, 17024, "Batch Creation Limit Exceeded"};
      if (api == Api::kBatchUpdate) return {400, 17023, "Batch Update Limit Exceeded"};
      return {400, 3005, "Invalid Parameter(s)"};
    case Errc::kObjectLimit: return {400, 7216, "Attachment Upload Limit Exceeded"};
    case Errc::kQuotaExceeded: return {400, 7217, "Attachment Upload Limit Exceeded"};
    case Errc::kDiskFull:
    case Errc::kStorageIo: return {400, 17027, "Uploading Failed"};
    case Errc::kRateLimited:
      if (api == Api::kCompany) return {400, 8303, "Company/Team Request Limit Exceeded"};
      return {400, 8304, "Request Limit Exceeded"};
    // The guide answers every client error with 400, these included.
    case Errc::kRouteNotFound:
    case Errc::kMethodNotAllowed: return {400, 1, "Invalid Request"};
    case Errc::kCallbackFailed: return {502, 1, "Bad Gateway"};  // an upstream that failed
    default: break;
  }
  switch (e.kind()) {
    case Kind::kInvalidArgument:
    case Kind::kTooLarge:
    case Kind::kOutOfRange:
    case Kind::kAlreadyExists:
    case Kind::kFailedPrecondition:
    case Kind::kNotFound: return {400, 3005, "Invalid Parameter(s)"};
    case Kind::kUnauthenticated: return {400, 8301, "Invalid Authorization"};
    case Kind::kPermissionDenied: return {400, 8302, "No Permission"};
    case Kind::kResourceExhausted: return {400, 8304, "Request Limit Exceeded"};
    // The guide's table has no 503; a database or store that is down for now
    // is still one ("retry later"), not the 502 of a failed upstream call.
    case Kind::kUnavailable: return {503, 1, "Service Unavailable"};
    case Kind::kDeadlineExceeded: return {502, 1, "Bad Gateway"};
    case Kind::kInternal:
    case Kind::kUnimplemented: return {500, 1, "Internal Error"};
  }
  return {500, 1, "Internal Error"};
}

http::Response jodoo_error_response(const Error& e, Api api) {
  const JodooError w = jodoo_error(e, api);
  boost::json::object body;
  body["code"] = w.code;
  // The guide's message, then what exactly was wrong (never for internal errors).
  if (w.status >= 500) body["msg"] = w.msg;
  else body["msg"] = std::string(w.msg) + ": " + e.message;
  return http::json_response(w.status, boost::json::serialize(body));
}

// Statuses from Qiniu's form-upload error table (spec/jodoo.md §2.5).
int qiniu_status(const Error& e) {
  switch (e.code) {
    case Errc::kGrantInvalid:
    case Errc::kGrantExpired:
    case Errc::kUnauthenticated: return 401;
    case Errc::kChecksumMismatch: return 406;
    case Errc::kTooLarge: return 413;
    case Errc::kTooSmall: return 403;  // Qiniu: 403 covers the fsize bounds it does not call 413
    case Errc::kObjectKeyExists:
    case Errc::kGrantUsed: return 614;
    case Errc::kCallbackFailed: return 579;
    case Errc::kRateLimited: return 573;
    case Errc::kAppNotFound: return 631;  // no such bucket
    case Errc::kRouteNotFound: return 404;
    case Errc::kMethodNotAllowed: return 405;
    default: break;
  }
  switch (e.kind()) {
    case Kind::kInvalidArgument:
    case Kind::kOutOfRange:
    case Kind::kNotFound:
    case Kind::kAlreadyExists:
    case Kind::kFailedPrecondition: return 400;
    case Kind::kUnauthenticated: return 401;
    case Kind::kPermissionDenied:
    case Kind::kResourceExhausted: return 403;
    case Kind::kTooLarge: return 413;
    case Kind::kDeadlineExceeded:
    case Kind::kUnavailable: return 503;
    case Kind::kInternal:
    case Kind::kUnimplemented: return 599;
  }
  return 599;
}

http::Response qiniu_error_response(const Error& e) {
  const int status = qiniu_status(e);
  boost::json::object body;
  // Internal details and the store's reason for being down (libpq's text,
  // naming host and port) are not for clients.
  const bool hide = status == 599 || e.code == Errc::kUnavailable;
  body["error"] = hide ? std::string(default_message(e.code)) : e.message;
  return http::json_response(status, boost::json::serialize(body));
}

}  // namespace up::dialects::jodoo
