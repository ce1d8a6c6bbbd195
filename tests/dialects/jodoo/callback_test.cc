#include "dialects/jodoo/callback.h"

#include <gtest/gtest.h>

namespace up::dialects::jodoo {
namespace {

TEST(CallbackUrlTest, SplitsHttpUrls) {
  auto u = parse_callback_url("http://127.0.0.1:8080/file/upload/api_callback?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->path_and_query, "/file/upload/api_callback?x=1");
  u = parse_callback_url("http://example.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->path_and_query, "/");
  u = parse_callback_url("http://[::1]:9000?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->path_and_query, "/?q");
  for (const char* bad : {"https://a/", "ftp://a/", "http://", "http://user@a/", "http://a:x/",
                          "http://a:123456/", "http://a/b c", "http://[::1/"})
    EXPECT_FALSE(parse_callback_url(bad)) << bad;
}

TEST(CallbackClientTest, OnlyAllowListedTargets) {
  CallbackClient none({}, std::chrono::milliseconds(100));
  EXPECT_FALSE(none.allowed(*parse_callback_url("http://127.0.0.1:8080/")));
  CallbackClient some({"127.0.0.1:8080", "[::1]:9000"}, std::chrono::milliseconds(100));
  EXPECT_TRUE(some.allowed(*parse_callback_url("http://127.0.0.1:8080/cb")));
  EXPECT_FALSE(some.allowed(*parse_callback_url("http://127.0.0.1:8081/cb")));
  EXPECT_FALSE(some.allowed(*parse_callback_url("http://localhost:8080/cb")));
  EXPECT_TRUE(some.allowed(*parse_callback_url("http://[::1]:9000/cb")));
  auto r = none.post(CallbackRequest{"http://127.0.0.1:8080/", "", "application/json", "", "{}"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCallbackFailed);
}

}  // namespace
}  // namespace up::dialects::jodoo
