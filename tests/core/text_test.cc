#include "core/text.h"

#include <gtest/gtest.h>

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
}

TEST(TextTest, Iso8601) {
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601(1'700'000'000'123), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace up
