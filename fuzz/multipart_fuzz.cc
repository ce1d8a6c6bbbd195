// libFuzzer target for up::http::MultipartParser (src/http/multipart.h).
//
// Input layout (so that hand-written seeds stay readable):
//   byte 0      flags: bits 0-2 the largest chunk fed at once (1, 2, 3, 5, 8, 16,
//               64 or 4096 bytes); bit 3 small limits (raw mode) or a CRLF
//               preamble (built mode); bits 4-5 a sink that refuses the k-th
//               part begin (1) or end (2); bit 6 k = 2 instead of 1; bit 7 built mode.
//   byte 1      seed of the chunk splitter
//   ...\n       the boundary, or a whole Content-Type value when it holds a ';'
//               (then multipart_boundary() extracts it, quoted or not)
//   rest        raw mode: the body. Built mode: parts separated by 0x01, each a
//               style byte then the content; the fuzzer writes a well-formed body
//               from them in one of the shapes real clients send.
//
// Raw mode checks, for any bytes:
//   - the same events (parts, headers, body bytes, end) and the same final
//     status whether the body is fed whole or in random chunk splits (including
//     empty feeds) chosen from the input itself;
//   - the bytes delivered for a part, and for all parts, never exceed the input;
//   - events are well nested (begin, data*, end), none after an error;
//   - at most max_parts parts, headers within max_part_header_bytes, a name on
//     every part, no CR/LF/NUL in header names or values;
//   - after a failure every feed() and finish() fails with the same error and
//     done() is false; finish() succeeds iff done(), and bytes fed after the
//     closing boundary are ignored;
//   - an error returned by the sink is the one feed() returns.
// Built mode additionally checks that what was written is exactly what is parsed.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/text.h"
#include "fuzz_check.h"
#include "http/header_params.h"
#include "http/multipart.h"

namespace {

using up::Errc;
using up::Status;
using up::http::MultipartLimits;
using up::http::MultipartParser;
using up::http::MultipartSink;
using up::http::PartHeaders;

struct Part {
  std::string name;
  std::string filename;
  bool has_filename = false;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string data;
  bool ended = false;

  bool same_as(const Part& o) const {
    return name == o.name && filename == o.filename && has_filename == o.has_filename &&
           content_type == o.content_type && headers == o.headers && data == o.data &&
           ended == o.ended;
  }
};

struct Outcome {
  std::vector<Part> parts;
  bool ok = false;
  Errc code = Errc::kInternal;
  std::string message;
  bool done = false;

  bool same_as(const Outcome& o) const {
    if (parts.size() != o.parts.size() || ok != o.ok || done != o.done) return false;
    if (!ok && (code != o.code || message != o.message)) return false;
    for (size_t i = 0; i < parts.size(); ++i)
      if (!parts[i].same_as(o.parts[i])) return false;
    return true;
  }
};

struct SinkPlan {
  size_t fail_begin_at = 0;  // 1-based; 0: never
  size_t fail_end_at = 0;
};

class RecordingSink : public MultipartSink {
 public:
  RecordingSink(Outcome& out, SinkPlan plan, size_t input_size, const MultipartLimits& limits)
      : out_(out), plan_(plan), input_size_(input_size), limits_(limits) {}

  Status on_part_begin(const PartHeaders& part) override {
    FUZZ_CHECK(!stopped_, "sink called after the parser reported an error");
    FUZZ_CHECK(!open_, "part begins while another is open");
    FUZZ_CHECK(out_.parts.size() < limits_.max_parts, "more parts than max_parts");
    FUZZ_CHECK(!part.name.empty(), "part without a name accepted");
    FUZZ_CHECK(part.has_filename || part.filename.empty(), "filename without has_filename");
    size_t header_bytes = 0;
    std::string first_type;
    bool have_type = false;
    for (const auto& [n, v] : part.headers) {
      FUZZ_CHECK(!n.empty(), "empty header name");
      for (char c : n) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "header name not lower-cased");
      for (std::string_view s : {std::string_view(n), std::string_view(v)})
        for (char c : s) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0', "CR/LF/NUL in a header");
      header_bytes += n.size() + v.size();
      if (n == "content-type" && !have_type && !v.empty()) {
        first_type = v;
        have_type = true;
      }
    }
    FUZZ_CHECK(header_bytes <= limits_.max_part_header_bytes, "part headers over the limit");
    FUZZ_CHECK(part.content_type == first_type, "content_type is not the first Content-Type");
    if (++begins_ == plan_.fail_begin_at) {
      refused_ = true;
      return up::fail(Errc::kTooLarge, "sink refused a part");
    }
    Part p;
    p.name = part.name;
    p.filename = part.filename;
    p.has_filename = part.has_filename;
    p.content_type = part.content_type;
    p.headers = part.headers;
    out_.parts.push_back(std::move(p));
    open_ = true;
    return up::ok();
  }

