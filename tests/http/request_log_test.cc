// The access-log line (http/request_log.cc): its fields as docs/configuration.md
// shows them, appended to what the batch holds already.

#include "http/request_log.h"

#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/text.h"

namespace up::http {
namespace {

TEST(RequestLogTest, LineHasEveryFieldInOrder) {
  std::string out = "earlier line\n";
  append_access_line(out, AccessEntry{"3f9a1c0b7d2e4f65", "127.0.0.1", "POST", "/v1/files", 201,
                                      52311, 412, 12'345, R"(,"tenant":"acme")"});
  const std::string line = out.substr(13);
  EXPECT_EQ(out.substr(0, 13), "earlier line\n");
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\{"ts":"20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9])"
                       R"(\.[0-9]{3}Z","id":"3f9a1c0b7d2e4f65","remote":"127\.0\.0\.1",)"
                       R"("method":"POST","path":"/v1/files","status":201,"bytes_in":52311,)"
                       R"("bytes_out":412,"ms":12\.345,"tenant":"acme"\}\n)")))
      << line;
}

TEST(RequestLogTest, DurationHasThreeDecimals) {
  for (auto [us, ms] : {std::pair<uint64_t, const char*>{0, "0.000"},
                        {5, "0.005"},
                        {999, "0.999"},
                        {1000, "1.000"},
                        {60'000'070, "60000.070"}}) {
    std::string out;
    append_access_line(out, AccessEntry{"id", "::1", "GET", "/", 200, 0, 0, us, ""});
    EXPECT_NE(out.find(std::string(R"("ms":)") + ms + "}\n"), std::string::npos) << out;
  }
}

TEST(RequestLogTest, OddBytesStayValidJson) {
  std::string out;
  append_access_line(
      out, AccessEntry{"id", "10.0.0.1", "GET", "/v1/\"quoted\"\\\x01\xff", 404, 0, 0, 1, ""});
  ASSERT_EQ(out.back(), '\n');
  boost::system::error_code ec;
  auto v = boost::json::parse(out, ec);
  ASSERT_FALSE(ec) << out;
  EXPECT_EQ(v.at("path").as_string(), "/v1/\"quoted\"\\\x01\xef\xbf\xbd");
}

TEST(RequestLogTest, PlainTextIsCopiedAndTheRestEscaped) {
  std::string out;
  append_json_text(out, "default");
  append_json_text(out, "a\"b");
  EXPECT_EQ(out, "defaulta\\\"b");
}

// An extra field is the same text whatever path it takes (plain: sized once;
// else escaped piece by piece).
TEST(RequestLogTest, ExtraFieldsAreEscapedAsTheirTexts) {
  for (const auto& [name, value] : {std::pair<std::string, std::string>{"tenant", "default"},
                                    {"tenant", ""},
                                    {"app", "a\"b\\c"},
                                    {"n\x01", "v\xff\xfe"},
                                    {"note", std::string(40, 'x') + "\n"}}) {
    std::string expected = "before,\"";
    append_json_text(expected, name);
    expected += "\":\"";
    append_json_text(expected, value);
    expected += '"';
    std::string out = "before";
    append_json_field(out, name, value);
    EXPECT_EQ(out, expected);
  }
  std::string out;
  append_json_field(out, "tenant", "acme");
  EXPECT_EQ(out, R"(,"tenant":"acme")");
}

// Every byte value at every place of texts shorter than, equal to and longer
// than a word: a byte needing an escape is found wherever it is (the check
// goes 8 bytes at a time, the tail overlapping).
TEST(RequestLogTest, EveryByteNeedingAnEscapeIsFoundWhereverItIs) {
  for (size_t size : {1u, 7u, 8u, 9u, 16u, 21u}) {
    for (size_t at = 0; at < size; ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string raw(size, 'x');
        raw[at] = static_cast<char>(b);
        const bool plain = b >= 0x20 && b < 0x7f && b != '"' && b != '\\';
        std::string expected;
        if (plain) expected = raw;
        else append_json_escaped(expected, raw);
        std::string out;
        append_json_text(out, raw);
        ASSERT_EQ(out, expected) << "size " << size << ", byte " << b << " at " << at;
      }
    }
  }
}

}  // namespace
}  // namespace up::http
