#include "dialects/kintone/file_name.h"

#include <gtest/gtest.h>

namespace up::dialects::kintone {
namespace {

TEST(KintoneFileNameTest, Utf8IsKept) {
  EXPECT_EQ(decode_file_name("test.txt"), "test.txt");
  EXPECT_EQ(decode_file_name("报告 2026.pdf"), "报告 2026.pdf");
}

TEST(KintoneFileNameTest, GbkIsDecoded) {
  // "测试.txt" in GBK: 测 = B2 E2, 试 = CA D4.
  EXPECT_EQ(decode_file_name("\xB2\xE2\xCA\xD4.txt"), "测试.txt");
}

TEST(KintoneFileNameTest, NeitherUtf8NorGbkNorAcceptableIsRefused) {
  EXPECT_FALSE(decode_file_name("\xFF\xFF.txt"));
  EXPECT_FALSE(decode_file_name("\xB2"));  // a cut GBK character
  EXPECT_FALSE(decode_file_name(""));
  EXPECT_FALSE(decode_file_name("a\nb.txt"));
}

}  // namespace
}  // namespace up::dialects::kintone