  Status on_part_data(std::string_view data) override {
    FUZZ_CHECK(!stopped_, "sink called after the parser reported an error");
    FUZZ_CHECK(open_, "part data outside a part");
    total_ += data.size();
    FUZZ_CHECK(total_ <= input_size_, "more body bytes delivered than were fed");
    out_.parts.back().data.append(data);
    return up::ok();
  }

  Status on_part_end() override {
    FUZZ_CHECK(!stopped_, "sink called after the parser reported an error");
    FUZZ_CHECK(open_, "part end outside a part");
    open_ = false;
    out_.parts.back().ended = true;
    if (++ends_ == plan_.fail_end_at) {
      refused_ = true;
      return up::fail(Errc::kTooLarge, "sink refused a part end");
    }
    return up::ok();
  }

  void stop() { stopped_ = true; }
  bool open() const { return open_; }
  bool refused() const { return refused_; }

 private:
  Outcome& out_;
  SinkPlan plan_;
  size_t input_size_;
  const MultipartLimits& limits_;
  size_t begins_ = 0;
  size_t ends_ = 0;
  size_t total_ = 0;
  bool open_ = false;
  bool stopped_ = false;
  bool refused_ = false;
};

// Chunk sizes from a seed in the input; max_chunk == 0 feeds the body whole.
class Splitter {
 public:
  Splitter(uint32_t seed, size_t max_chunk) : state_(seed * 2654435761u + 1), max_(max_chunk) {}
  size_t next(size_t left) {
    if (max_ == 0) return left;
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    if ((state_ & 0xF00000) == 0) return 0;  // an empty feed now and then
    return std::min(left, 1 + static_cast<size_t>(state_ % max_));
  }

 private:
  uint32_t state_;
  size_t max_;
};

void expect_same_error(const Status& st, Errc code, const std::string& message, const char* what) {
  FUZZ_CHECK(!st, what);
  FUZZ_CHECK(st.error().code == code && st.error().message == message, what);
}

Outcome parse(const std::string& boundary, const MultipartLimits& limits, std::string_view body,
              Splitter split, SinkPlan plan) {
  Outcome out;
  MultipartParser parser(boundary, limits);
  RecordingSink sink(out, plan, body.size(), limits);
  Status st = up::ok();
  size_t pos = 0;
  do {
    const size_t n = split.next(body.size() - pos);
    st = parser.feed(body.substr(pos, n), sink);
    pos += n;
  } while (st && pos < body.size());
  if (st) st = parser.finish(sink);
  if (sink.refused()) {
    FUZZ_CHECK(!st && st.error().code == Errc::kTooLarge &&
                   st.error().message.rfind("sink refused", 0) == 0,
               "the sink's error is not the one returned");
  }
  out.ok = static_cast<bool>(st);
  out.done = parser.done();
  if (!st) {
    sink.stop();
    out.code = st.error().code;
    out.message = st.error().message;
    FUZZ_CHECK(!parser.done(), "done() after a failure");
    // A failed parser stays failed, whatever comes next.
    expect_same_error(parser.feed(body.substr(pos), sink), out.code, out.message,
                      "feed after a failure did not fail the same way");
    expect_same_error(parser.feed("\r\n--" + boundary + "--\r\n", sink), out.code, out.message,
                      "feed of a closing boundary after a failure did not fail the same way");
    expect_same_error(parser.feed({}, sink), out.code, out.message,
                      "empty feed after a failure did not fail the same way");
    expect_same_error(parser.finish(sink), out.code, out.message,
                      "finish after a failure did not fail the same way");
  } else {
    FUZZ_CHECK(parser.done(), "finish() succeeded before the closing boundary");
    FUZZ_CHECK(!sink.open(), "a part is still open after the closing boundary");
    // The epilogue is ignored, whatever it holds.
    FUZZ_CHECK(parser.feed("\r\n--" + boundary + "\r\nx: y\r\n\r\n", sink), "epilogue parsed");
    FUZZ_CHECK(parser.feed(body, sink), "epilogue parsed");
    FUZZ_CHECK(parser.finish(sink), "finish failed after the closing boundary");
    FUZZ_CHECK(out.parts.empty() || out.parts.back().ended, "last part not ended");
  }
  return out;
}

constexpr size_t kMaxChunk[8] = {1, 2, 3, 5, 8, 16, 64, 4096};

