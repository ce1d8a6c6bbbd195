#include "http/header_params.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace up::http {
namespace {

// Range: the resolved range, or "none" (send all), or "bad" (416).
std::string range(std::string_view value, uint64_t size) {
  auto r = parse_range(value, size);
  if (!r) return r.error().code == Errc::kBadRange ? "bad" : "error";
  if (!*r) return "none";
  return std::to_string((*r)->first) + "-" + std::to_string((*r)->last);
}

TEST(HeaderParamsTest, ParseRangeSingleRanges) {
  EXPECT_EQ(range("bytes=0-0", 10), "0-0");
  EXPECT_EQ(range("bytes=0-9", 10), "0-9");
  EXPECT_EQ(range("bytes=2-5", 10), "2-5");
  EXPECT_EQ(range("bytes=5-", 10), "5-9");
  EXPECT_EQ(range("bytes=-3", 10), "7-9");
  EXPECT_EQ(range("bytes=-30", 10), "0-9");    // suffix longer than the body
  EXPECT_EQ(range("bytes=3-999", 10), "3-9");  // beyond size: clamped
  EXPECT_EQ(range("bytes=3-99999999999999999999999", 10), "3-9");
  EXPECT_EQ(range("Bytes = 1 - 2 ", 10), "1-2");
  auto r = parse_range("bytes=2-5", 10);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->length(), 4u);
}

TEST(HeaderParamsTest, ParseRangeUnsatisfiable) {
  EXPECT_EQ(range("bytes=10-", 10), "bad");
  EXPECT_EQ(range("bytes=10-20", 10), "bad");
  EXPECT_EQ(range("bytes=99999999999999999999999-", 10), "bad");
  EXPECT_EQ(range("bytes=-0", 10), "bad");
  EXPECT_EQ(range("bytes=0-0", 0), "bad");
  EXPECT_EQ(range("bytes=-5", 0), "bad");
  EXPECT_EQ(range("bytes=0-", 0), "bad");
}

TEST(HeaderParamsTest, ParseRangeIgnoredForms) {
  EXPECT_EQ(range("", 10), "none");
  EXPECT_EQ(range("bytes=0-1,3-4", 10), "none");
  EXPECT_EQ(range("bytes=0-1, 5-", 10), "none");
  EXPECT_EQ(range("items=0-1", 10), "none");
  EXPECT_EQ(range("bytes=", 10), "none");
  EXPECT_EQ(range("bytes=-", 10), "none");
  EXPECT_EQ(range("bytes=abc", 10), "none");
  EXPECT_EQ(range("bytes=1-x", 10), "none");
  EXPECT_EQ(range("bytes=5-2", 10), "none");
  EXPECT_EQ(range("bytes=+1-2", 10), "none");
  EXPECT_EQ(range("garbage", 10), "none");
}

TEST(HeaderParamsTest, MediaTypeAndParams) {
  EXPECT_EQ(media_type("Multipart/Form-Data ; boundary=x"), "multipart/form-data");
  EXPECT_EQ(media_type("text/plain"), "text/plain");
  EXPECT_EQ(header_param("text/plain; Charset=UTF-8", "charset"), "UTF-8");
  EXPECT_EQ(header_param("a/b; x=\"q\\\"uo;ted\"; y=2", "x"), "q\"uo;ted");
  EXPECT_EQ(header_param("a/b; x=\"q\\\"uo;ted\"; y=2", "y"), "2");
  EXPECT_EQ(header_param("a/b; x=1", "y"), std::nullopt);
  EXPECT_EQ(header_param("a/b; x=\"unterminated", "x"), std::nullopt);
}

TEST(HeaderParamsTest, MultipartBoundary) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc").value(), "abc");
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"-----abc\"").value(), "-----abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;charset=utf-8;BOUNDARY=----x1").value(),
            "----x1");
  EXPECT_EQ(multipart_boundary(std::string("multipart/form-data; boundary=") + std::string(70, 'b'))
                .value()
                .size(),
            70u);
  for (const std::string& bad : std::vector<std::string>{
           "multipart/form-data",
           "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"",
           "multipart/mixed; boundary=abc", "application/json; boundary=abc", "",
           "multipart/form-data; boundary=" + std::string(71, 'b'),
           "multipart/form-data; boundary=\"a\rb\""}) {
    auto r = multipart_boundary(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kBadMultipart);
  }
}

