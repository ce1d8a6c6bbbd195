#include "http/multipart.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/header_params.h"

namespace up::http {
namespace {

struct Part {
  PartHeaders headers;
  std::string data;
  bool ended = false;
};

// Records every event; optionally fails on the data of one field.
class RecordingSink : public MultipartSink {
 public:
  Status on_part_begin(const PartHeaders& part) override {
    if (!parts.empty() && !parts.back().ended) return fail(Errc::kInternal, "begin before end");
    parts.push_back(Part{part, {}, false});
    return ok();
  }
  Status on_part_data(std::string_view data) override {
    ++data_calls;
    if (parts.empty() || parts.back().ended) return fail(Errc::kInternal, "data outside a part");
    if (data.empty()) return fail(Errc::kInternal, "empty data slice");
    if (!fail_on_field.empty() && parts.back().headers.name == fail_on_field)
      return fail(Errc::kDiskFull, "sink is full");
    parts.back().data.append(data);
    return ok();
  }
  Status on_part_end() override {
    if (parts.empty() || parts.back().ended) return fail(Errc::kInternal, "end without begin");
    parts.back().ended = true;
    return ok();
  }

  std::vector<Part> parts;
  size_t data_calls = 0;
  std::string fail_on_field;
};

const std::string kBoundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

// A payload that tries hard to look like a delimiter.
std::string binary_payload() {
  std::string p;
  for (int i = 0; i < 256; ++i) p += static_cast<char>(i);
  p += "\r\n";
  p += "\n--\r\r\n-";
  p += "--" + kBoundary;                                            // no CRLF before it: content
  p += "\r\n--" + kBoundary.substr(0, kBoundary.size() - 1) + "X";  // one byte short
  p += "\r\n--" + kBoundary.substr(0, 10);
  p += "\r\r\n-\r\n--";
  p += std::string("\0\0\xff\xfe", 4);
  p += "\r\n-";
  p += "\r";  // ends with CR right before the real delimiter
  return p;
}

std::string sample_body() {
  std::string b;
  b += "--" + kBoundary + "\r\n";
  b += "Content-Disposition: form-data; name=\"title\"\r\n\r\n";
  b += "Holiday photos\r\n";
  b += "--" + kBoundary + "\r\n";
  b += "Content-Disposition: form-data; name=\"description\"\r\n";
  b += "Content-Type: text/plain; charset=UTF-8\r\n\r\n";
  b += "line1\r\nline2 -- not a boundary\r\n";
  b += "--" + kBoundary + "\r\n";
  b += "Content-Disposition: form-data; name=\"file\"; filename=\"photo.bin\"\r\n";
  b += "Content-Type: application/octet-stream\r\n\r\n";
  b += binary_payload();
  b += "\r\n--" + kBoundary + "--\r\n";
  return b;
}

void expect_sample(const std::vector<Part>& parts) {
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].headers.name, "title");
  EXPECT_FALSE(parts[0].headers.has_filename);
  EXPECT_EQ(parts[0].headers.content_type, "");
  EXPECT_EQ(parts[0].data, "Holiday photos");
  EXPECT_EQ(parts[1].headers.name, "description");
  EXPECT_EQ(parts[1].headers.content_type, "text/plain; charset=UTF-8");
  EXPECT_EQ(parts[1].data, "line1\r\nline2 -- not a boundary");
  EXPECT_EQ(parts[2].headers.name, "file");
  EXPECT_TRUE(parts[2].headers.has_filename);
  EXPECT_EQ(parts[2].headers.filename, "photo.bin");
  EXPECT_EQ(parts[2].headers.content_type, "application/octet-stream");
  EXPECT_TRUE(parts[2].data == binary_payload()) << "file bytes differ";
  for (const auto& p : parts) EXPECT_TRUE(p.ended);
}

// Feeds `body` in the given chunk sizes (the rest as a last chunk), then finish().
Status parse(std::string_view body, const std::string& boundary, RecordingSink& sink,
             const std::vector<size_t>& chunks = {}, MultipartLimits limits = {}) {
  MultipartParser parser(boundary, limits);
  size_t pos = 0;
  for (size_t n : chunks) {
    n = std::min(n, body.size() - pos);
    UP_TRY(parser.feed(body.substr(pos, n), sink));
    pos += n;
  }
  UP_TRY(parser.feed(body.substr(pos), sink));
  UP_TRY(parser.finish(sink));
  if (!parser.done()) return fail(Errc::kInternal, "finish ok but not done");
  return ok();
}