// RFC 5987 pct-encoding of every byte that is not an attr-char.
std::string ext_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// Built mode: writes a well-formed body from the material, in the shapes of
// curl / browsers, the JPush Java client (lower-case `name:value` headers,
// CRLF preamble) and others, and checks the parser gives back exactly the parts.
void built_mode(uint8_t flags, uint32_t seed, const std::string& boundary,
                std::string_view material) {
  const std::string delim = "\r\n--" + boundary;
  std::vector<std::string_view> pieces;
  for (size_t start = 0;;) {
    const size_t sep = material.find('\x01', start);
    pieces.push_back(material.substr(start, sep == std::string_view::npos ? sep : sep - start));
    if (sep == std::string_view::npos || pieces.size() == 64) break;
    start = sep + 1;
  }
  Outcome expected;
  expected.ok = true;
  expected.done = true;
  std::string body;
  if (flags & 0x08) body += "\r\n";  // the JPush client's preamble
  body += "--" + boundary;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string_view piece = pieces[i];
    const uint8_t style = piece.empty() ? 0 : static_cast<uint8_t>(piece[0]);
    const std::string_view content = piece.empty() ? piece : piece.substr(1);
    const bool file = style & 0x01;
    const bool terse = style & 0x02;  // `content-disposition:form-data;name=...`
    const bool typed = style & 0x04;
    const bool extended = style & 0x08;
    const bool bare_lf = style & 0x10;
    const bool padding = style & 0x20;
    const char* eol = bare_lf ? "\n" : "\r\n";

    Part p;
    p.name = "f" + std::to_string(i);
    p.ended = true;
    std::string disposition = terse ? "content-disposition:form-data;name=\"" + p.name + "\""
                                    : "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (file) {
      // The file name as a browser writes it: raw bytes, '"' CR LF as %22 %0D %0A.
      std::string original;
      std::string quoted;
      for (unsigned char c : content.substr(0, 12)) {
        if (c == '"') original += '"', quoted += "%22";
        else if (c == '\r') original += '\r', quoted += "%0D";
        else if (c == '\n') original += '\n', quoted += "%0A";
        else if (c < 0x20 || c == 0x7f || c == '%') original += '_', quoted += '_';
        else original += static_cast<char>(c), quoted += static_cast<char>(c);
      }
      disposition += (terse ? ";filename=\"" : "; filename=\"") + quoted + "\"";
      if (extended && !original.empty() && up::valid_utf8(original))
        disposition += "; filename*=UTF-8''" + ext_encode(original);
      p.filename = original;
      p.has_filename = true;
    }
    p.headers.emplace_back("content-disposition", disposition.substr(disposition.find(':') + 1));
    auto& dv = p.headers.back().second;
    dv = std::string(up::http::trim_ows(dv));
    std::string headers = disposition + eol;
    if (typed) {
      p.content_type = file ? "application/octet-stream" : "text/plain; charset=UTF-8";
      headers += (terse ? "content-type:" : "Content-Type: ") + p.content_type + eol;
      p.headers.emplace_back("content-type", p.content_type);
    }
    // Content that would hold the delimiter (with the blank line's CRLF before
    // it) cannot be sent in this boundary: a client picks another boundary.
    std::string data(content);
    while (("\r\n" + data).find(delim) != std::string::npos) {
      if (data.find('\r') != std::string::npos) std::erase(data, '\r');
      else data.insert(0, "x");
    }
    p.data = data;
    body += padding ? " \t " : "";
    body += eol + headers + eol + data + delim;
    expected.parts.push_back(std::move(p));
  }
  body += "--";
  switch ((flags >> 4) & 3) {
    case 0: break;
    case 1: body += "\r\n"; break;
    case 2: body += "\r\nepilogue\r\n" + delim + "\r\nnot: parsed\r\n"; break;
    case 3: body += "\r\n\r\n"; break;
  }
  const MultipartLimits limits;
  const Outcome whole = parse(boundary, limits, body, Splitter(seed, 0), {});
  const Outcome split = parse(boundary, limits, body, Splitter(seed, kMaxChunk[flags & 7]), {});
  FUZZ_CHECK(whole.same_as(expected), "well-formed body not parsed back exactly (whole feed)");
  FUZZ_CHECK(split.same_as(expected), "well-formed body not parsed back exactly (split feeds)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const uint32_t seed = data[1];
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t nl = rest.find('\n');
  if (nl == std::string_view::npos || nl > 256) return 0;
  const std::string_view control = rest.substr(0, nl);
  const std::string_view body = rest.substr(nl + 1);

  std::string boundary;
  if (control.find(';') != std::string_view::npos) {
    auto b = up::http::multipart_boundary(control);
    if (!b) return 0;
    boundary = std::move(*b);
    FUZZ_CHECK(!boundary.empty() && boundary.size() <= 70, "multipart_boundary size");
  } else {
    boundary = std::string(control);
  }

  if (flags & 0x80) {
    if (boundary.empty() || boundary.find_first_of("\r\n") != std::string::npos) return 0;
    built_mode(flags, seed, boundary, body);
    return 0;
  }

  MultipartLimits limits;
  if (flags & 0x08) {
    limits.max_part_header_bytes = 96;
    limits.max_parts = 3;
  }
  SinkPlan plan;
  const size_t k = (flags & 0x40) ? 2 : 1;
  if (((flags >> 4) & 3) == 1) plan.fail_begin_at = k;
  if (((flags >> 4) & 3) == 2) plan.fail_end_at = k;

  const Outcome whole = parse(boundary, limits, body, Splitter(seed, 0), plan);
  const Outcome split = parse(boundary, limits, body, Splitter(seed, kMaxChunk[flags & 7]), plan);
  FUZZ_CHECK(whole.same_as(split), "chunk splits changed the parse");
  return 0;
}
