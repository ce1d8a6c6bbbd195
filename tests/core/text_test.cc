#include "core/text.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace up {
namespace {

TEST(TextTest, Utf8Validation) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("\xE6\x8A\xA5\xE5\x91\x8A"));  // 报告
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));          // emoji
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));                 // overlong '/'
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));             // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));             // surrogate
  EXPECT_FALSE(valid_utf8("\xE6\x8A"));                 // truncated
  EXPECT_FALSE(valid_utf8("\xB1\xA8\xB8\xE6"));         // GBK bytes
}

TEST(TextTest, FileNames) {
  EXPECT_TRUE(acceptable_file_name("report 2026.pdf"));
  EXPECT_TRUE(acceptable_file_name("alice/notes..v2/a..b.txt"));  // OpenIM names carry a folder
  EXPECT_TRUE(acceptable_file_name("..."));
  EXPECT_FALSE(acceptable_file_name("../../etc/passwd"));
  EXPECT_FALSE(acceptable_file_name("a/../b"));
  EXPECT_FALSE(acceptable_file_name("..\\windows\\x"));
  EXPECT_FALSE(acceptable_file_name(".."));
  EXPECT_FALSE(acceptable_file_name(""));
  EXPECT_FALSE(acceptable_file_name(std::string("a\0b", 3)));
  EXPECT_FALSE(acceptable_file_name("a\nb"));
  EXPECT_FALSE(acceptable_file_name(std::string(1025, 'a')));
  EXPECT_FALSE(acceptable_file_name("a\x7f"));
}

TEST(TextTest, FileNamesRefuseC1Controls) {
  EXPECT_FALSE(
      acceptable_file_name("a\xC2\x85"
                           "b"));                    // U+0085 NEL
  EXPECT_FALSE(acceptable_file_name("\xC2\x80"));    // U+0080, the first C1
  EXPECT_FALSE(acceptable_file_name("x\xC2\x9F"));   // U+009F, the last C1
  EXPECT_TRUE(acceptable_file_name("\xC2\xA0"));     // U+00A0 NO-BREAK SPACE is no control
  EXPECT_TRUE(acceptable_file_name("caf\xC3\xA9"));  // é
  // Inside other sequences 0x80-0x9F are continuation bytes, not C1 controls.
  EXPECT_TRUE(acceptable_file_name("\xE6\x8A\x85"));
  EXPECT_TRUE(acceptable_file_name("\xC3\x85"));  // Å
}

TEST(TextTest, ControlCharacters) {
  EXPECT_FALSE(has_control_characters(""));
  EXPECT_FALSE(has_control_characters("plain text \xE6\x8A\xA5"));
  EXPECT_TRUE(has_control_characters("a\rb"));
  EXPECT_TRUE(has_control_characters("a\tb"));
  EXPECT_TRUE(has_control_characters(std::string("a\0b", 3)));
  EXPECT_TRUE(has_control_characters("\x7f"));
  EXPECT_TRUE(has_control_characters("\xC2\x85"));
  EXPECT_FALSE(has_control_characters("\xC2"));  // cut, but no control
}

TEST(TextTest, MediaTypesAccepted) {
  for (const char* t : {
           "text/plain",
           "application/octet-stream",
           "TEXT/HTML",
           "image/svg+xml",
           "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "text/plain; charset=utf-8",
           "text/plain;charset=UTF-8",
           "text/plain ; charset=utf-8",
           "text/plain;\tcharset=utf-8",
           "multipart/form-data; boundary=\"----a b;c\"",
           "text/plain; a=\"quoted \\\" pair\"",
           "text/plain; a=\"\"",
           "text/plain; a=1; b=2",
           "text/plain;",  // an empty parameter is allowed by RFC 9110
           "text/plain;;charset=utf-8",
           "text/plain ; ;\t; x=y",
           "a/b",
           "!#$%&'*+-.^_`|~/x",
       })
    EXPECT_TRUE(valid_media_type(t)) << t;
  EXPECT_TRUE(valid_media_type("a/" + std::string(kMaxMediaTypeBytes - 2, 'b')));
}

TEST(TextTest, MediaTypesRefused) {
  for (const std::string& t : {
           std::string(""),
           std::string("text"),
           std::string("text/"),
           std::string("/plain"),
           std::string("text/plain/x"),
           std::string("text /plain"),
           std::string(" text/plain"),
           std::string("text/plain "),
           std::string("text/plain\r\nSet-Cookie: pwn=1"),
           std::string("text/plain\r"),
           std::string("text/plain\nx"),
           std::string("text/plain\0", 11),
           std::string("text/html\r\nContent-Length: 25\r\n\r\n<script>"),
           std::string("text/plain; x=\xff\xfe"),
           std::string("text/pl\xc3\xa4in"),
           std::string("text/plain; a=\"\xc3\xa4\""),
           std::string("text/plain; a=\"\r\n\""),
           std::string("text/plain; charset"),
           std::string("text/plain; charset="),
           std::string("text/plain; =utf-8"),
           std::string("text/plain charset=utf-8"),
           std::string("text/plain; a=b c"),
           std::string("text/plain; a=\"unterminated"),
           std::string("text/plain; a=\"bad escape\\"),
           std::string("text/plain; a=b\"c\""),
           std::string("text/plain; a=(comment)"),
           std::string("text/plain, text/html"),
           std::string("text/plain\x7f"),
           std::string("text/plain ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ; ;\x01"),
           std::string("a/" + std::string(kMaxMediaTypeBytes - 1, 'b')),
       })
    EXPECT_FALSE(valid_media_type(t)) << t;
}

TEST(TextTest, ToValidUtf8) {
  EXPECT_EQ(to_valid_utf8(""), "");
  EXPECT_EQ(to_valid_utf8("plain \xE6\x8A\xA5"), "plain \xE6\x8A\xA5");
  // One U+FFFD per invalid byte.
  EXPECT_EQ(to_valid_utf8("x=\xff\xfe"), "x=\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");    // overlong
  EXPECT_EQ(to_valid_utf8("a\xE6\x8A"), "a\xEF\xBF\xBD\xEF\xBF\xBD");  // cut at the end
  EXPECT_EQ(to_valid_utf8("\xE6\x8A"
                          "b"),
            "\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");  // cut inside
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  for (const std::string& s : {std::string("\xff"), std::string("a\x80\x80z"),
                               std::string("\xF4\x90\x80\x80"), std::string("\xC2")})
    EXPECT_TRUE(valid_utf8(to_valid_utf8(s))) << s;
}

// What the JSON answers rely on (http::json_response): a serialized object
// holding invalid UTF-8 in a string is valid UTF-8 JSON, and still parses,
// once passed through to_valid_utf8.
TEST(TextTest, SerializedJsonWithInvalidUtf8BecomesValid) {
  boost::json::object o;
  o["content_type"] = "text/plain; x=\xff\xfe";
  o["name"] = "\xE6\x8A\xA5\"\\";
  const std::string raw = boost::json::serialize(o);
  ASSERT_FALSE(valid_utf8(raw));  // what clients got before
  const std::string fixed = to_valid_utf8(raw);
  EXPECT_TRUE(valid_utf8(fixed));
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(fixed, ec);
  ASSERT_FALSE(ec) << fixed;
  EXPECT_EQ(v.at("content_type").as_string(), "text/plain; x=\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(v.at("name").as_string(), "\xE6\x8A\xA5\"\\");
}

TEST(TextTest, Iso8601) {
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(1'700'000'000'123), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace up
