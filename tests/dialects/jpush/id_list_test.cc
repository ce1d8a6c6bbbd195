#include "dialects/jpush/id_list.h"

#include <string>

#include <gtest/gtest.h>

namespace up::dialects::jpush {
namespace {

// Runs the validator over `text` fed whole, then split at every byte into two
// pieces, then one byte at a time; all must agree. Returns the error message
// ("" when valid) and the id count.
struct Outcome {
  std::string error;
  uint64_t ids = 0;
};

Outcome run_once(const std::string& text, size_t split, bool bytewise) {
  IdListValidator v;
  Status st;
  if (bytewise) {
    for (char c : text) {
      st = v.feed(std::string_view(&c, 1));
      if (!st) break;
    }
  } else {
    st = v.feed(std::string_view(text).substr(0, split));
    if (st) st = v.feed(std::string_view(text).substr(split));
  }
  if (st) st = v.finish();
  Outcome o;
  if (!st) {
    EXPECT_EQ(st.error().code, Errc::kBadContent);
    o.error = st.error().message;
  }
  o.ids = v.ids();
  return o;
}

Outcome check(const std::string& text) {
  Outcome whole = run_once(text, text.size(), false);
  for (size_t split = 0; split <= text.size(); ++split) {
    Outcome o = run_once(text, split, false);
    EXPECT_EQ(o.error, whole.error) << "split at " << split;
    if (whole.error.empty()) {
      EXPECT_EQ(o.ids, whole.ids) << "split at " << split;
    }
  }
  Outcome b = run_once(text, 0, true);
  EXPECT_EQ(b.error, whole.error) << "byte by byte";
  if (whole.error.empty()) {
    EXPECT_EQ(b.ids, whole.ids);
  }
  return whole;
}

TEST(IdListValidatorTest, AcceptsOneIdPerLineWithAnyLineEnding) {
  EXPECT_EQ(check("1a0018970a1b2c3\n1a0018970a1b2c4\n").ids, 2u);
  EXPECT_EQ(check("1a0018970a1b2c3\r\n1a0018970a1b2c4").ids, 2u);
  EXPECT_EQ(check("only").ids, 1u);
}

TEST(IdListValidatorTest, TrimsBlanksAroundIds) {
  auto o = check("  alias one \t\r\n\tbob   \n");
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.ids, 2u);
  // 40 bytes of id with blanks around is fine: only the trimmed id counts.
  EXPECT_EQ(check("   " + std::string(40, 'x') + "      \r\n").error, "");
}

TEST(IdListValidatorTest, SkipsBlankLinesButCountsThemInLineNumbers) {
  auto o = check("\n\na\n   \n\r\nb\n\n");
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.ids, 2u);
  EXPECT_EQ(check("a\n\n\n" + std::string(41, 'y') + "\n").error,
            "line 4: id longer than 40 bytes");
}

TEST(IdListValidatorTest, RefusesLinesOver40Bytes) {
  EXPECT_EQ(check(std::string(40, 'a')).error, "");
  EXPECT_EQ(check("ok\n" + std::string(41, 'a') + "\nok\n").error,
            "line 2: id longer than 40 bytes");
  // Inner blanks are part of the id.
  EXPECT_EQ(check(std::string(20, 'a') + "  " + std::string(19, 'b')).error,
            "line 1: id longer than 40 bytes");
  // Bytes, not characters: 14 three-byte characters are 42 bytes.
  std::string han;
  for (int i = 0; i < 14; ++i) han += "\xE6\x9E\x81";
  EXPECT_EQ(check(han).error, "line 1: id longer than 40 bytes");
  EXPECT_EQ(check(han.substr(0, 39)).error, "");
}

TEST(IdListValidatorTest, EmptyFilesAreInvalid) {
  const std::string empty = "empty file: no alias or registration_id in it";
  EXPECT_EQ(check("").error, empty);
  EXPECT_EQ(check("\n").error, empty);
  EXPECT_EQ(check("  \r\n\t\n   ").error, empty);
  EXPECT_EQ(check("\xEF\xBB\xBF").error, empty);
}

TEST(IdListValidatorTest, IgnoresALeadingByteOrderMarkOnly) {
  auto o = check("\xEF\xBB\xBF" + std::string(40, 'a') + "\n");
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.ids, 1u);
  // Anywhere else U+FEFF is content.
  EXPECT_EQ(check("a\n\xEF\xBB\xBF" + std::string(38, 'a')).error,
            "line 2: id longer than 40 bytes");
}

TEST(IdListValidatorTest, RefusesInvalidUtf8WithItsLine) {
  const std::string bad = ": not valid UTF-8 (the file must be UTF-8 text)";
  EXPECT_EQ(check("ok\nab\xFF\n").error, "line 2" + bad);
  EXPECT_EQ(check("\xC0\xAF").error, "line 1" + bad);            // overlong '/'
  EXPECT_EQ(check("a\nb\n\xED\xA0\x80").error, "line 3" + bad);  // surrogate
  EXPECT_EQ(check("\xF4\x90\x80\x80").error, "line 1" + bad);    // above U+10FFFF
  EXPECT_EQ(check("\xE6\x9E\n").error, "line 1" + bad);          // cut by a newline
  EXPECT_EQ(check("\xB0"
                  "abc")
                .error,
            "line 1" + bad);  // stray continuation
  // GBK-encoded Chinese (a common mistake) is not UTF-8.
  EXPECT_EQ(check("\xD6\xD0\xCE\xC4\n").error, "line 1" + bad);
  EXPECT_EQ(check("ok\n\xE6\x9E").error,
            "line 2: not valid UTF-8 (truncated sequence at the end of the file)");
  // Valid multi-byte characters of every length.
  EXPECT_EQ(check("\xC3\xA9\n\xE6\x9E\x81\n\xF0\x9F\x98\x80\n").ids, 3u);
}

TEST(IdListValidatorTest, RefusesControlCharacters) {
  EXPECT_EQ(check("a\nb\x01"
                  "c\n")
                .error,
            "line 2: control character in an id");
  EXPECT_EQ(check(std::string("a\0b", 3)).error, "line 1: control character in an id");
  EXPECT_EQ(check("a\x7F").error, "line 1: control character in an id");
  EXPECT_EQ(check("\xC2\x85").error, "line 1: control character in an id");  // NEL
}

TEST(IdListValidatorTest, KeepsTheFirstError) {
  IdListValidator v;
  EXPECT_FALSE(v.feed(std::string(41, 'a')));
  auto again = v.feed("b\n");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "line 1: id longer than 40 bytes");
  auto fin = v.finish();
  ASSERT_FALSE(fin);
  EXPECT_EQ(fin.error().message, "line 1: id longer than 40 bytes");
}

TEST(IdListValidatorTest, HandlesManyLines) {
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "registration" + std::to_string(i) + "\n";
  IdListValidator v;
  for (size_t off = 0; off < text.size(); off += 777)
    ASSERT_TRUE(v.feed(std::string_view(text).substr(off, 777)));
  ASSERT_TRUE(v.finish());
  EXPECT_EQ(v.ids(), 10000u);
}

}  // namespace
}  // namespace up::dialects::jpush
