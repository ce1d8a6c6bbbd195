#pragma once
// What a dialect gives the server: a set of routes and a coroutine that serves them.

#include <memory>
#include <string_view>

#include <boost/asio/awaitable.hpp>

namespace up::http {

class Exchange;

class Handler {
 public:
  virtual ~Handler() = default;
  // Whether this handler serves the route; the server asks the handlers in the
  // order the app registered them and gives the request to the first that says yes.
  virtual bool matches(std::string_view method, std::string_view path) const = 0;
  // Serves the request. Must answer it (Exchange::send or send_blob) exactly once.
  virtual boost::asio::awaitable<void> handle(Exchange& exchange) = 0;
};
using HandlerPtr = std::unique_ptr<Handler>;

}  // namespace up::http
