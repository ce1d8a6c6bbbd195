#include "dialects/kintone/errors.h"

#include <boost/json.hpp>

#include "core/ids.h"

namespace up::dialects::kintone {
namespace json = boost::json;

tl::unexpected<Failure> bad_api_token(std::string message) {
  Failure f(Error(Errc::kUnauthenticated, std::move(message)));
  f.vendor_code = "GAIA_IA02";
  return refuse(std::move(f));
}

// Codes and statuses as kintone answers them (spec/kintone.md §4.3).
WireError wire_error(const Error& e) {
  switch (e.code) {
    case Errc::kBadJson: return {400, "CB_IJ01"};
    case Errc::kBadMultipart: return {400, "CB_IL02"};
    case Errc::kAppNotFound: return {404, "GAIA_AP01"};
    case Errc::kRecordNotFound: return {404, "GAIA_RE01"};
    case Errc::kObjectNotFound: return {404, "GAIA_BL01"};
    case Errc::kRevisionConflict: return {409, "GAIA_CO02"};
    case Errc::kRouteNotFound: return {404, "CB_NO01"};
    case Errc::kMethodNotAllowed: return {405, "CB_NO01"};
    case Errc::kTooLarge: return {413, "CB_VA01"};
    default: break;
  }
  switch (e.kind()) {
    case Kind::kInvalidArgument:
    case Kind::kOutOfRange:
    case Kind::kTooLarge:
    case Kind::kAlreadyExists:
    case Kind::kFailedPrecondition: return {400, "CB_VA01"};
    case Kind::kUnauthenticated: return {401, "CB_AU01"};
    case Kind::kPermissionDenied: return {403, "CB_NO02"};
    case Kind::kNotFound: return {404, "CB_VA01"};
    case Kind::kResourceExhausted:
      return e.code == Errc::kRateLimited ? WireError{429, "CB_VA01"} : WireError{400, "CB_VA01"};
    case Kind::kUnavailable:
    case Kind::kDeadlineExceeded: return {503, "CB_UN01"};
    case Kind::kInternal:
    case Kind::kUnimplemented: return {500, "CB_UN01"};
  }
  return {500, "CB_UN01"};
}

namespace {

// kintone's fixed texts for the codes whose message clients may show as is.
std::string message_for(const Failure& f, const WireError& w) {
  const Error& e = f.error;
  if (e.kind() == Kind::kInternal || e.kind() == Kind::kUnimplemented ||
      e.code == Errc::kUnavailable)  // the store's reason names host and port
    return std::string(default_message(e.code));
  if (f.vendor_code == "GAIA_IA02") return "The API token is invalid. " + e.message;
  const std::string_view code = w.code;
  if (code == "CB_NO02") return "No privilege to proceed. " + e.message;
  if (code == "CB_AU01") return "Please login. " + e.message;
  if (code == "CB_IJ01") return "Failed to parse JSON.";
  if (code == "GAIA_CO02")
    return "The revision is not the latest. Someone may update a record after you opened it.";
  return e.message;
}

json::object body_object(const Failure& f) {
  const WireError w = wire_error(f.error);
  json::object o;
  o["code"] = f.vendor_code.empty() ? w.code : f.vendor_code.c_str();
  o["id"] = random_token(20);
  o["message"] = message_for(f, w);
  json::object errors;
  if (!f.field.empty()) {
    json::object entry;
    json::array messages;
    messages.emplace_back(f.error.message);
    entry["messages"] = std::move(messages);
    errors[f.field] = std::move(entry);
  }
  o["errors"] = std::move(errors);
  return o;
}

}  // namespace

std::string error_body(const Failure& f) { return json::serialize(body_object(f)); }

int error_status(const Failure& f) { return wire_error(f.error).status; }

http::Response error_response(const Failure& f) {
  return http::json_response(error_status(f), f.body.empty() ? error_body(f) : f.body);
}

}  // namespace up::dialects::kintone
