#include "http/base64_json.h"

#include <string>

#include <boost/json/parse.hpp>

#include "core/crypto.h"

namespace up::http {

Result<boost::json::object> decode_base64_json_object(std::string_view encoded) {
  std::string text;
  if (encoded.empty() || !crypto::base64_decode(encoded, text))
    return fail(Errc::kInvalidArgument, "not base64");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return fail(Errc::kInvalidArgument, "not a JSON object");
  return std::move(v.as_object());
}

}  // namespace up::http
