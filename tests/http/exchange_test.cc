// http/exchange.h: what a dialect's response is made of.

#include "http/exchange.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "http/header_params.h"

namespace up::http {
namespace {

// The name of a response header is checked when it compiles (HeaderName), so
// the server checks only values per request: the compile-time rule is the
// run-time one.
TEST(ExchangeTest, HeaderNameTokenCharsAreSafeHeaderNameChars) {
  for (int c = 1; c < 256; ++c) {
    const char b = static_cast<char>(c);
    EXPECT_EQ(HeaderName::token_char(b), safe_header_name(std::string(1, b))) << c;
  }
  constexpr HeaderName kName("X-Content-Type-Options");
  EXPECT_EQ(std::string_view(kName), "X-Content-Type-Options");
}

}  // namespace
}  // namespace up::http