TEST(HeaderParamsTest, ParseContentDisposition) {
  auto cd = parse_content_disposition("Form-Data; name=\"file\"; filename=\"C:\\dir\\a%22b.txt\"");
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->type, "form-data");
  EXPECT_EQ(cd->name, "file");
  EXPECT_TRUE(cd->has_filename);
  EXPECT_EQ(cd->filename, "C:\\dir\\a\"b.txt");  // backslashes are literal

  cd = parse_content_disposition("form-data; name=field");
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->name, "field");
  EXPECT_FALSE(cd->has_filename);

  // filename* wins, whatever the order; ISO-8859-1 is converted to UTF-8.
  cd = parse_content_disposition("attachment; filename*=iso-8859-1'en'%E9t%E9.txt; filename=\"x\"");
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->filename, "\xC3\xA9t\xC3\xA9.txt");

  // A broken filename* falls back to filename.
  cd = parse_content_disposition("form-data; name=a; filename=\"ok.txt\"; filename*=UTF-8''%ZZ");
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->filename, "ok.txt");
  cd = parse_content_disposition("form-data; name=a; filename=\"ok.txt\"; filename*=UTF-8''%FF");
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->filename, "ok.txt");

  EXPECT_FALSE(parse_content_disposition(""));
  EXPECT_FALSE(parse_content_disposition("form-data; name=\"open"));
}

