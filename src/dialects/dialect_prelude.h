#pragma once
// The names every dialect's request code uses, declared once for all of
// namespace up::dialects: JSON bodies, awaitables, and the exchange with the
// helper that runs blocking core calls off the I/O thread. The Beast-free wire
// libraries (qiniu, post_policy, wire_ids, params) do not include this: they
// name boost::json themselves and stay free of the HTTP layer.

#include <boost/asio/awaitable.hpp>
#include <boost/json/fwd.hpp>

#include "http/exchange.h"

namespace up::dialects {

namespace json = boost::json;
namespace net = boost::asio;
using http::blocking;
using http::Exchange;

}  // namespace up::dialects
