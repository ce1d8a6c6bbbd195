#include "dialects/jodoo/callback.h"

#include <optional>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace up::dialects::jodoo {
namespace {

// The URL rules themselves are http::parse_http_url's (tests/http/client_test.cc).
TEST(CallbackUrlTest, NamesTheCallbackUrlInErrors) {
  auto u = parse_callback_url("http://[::1]:9000?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  auto bad = parse_callback_url("ftp://a/");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "callbackUrl must be an http:// URL");
}

TEST(CallbackClientTest, OnlyAllowListedTargets) {
  CallbackClient none({}, std::chrono::milliseconds(100));
  EXPECT_FALSE(none.allowed(*parse_callback_url("http://127.0.0.1:8080/")));
  CallbackClient some({"127.0.0.1:8080", "[::1]:9000"}, std::chrono::milliseconds(100));
  EXPECT_TRUE(some.allowed(*parse_callback_url("http://127.0.0.1:8080/cb")));
  EXPECT_FALSE(some.allowed(*parse_callback_url("http://127.0.0.1:8081/cb")));
  EXPECT_FALSE(some.allowed(*parse_callback_url("http://localhost:8080/cb")));
  EXPECT_TRUE(some.allowed(*parse_callback_url("http://[::1]:9000/cb")));
  boost::asio::io_context ioc;
  std::optional<Result<std::string>> r;
  const CallbackRequest req{"http://127.0.0.1:8080/", "", "application/json", "", "{}"};
  boost::asio::co_spawn(
      ioc, none.post(req),
      [&](const std::exception_ptr&, Result<std::string> answer) { r.emplace(std::move(answer)); });
  ioc.run();
  ASSERT_TRUE(r);
  ASSERT_FALSE(*r);
  EXPECT_EQ(r->error().code, Errc::kCallbackFailed);
  EXPECT_EQ(r->error().message, "callback failed: target not allowed (--jodoo-callback-allow)");
}

}  // namespace
}  // namespace up::dialects::jodoo