TEST(HeaderParamsTest, FormatContentDispositionAscii) {
  EXPECT_EQ(format_content_disposition("attachment", "report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
  EXPECT_EQ(format_content_disposition("inline", ""), "inline");
}

// Printable ASCII that the fallback keeps but filename* escapes (the header
// written in place, sized first).
TEST(HeaderParamsTest, FormatContentDispositionAsciiNeedingEscapes) {
  EXPECT_EQ(format_content_disposition("inline", "a b(1)~.txt"),
            "inline; filename=\"a b(1)~.txt\"; filename*=UTF-8''a%20b%281%29~.txt");
  EXPECT_EQ(format_content_disposition("attachment", "x"),
            "attachment; filename=\"x\"; filename*=UTF-8''x");
}

TEST(HeaderParamsTest, FormatContentDispositionQuotesAndNewlines) {
  EXPECT_EQ(format_content_disposition("attachment", "a\"b\\c\r\nd%e;f.txt"),
            "attachment; filename=\"a_b_c__d_e;f.txt\"; "
            "filename*=UTF-8''a%22b%5Cc%0D%0Ad%25e%3Bf.txt");
}

TEST(HeaderParamsTest, FormatContentDispositionChinese) {
  EXPECT_EQ(format_content_disposition("attachment", "中文 文件.txt"),
            "attachment; filename=\"__ __.txt\"; "
            "filename*=UTF-8''%E4%B8%AD%E6%96%87%20%E6%96%87%E4%BB%B6.txt");
}

TEST(HeaderParamsTest, FormatContentDispositionInvalidUtf8) {
  // A lone continuation byte and a truncated sequence: one '_' per bad byte.
  EXPECT_EQ(format_content_disposition("attachment", std::string("a\x80"
                                                                 "b\xE4\xB8",
                                                                 5)),
            "attachment; filename=\"a_b__\"; filename*=UTF-8''a%80b%E4%B8");
  // Whatever the input, the header value has no control bytes, quotes inside
  // the fallback, or non-ASCII.
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  const std::string v = format_content_disposition("attachment", all);
  for (unsigned char c : v) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << int(c);
  const size_t open = v.find('"');
  const size_t close = v.find('"', open + 1);
  EXPECT_EQ(close, v.find("\"; filename*="));
}

TEST(HeaderParamsTest, PercentDecode) {
  EXPECT_EQ(percent_decode("a%20b+c%2f").value(), "a b+c/");
  EXPECT_EQ(percent_decode("").value(), "");
  EXPECT_EQ(percent_decode("%E4%B8%AD").value(), "中");
  for (std::string bad : {"%", "%2", "a%G0", "%%"}) {
    auto r = percent_decode(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
}

TEST(HeaderParamsTest, SafeHeaderValue) {
  EXPECT_TRUE(safe_header_value(""));
  EXPECT_TRUE(safe_header_value("text/plain; charset=utf-8"));
  EXPECT_TRUE(safe_header_value("a\tb"));
  EXPECT_TRUE(safe_header_value("obs-text \xE6\x8A\xA5 \xff"));
  EXPECT_FALSE(safe_header_value("text/plain\r\nSet-Cookie: pwn=1"));
  EXPECT_FALSE(safe_header_value("a\rb"));
  EXPECT_FALSE(safe_header_value("a\nb"));
  EXPECT_FALSE(safe_header_value(std::string("a\0b", 3)));
  EXPECT_FALSE(safe_header_value("a\x01"));
  EXPECT_FALSE(safe_header_value("a\x7f"));
}

TEST(HeaderParamsTest, SafeHeaderName) {
  EXPECT_TRUE(safe_header_name("Content-Type"));
  EXPECT_TRUE(safe_header_name("x-qn-meta-a_b.c"));
  EXPECT_FALSE(safe_header_name(""));
  EXPECT_FALSE(safe_header_name("Set-Cookie: x"));
  EXPECT_FALSE(safe_header_name("a\r\nb"));
  EXPECT_FALSE(safe_header_name(std::string("a\0", 2)));
  EXPECT_FALSE(safe_header_name("n\xC3\xA4me"));
}

// Whatever a stored file name holds, its Content-Disposition is a safe value.
// The checks are table-driven: every byte, against RFC 9110's definitions.
TEST(HeaderParamsTest, SafeHeaderChecksAgreeOnEveryByte) {
  const std::string_view tchar_symbols = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    const char b = static_cast<char>(c);
    const bool control = (c < 0x20 && c != '\t') || c == 0x7f;
    EXPECT_EQ(safe_header_value(std::string("a") + b + "b"), !control) << c;
    const bool tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c != 0 && tchar_symbols.find(b) != std::string_view::npos);
    EXPECT_EQ(safe_header_name(std::string("X-") + b), tchar) << c;
    EXPECT_EQ(safe_header_name(std::string(1, b)), tchar) << c;
  }
}

// safe_header_value checks 8 bytes at a time (the tail as one overlapping
// word): every byte value at every place of values of 1-21 bytes, the other
// bytes plain or a tab, against the byte-by-byte definition.
TEST(HeaderParamsTest, SafeHeaderValueFindsEveryControlByteWhereverItIs) {
  for (size_t len = 1; len <= 21; ++len) {
    for (const char filler : {'x', '\t', '\x80'}) {
      for (size_t at = 0; at < len; ++at) {
        for (int c = 0; c < 256; ++c) {
          std::string v(len, filler);
          v[at] = static_cast<char>(c);
          const bool control = (c < 0x20 && c != '\t') || c == 0x7f;
          ASSERT_EQ(safe_header_value(v), !control) << len << " " << at << " " << c;
        }
      }
    }
  }
}

TEST(HeaderParamsTest, ContentDispositionIsAlwaysASafeHeaderValue) {
  for (const std::string& name :
       {std::string("a\r\nSet-Cookie: pwn=1"), std::string("a\0b", 3), std::string("\xC2\x85"),
        std::string("\xff\xfe\r"), std::string("\"\\%")}) {
    const std::string v = format_content_disposition("attachment", name);
    EXPECT_TRUE(safe_header_value(v)) << v;
    EXPECT_EQ(v.find_first_of("\r\n"), std::string::npos) << v;
  }
}

}  // namespace
}  // namespace up::http