TEST(MultipartParserTest, ParsesSampleInOneFeed) {
  RecordingSink sink;
  auto st = parse(sample_body(), kBoundary, sink);
  ASSERT_TRUE(st) << st.error().message;
  expect_sample(sink.parts);
}

TEST(MultipartParserTest, ParsesSampleSplitAtEveryByte) {
  const std::string body = sample_body();
  for (size_t split = 0; split <= body.size(); ++split) {
    RecordingSink sink;
    auto st = parse(body, kBoundary, sink, {split});
    ASSERT_TRUE(st) << "split " << split << ": " << st.error().message;
    expect_sample(sink.parts);
    if (HasFailure()) FAIL() << "split at " << split;
  }
}

TEST(MultipartParserTest, ParsesSampleOneByteAtATime) {
  const std::string body = sample_body();
  RecordingSink sink;
  auto st = parse(body, kBoundary, sink, std::vector<size_t>(body.size(), 1));
  ASSERT_TRUE(st) << st.error().message;
  expect_sample(sink.parts);
}

TEST(MultipartParserTest, ParsesSampleInRandomChunks) {
  const std::string body = sample_body();
  std::mt19937 rng(7578);
  for (int round = 0; round < 500; ++round) {
    std::uniform_int_distribution<size_t> size(1, round % 2 ? 8 : 120);
    std::vector<size_t> chunks;
    for (size_t total = 0; total < body.size();) {
      chunks.push_back(size(rng));
      total += chunks.back();
    }
    RecordingSink sink;
    auto st = parse(body, kBoundary, sink, chunks);
    ASSERT_TRUE(st) << "round " << round << ": " << st.error().message;
    expect_sample(sink.parts);
    if (HasFailure()) FAIL() << "round " << round;
  }
}

