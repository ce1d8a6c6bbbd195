#include "http/exchange.h"

namespace up::http {

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.header("Content-Type", "application/json; charset=utf-8");
  r.body = std::move(body);
  return r;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  return r;
}

}  // namespace up::http
