#include "http/exchange.h"

#include "core/text.h"

namespace up::http {

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.header("Content-Type", "application/json; charset=utf-8");
  // boost::json::serialize copies the bytes of a string as they are, so a
  // stored value with invalid UTF-8 (from before upgate refused such input, or
  // a message quoting a client's bytes) would make the whole answer invalid
  // JSON. Outside strings JSON is ASCII, so replacing invalid sequences
  // anywhere only ever touches string contents.
  if (!valid_utf8(body)) body = to_valid_utf8(body);
  r.body = std::move(body);
  return r;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  return r;
}

}  // namespace up::http