TEST(MultipartParserTest, DeliversBodyBytesAsSoonAsTheyCannotBeADelimiter) {
  MultipartParser parser("B");
  RecordingSink sink;
  ASSERT_TRUE(parser.feed("--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabcdef", sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_EQ(sink.parts[0].data, "abcdef");
  ASSERT_TRUE(parser.feed("gh\r\n-", sink));
  EXPECT_EQ(sink.parts[0].data, "abcdefgh");  // "\r\n-" may begin the delimiter
  ASSERT_TRUE(parser.feed("-X", sink));
  EXPECT_EQ(sink.parts[0].data, "abcdefgh\r\n--X");
  ASSERT_TRUE(parser.feed("\r\n--B--", sink));
  EXPECT_TRUE(sink.parts[0].ended);
  EXPECT_TRUE(parser.done());
  EXPECT_TRUE(parser.finish(sink));
}

TEST(MultipartParserTest, LargeBodyIsStreamedInLargeSlices) {
  std::string head =
      "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n\r\n";
  const size_t kSize = 8 << 20;
  const size_t kChunk = 64 << 10;
  MultipartParser parser("B");
  RecordingSink sink;
  ASSERT_TRUE(parser.feed(head, sink));
  std::string chunk(kChunk, 'x');
  for (size_t i = 0; i < kChunk; i += 1000) chunk[i] = '\r';  // CRs force delimiter checks
  for (size_t sent = 0; sent < kSize; sent += kChunk) ASSERT_TRUE(parser.feed(chunk, sink));
  ASSERT_TRUE(parser.feed("\r\n--B--\r\n", sink));
  ASSERT_TRUE(parser.finish(sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_EQ(sink.parts[0].data.size(), kSize);
  // At most two slices per feed (the kept partial match, then the new bytes).
  EXPECT_LE(sink.data_calls, 2 * (kSize / kChunk + 1));
}

TEST(MultipartParserTest, SkipsPreambleAndEpilogue) {
  std::string body =
      "This is a preamble.\r\nIt is to be ignored --B but not this way\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n"
      "epilogue --B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B--";
  RecordingSink sink;
  ASSERT_TRUE(parse(body, "B", sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_EQ(sink.parts[0].data, "1");
}

TEST(MultipartParserTest, EpilogueFedLaterIsIgnored) {
  MultipartParser parser("B");
  RecordingSink sink;
  ASSERT_TRUE(
      parser.feed("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--", sink));
  EXPECT_TRUE(parser.done());
  ASSERT_TRUE(parser.feed("\r\ngarbage that is not multipart at all\r\n--B\r\n", sink));
  ASSERT_TRUE(parser.finish(sink));
  ASSERT_EQ(sink.parts.size(), 1u);
}

TEST(MultipartParserTest, AcceptsTransportPaddingAfterBoundary) {
  std::string body =
      "--B \t \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B\t\r\n"
      "Content-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n--B--  \r\n";
  for (size_t split = 0; split <= body.size(); ++split) {
    RecordingSink sink;
    ASSERT_TRUE(parse(body, "B", sink, {split})) << split;
    ASSERT_EQ(sink.parts.size(), 2u);
    EXPECT_EQ(sink.parts[0].data, "1");
    EXPECT_EQ(sink.parts[1].data, "2");
  }
}

TEST(MultipartParserTest, HeaderNamesAreCaseInsensitiveAndSpaceIsOptional) {
  std::string body =
      "--B\r\nCONTENT-DISPOSITION:form-data; NAME=\"f\"; FileName=\"x.txt\"\r\n"
      "content-TYPE:text/plain\r\nX-Custom:  v  \r\n\r\nhello\r\n--B--\r\n";
  RecordingSink sink;
  ASSERT_TRUE(parse(body, "B", sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  const auto& h = sink.parts[0].headers;
  EXPECT_EQ(h.name, "f");
  EXPECT_EQ(h.filename, "x.txt");
  EXPECT_EQ(h.content_type, "text/plain");
  ASSERT_EQ(h.headers.size(), 3u);
  EXPECT_EQ(h.headers[0].first, "content-disposition");
  EXPECT_EQ(h.headers[1].first, "content-type");
  EXPECT_EQ(h.headers[2], (std::pair<std::string, std::string>{"x-custom", "v"}));
}

TEST(MultipartParserTest, ToleratesBareLfInPartHeaders) {
  std::string body =
      "--B\nContent-Disposition: form-data; name=\"f\"\nContent-Type: text/plain\n\nhi\r\n--B--";
  RecordingSink sink;
  ASSERT_TRUE(parse(body, "B", sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_EQ(sink.parts[0].data, "hi");
  EXPECT_EQ(sink.parts[0].headers.content_type, "text/plain");
}

TEST(MultipartParserTest, EmptyBodies) {
  // An empty value, then a part whose blank line doubles as the delimiter's CRLF.
  std::string body =
      "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n--B\r\n"
      "Content-Disposition: form-data; name=\"b\"\r\n\r\n--B--";
  for (size_t split = 0; split <= body.size(); ++split) {
    RecordingSink sink;
    ASSERT_TRUE(parse(body, "B", sink, {split})) << split;
    ASSERT_EQ(sink.parts.size(), 2u);
    EXPECT_EQ(sink.parts[0].data, "");
    EXPECT_EQ(sink.parts[1].data, "");
    EXPECT_EQ(sink.data_calls, 0u);
  }
}

TEST(MultipartParserTest, QuotedBoundary) {
  auto boundary = multipart_boundary("multipart/form-data; boundary=\"-----abc:def\"");
  ASSERT_TRUE(boundary);
  EXPECT_EQ(*boundary, "-----abc:def");
  std::string body =
      "-------abc:def\r\nContent-Disposition: form-data; "
      "name=\"a\"\r\n\r\nv\r\n-------abc:def--\r\n";
  RecordingSink sink;
  ASSERT_TRUE(parse(body, *boundary, sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_EQ(sink.parts[0].data, "v");
}

// JPush's Java client writes "\r\n--" + BOUNDARY first and "Content-Type:" + type.
TEST(MultipartParserTest, JPushJavaClientShape) {
  const std::string b = "===1700000000000===";
  std::string body = "\r\n--" + b + "\r\n" +
                     "Content-Disposition: form-data; name=\"file\"; filename=\"report.pdf\"\r\n" +
                     "Content-Type:application/pdf\r\n\r\n" + "%PDF-1.4\r\n\r\n" + "\r\n--" + b +
                     "--\r\n";
  for (size_t split = 0; split <= body.size(); ++split) {
    RecordingSink sink;
    auto st = parse(body, b, sink, {split});
    ASSERT_TRUE(st) << split << ": " << st.error().message;
    ASSERT_EQ(sink.parts.size(), 1u);
    EXPECT_EQ(sink.parts[0].headers.filename, "report.pdf");
    EXPECT_EQ(sink.parts[0].headers.content_type, "application/pdf");
    EXPECT_EQ(sink.parts[0].data, "%PDF-1.4\r\n\r\n");
  }
}

// The qiniu SDK appends crc32 after the file part.
TEST(MultipartParserTest, FieldsAfterTheFilePart) {
  const std::string b = "--------------------------123456789012345678901234";
  std::string body;
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\ntok:sig:policy\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk/1.txt\r\n";
  body += "--" + b +
          "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"1.txt\"\r\n"
          "Content-Type: text/plain\r\n\r\nfile body\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"crc32\"\r\n\r\n1234567\r\n";
  body += "--" + b + "--\r\n";
  RecordingSink sink;
  ASSERT_TRUE(parse(body, b, sink, std::vector<size_t>(body.size(), 3)));
  ASSERT_EQ(sink.parts.size(), 4u);
  EXPECT_EQ(sink.parts[2].headers.name, "file");
  EXPECT_EQ(sink.parts[2].data, "file body");
  EXPECT_EQ(sink.parts[3].headers.name, "crc32");
  EXPECT_EQ(sink.parts[3].data, "1234567");
  EXPECT_FALSE(sink.parts[3].headers.has_filename);
}

TEST(MultipartParserTest, ExtendedFilenameWins) {
  std::string body =
      "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fallback.txt\"; "
      "filename*=UTF-8''%E4%B8%AD%E6%96%87%E6%96%87%E4%BB%B6.txt\r\n\r\nx\r\n--B--";
  RecordingSink sink;
  ASSERT_TRUE(parse(body, "B", sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_TRUE(sink.parts[0].headers.has_filename);
  EXPECT_EQ(sink.parts[0].headers.filename, "中文文件.txt");
}

TEST(MultipartParserTest, QuotedFilenameKeepsRawUtf8AndUndoesFormEscapes) {
  std::string body =
      "--B\r\nContent-Disposition: form-data; name=\"file\"; "
      "filename=\"a b%22\xC3\xA9%0D%0A%41\\x.txt\"\r\n\r\nx\r\n--B--";
  RecordingSink sink;
  ASSERT_TRUE(parse(body, "B", sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_EQ(sink.parts[0].headers.filename, "a b\"\xC3\xA9\r\n%41\\x.txt");
}

TEST(MultipartParserTest, EmptyFilenameIsStillAFilePart) {
  // Browsers send filename="" for an empty file input.
  std::string body =
      "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n\r\n--B--";
  RecordingSink sink;
  ASSERT_TRUE(parse(body, "B", sink));
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_TRUE(sink.parts[0].headers.has_filename);
  EXPECT_EQ(sink.parts[0].headers.filename, "");
}

void expect_bad(const Status& st, std::string_view what = {}) {
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kBadMultipart) << st.error().message;
  if (!what.empty()) {
    EXPECT_NE(st.error().message.find(what), std::string::npos) << st.error().message;
  }
}

TEST(MultipartParserTest, MissingClosingBoundaryFailsAtFinish) {
  const std::string body = sample_body();
  const std::string truncated[] = {
      body.substr(0, body.size() - 4),                     // "\r\n--B" without "--"
      body.substr(0, body.find("photo.bin")),              // inside part headers
      body.substr(0, body.size() - kBoundary.size() - 8),  // inside the file body
      "",                                                  // empty body
  };
  for (const auto& t : truncated) {
    MultipartParser parser(kBoundary);
    RecordingSink sink;
    ASSERT_TRUE(parser.feed(t, sink));
    EXPECT_FALSE(parser.done());
    expect_bad(parser.finish(sink), "closing boundary");
  }
}

TEST(MultipartParserTest, GarbageInsteadOfBoundary) {
  {
    // No delimiter at all: all preamble, and the body never closes.
    RecordingSink sink;
    expect_bad(parse("hello world\r\nthis is not multipart\r\n", "B", sink));
    EXPECT_TRUE(sink.parts.empty());
  }
  {
    // The boundary followed by something other than "--", padding or CRLF.
    RecordingSink sink;
    expect_bad(
        parse("--Bxyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--", "B", sink),
        "after a multipart boundary");
  }
  {
    RecordingSink sink;
    expect_bad(parse("--B-x\r\n", "B", sink));
  }
  {
    RecordingSink sink;
    expect_bad(parse("--B\rX", "B", sink));
  }
}

TEST(MultipartParserTest, HeaderWithoutColon) {
  RecordingSink sink;
  expect_bad(parse("--B\r\nContent-Disposition form-data; name=\"a\"\r\n\r\n1\r\n--B--", "B", sink),
             "colon");
}

TEST(MultipartParserTest, TooManyParts) {
  std::string body;
  for (int i = 0; i < 3; ++i)
    body +=
        "--B\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) + "\"\r\n\r\nv\r\n";
  body += "--B--";
  MultipartLimits limits;
  limits.max_parts = 3;
  RecordingSink ok_sink;
  EXPECT_TRUE(parse(body, "B", ok_sink, {}, limits));
  limits.max_parts = 2;
  RecordingSink sink;
  expect_bad(parse(body, "B", sink, {}, limits), "parts");
  EXPECT_EQ(sink.parts.size(), 2u);
}

TEST(MultipartParserTest, OverlongPartHeaders) {
  MultipartLimits limits;
  limits.max_part_header_bytes = 256;
  const std::string cd = "Content-Disposition: form-data; name=\"a\"\r\n";
  {
    RecordingSink sink;
    std::string body = "--B\r\n" + cd + "X-Long: " + std::string(200, 'y') + "\r\n\r\nv\r\n--B--";
    EXPECT_TRUE(parse(body, "B", sink, {}, limits));
  }
  {
    // One endless header line, fed in small pieces: fails once over the limit.
    MultipartParser parser("B", limits);
    RecordingSink sink;
    ASSERT_TRUE(parser.feed("--B\r\nX-Long: ", sink));
    Status st = ok();
    size_t fed = 0;
    while (st && fed < 10000) {
      st = parser.feed(std::string(16, 'y'), sink);
      fed += 16;
    }
    expect_bad(st, "part headers over 256 bytes");
    EXPECT_LE(fed, 256u);
  }
  {
    // Many short lines add up.
    RecordingSink sink;
    std::string body = "--B\r\n" + cd;
    for (int i = 0; i < 40; ++i) body += "X-" + std::to_string(i) + ": v\r\n";
    body += "\r\nv\r\n--B--";
    expect_bad(parse(body, "B", sink, {}, limits));
  }
  {
    // Endless transport padding counts too.
    RecordingSink sink;
    expect_bad(parse("--B" + std::string(1000, ' ') + "\r\n", "B", sink, {}, limits));
  }
}

TEST(MultipartParserTest, MissingName) {
  {
    RecordingSink sink;
    expect_bad(parse("--B\r\nContent-Disposition: form-data; filename=\"a.txt\"\r\n\r\n1\r\n--B--",
                     "B", sink),
               "name");
  }
  {
    RecordingSink sink;
    expect_bad(
        parse("--B\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n1\r\n--B--", "B", sink),
        "name");
  }
  {
    RecordingSink sink;
    expect_bad(parse("--B\r\nContent-Type: text/plain\r\n\r\n1\r\n--B--", "B", sink),
               "Content-Disposition");
  }
  {
    RecordingSink sink;
    expect_bad(parse("--B\r\n\r\n1\r\n--B--", "B", sink), "Content-Disposition");
  }
  {
    RecordingSink sink;
    expect_bad(
        parse("--B\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--B--", "B", sink),
        "unterminated");
  }
}

TEST(MultipartParserTest, TwoContentDispositionsAreRefused) {
  RecordingSink sink;
  expect_bad(
      parse("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n"
            "Content-Disposition: form-data; name=\"b\"\r\n\r\n1\r\n--B--",
            "B", sink));
}

TEST(MultipartParserTest, SinkErrorStopsTheParse) {
  const std::string body = sample_body();
  MultipartParser parser(kBoundary);
  RecordingSink sink;
  sink.fail_on_field = "file";
  auto st = parser.feed(body, sink);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kDiskFull);
  EXPECT_EQ(st.error().message, "sink is full");
  ASSERT_EQ(sink.parts.size(), 3u);
  EXPECT_FALSE(sink.parts[2].ended);
  // The parser stays failed: no more callbacks, the same error.
  const size_t calls = sink.data_calls;
  auto again = parser.feed("more", sink);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kDiskFull);
  EXPECT_EQ(sink.data_calls, calls);
  ASSERT_FALSE(parser.finish(sink));
  EXPECT_EQ(parser.finish(sink).error().code, Errc::kDiskFull);
}

TEST(MultipartParserTest, InvalidBoundaryFails) {
  for (const std::string& b : {std::string(), std::string("a\r\nb")}) {
    MultipartParser parser(b);
    RecordingSink sink;
    expect_bad(parser.feed("--\r\n", sink));
    expect_bad(parser.finish(sink));
  }
}

TEST(MultipartParserTest, ZeroPartsIsAccepted) {
  RecordingSink sink;
  ASSERT_TRUE(parse("--B--\r\n", "B", sink));
  EXPECT_TRUE(sink.parts.empty());
}

}  // namespace
}  // namespace up::http
