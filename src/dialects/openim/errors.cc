#include "dialects/openim/errors.h"

#include <boost/json.hpp>

namespace up::dialects::openim {
namespace {

namespace json = boost::json;

http::Response envelope(int code, std::string_view name, std::string_view detail,
                        int status = 200) {
  json::object o;
  o["errCode"] = code;
  o["errMsg"] = name;
  o["errDlt"] = detail;
  return http::json_response(status, json::serialize(o));
}

}  // namespace

// Codes from OpenIM's errs/predefine.go and servererrs (spec/openim.md §3.1).
WireError wire_error(const Error& e) {
  switch (e.code) {
    case Errc::kSizeMismatch: return {90007, "DataError"};
    case Errc::kObjectKeyExists:
    case Errc::kAlreadyExists: return {1003, "DuplicateKeyError"};
    case Errc::kGrantExpired: return {1501, "TokenExpiredError"};
    case Errc::kGrantInvalid: return {1502, "TokenInvalidError"};
    case Errc::kKeyDisabled: return {1506, "TokenKickedError"};
    default: break;
  }
  switch (e.kind()) {
    case Kind::kInvalidArgument:
    case Kind::kTooLarge:
    case Kind::kOutOfRange:
    case Kind::kFailedPrecondition: return {1001, "ArgsError"};
    case Kind::kUnauthenticated:
    case Kind::kPermissionDenied: return {1002, "NoPermissionError"};
    case Kind::kNotFound: return {1004, "RecordNotFoundError"};
    case Kind::kAlreadyExists: return {1003, "DuplicateKeyError"};
    case Kind::kResourceExhausted:
    case Kind::kUnavailable:
    case Kind::kDeadlineExceeded:
    case Kind::kInternal:
    case Kind::kUnimplemented: return {500, "ServerInternalError"};
  }
  return {500, "ServerInternalError"};
}

http::Response error_response(const Error& e) {
  const WireError w = wire_error(e);
  const bool hide = e.kind() == Kind::kInternal || e.code == Errc::kUnavailable;
  // OpenIM itself answers every error with 200; behind its gateway, clients
  // already meet a 503 when the server is down, and that is what this is.
  const int status = e.kind() == Kind::kUnavailable ? 503 : 200;
  return envelope(w.code, w.name,
                  hide ? std::string_view(default_message(e.code)) : std::string_view(e.message),
                  status);
}

http::Response token_error_response(TokenFault fault) {
  switch (fault) {
    case TokenFault::kExpired: return envelope(1501, "TokenExpiredError", "token is expired");
    case TokenFault::kInvalid:
      return envelope(1502, "TokenInvalidError", "token signature is invalid");
    case TokenFault::kMalformed: return envelope(1503, "TokenMalformedError", "token is malformed");
    case TokenFault::kNotValidYet:
      return envelope(1504, "TokenNotValidYetError", "token is not valid yet");
    case TokenFault::kUnknown:
      return envelope(1505, "TokenUnknownError", "token names no OpenIM app of this server");
    case TokenFault::kKicked:
      return envelope(1506, "TokenKickedError", "token was revoked (its secret was disabled)");
    case TokenFault::kNotExist:
      return envelope(1507, "TokenNotExistError", "token was revoked (its secret was deleted)");
  }
  return envelope(1503, "TokenMalformedError", "token is malformed");
}

http::Response ok_response(std::string_view data_json) {
  std::string body = R"({"errCode":0,"errMsg":"","errDlt":"")";
  if (!data_json.empty()) body.append(",\"data\":").append(data_json);
  body += "}";
  return http::json_response(200, std::move(body));
}

// S3 "POST Object" error codes (S3-DOC; MinIO answers the same ones).
S3Error s3_error(const Error& e) {
  switch (e.code) {
    case Errc::kGrantInvalid: return {403, "SignatureDoesNotMatch"};
    case Errc::kGrantExpired:
    case Errc::kGrantScope: return {403, "AccessDenied"};
    case Errc::kTooLarge: return {400, "EntityTooLarge"};
    case Errc::kTooSmall: return {400, "EntityTooSmall"};
    case Errc::kBadMultipart: return {400, "MalformedPOSTRequest"};
    case Errc::kObjectKeyExists: return {409, "KeyAlreadyExists"};
    case Errc::kRouteNotFound: return {404, "NoSuchBucket"};
    case Errc::kObjectNotFound: return {404, "NoSuchKey"};
    case Errc::kMethodNotAllowed: return {405, "MethodNotAllowed"};
    case Errc::kQuotaExceeded:
    case Errc::kObjectLimit:
    case Errc::kDiskFull: return {507, "QuotaExceeded"};
    default: break;
  }
  switch (e.kind()) {
    case Kind::kInvalidArgument:
    case Kind::kOutOfRange:
    case Kind::kFailedPrecondition: return {400, "InvalidArgument"};
    case Kind::kUnauthenticated:
    case Kind::kPermissionDenied: return {403, "AccessDenied"};
    case Kind::kNotFound: return {404, "NoSuchKey"};
    case Kind::kAlreadyExists: return {409, "KeyAlreadyExists"};
    case Kind::kTooLarge: return {400, "EntityTooLarge"};
    case Kind::kResourceExhausted: return {503, "SlowDown"};
    case Kind::kUnavailable:
    case Kind::kDeadlineExceeded: return {503, "ServiceUnavailable"};
    case Kind::kInternal:
    case Kind::kUnimplemented: return {500, "InternalError"};
  }
  return {500, "InternalError"};
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

http::Response s3_error_response(const Error& e, std::string_view bucket, std::string_view key,
                                 std::string_view resource, std::string_view request_id) {
  const S3Error w = s3_error(e);
  const std::string message =
      e.kind() == Kind::kInternal ? std::string(default_message(e.code)) : e.message;
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
  body += w.code;
  body += "</Code><Message>" + xml_escape(message) + "</Message>";
  if (!key.empty()) body += "<Key>" + xml_escape(key) + "</Key>";
  if (!bucket.empty()) body += "<BucketName>" + xml_escape(bucket) + "</BucketName>";
  body += "<Resource>" + xml_escape(resource) + "</Resource><RequestId>" + xml_escape(request_id) +
          "</RequestId></Error>";
  http::Response r;
  r.status = w.status;
  r.body = std::move(body);
  r.header("Content-Type", "application/xml");
  return r;
}

}  // namespace up::dialects::openim
