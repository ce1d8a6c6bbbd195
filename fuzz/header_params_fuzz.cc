// libFuzzer target for the header-value parsers and formatter of
// src/http/header_params.h. The input is taken as one header value and given to
// every function; parts of it also fill well-formed values whose parse is known.
//
// Checks:
//   media_type          lower-case, no ';', no surrounding white space.
//   header_param        a value written quoted (with quoted-pairs) or as a token
//                       into a Content-Type comes back unchanged.
//   multipart_boundary  on success: 1..70 printable ASCII bytes, the type is
//                       multipart/form-data, equal to header_param(.., "boundary");
//                       for a written boundary: accepted iff it meets those rules.
//   parse_content_disposition
//                       on success: a non-empty lower-case type without '=',
//                       filename empty unless has_filename; errors are
//                       kBadMultipart; a name and filename written the way
//                       browsers do (%22 %0D %0A) come back unchanged.
//   format_content_disposition
//                       output only printable ASCII (so no CR, LF, NUL), the
//                       quoted fallback holds no '"', '\' or '%', the filename*
//                       part only attr-chars and %XX that decode to the exact
//                       input bytes; parse_content_disposition of the output
//                       gives the input back (or the fallback for invalid UTF-8).
//   parse_range         against fixed and input-derived sizes: a range always has
//                       first <= last < size, errors are kBadRange; a range
//                       written from input-derived numbers resolves as RFC 9110 says.
//   percent_decode      output length = input - 2 per '%', errors are
//                       kInvalidArgument; decoding an encoding (either hex case)
//                       of any bytes gives them back.
//   split_path          non-empty segments without '/', pointing into the input,
//                       that joined by '/' give the input with '/' runs collapsed.
//   plain_token         agrees with its definition ([A-Za-z0-9._-], 1..max_len).
//   safe_header_value   true iff no byte is below 0x20 but HTAB, nor DEL (so no
//                       CR, LF, NUL); every format_content_disposition output
//                       is a safe value.
//   safe_header_name    true iff 1+ tchars (RFC 9110); a safe name is a safe value.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "core/text.h"
#include "fuzz_check.h"
#include "http/header_params.h"

namespace {

using up::Errc;
namespace h = up::http;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

bool printable_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

std::string pct_encode_all(std::string_view s, bool lower) {
  const char* hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 0xF];
  }
  return out;
}

void check_media_type(std::string_view v) {
  const std::string m = h::media_type(v);
  FUZZ_CHECK(m.size() <= v.size(), "media_type longer than its input");
  FUZZ_CHECK(m.find(';') == std::string::npos, "media_type holds ';'");
  for (char c : m) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "media_type not lower-cased");
  FUZZ_CHECK(m.empty() || (!h::is_ows(m.front()) && !h::is_ows(m.back())),
             "media_type not trimmed");
}

void check_boundary(std::string_view v) {
  for (std::string_view name : {"boundary", "charset", "name", "filename*"}) {
    auto p = h::header_param(v, name);
    if (p) FUZZ_CHECK(p->size() <= v.size(), "header_param longer than its input");
  }
  auto b = h::multipart_boundary(v);
  if (b) {
    FUZZ_CHECK(!b->empty() && b->size() <= 70 && printable_ascii(*b), "bad boundary accepted");
    FUZZ_CHECK(h::media_type(v) == "multipart/form-data", "boundary from another media type");
    FUZZ_CHECK(h::header_param(v, "boundary") == *b, "boundary differs from header_param");
  } else {
    FUZZ_CHECK(b.error().code == Errc::kBadMultipart, "multipart_boundary error code");
  }

  // The input as a boundary value, quoted with quoted-pairs: always recovered.
  std::string quoted = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  const std::string ct = "Multipart/Form-Data; charset=utf-8; boundary=" + quoted + "; x=y";
  auto p = h::header_param(ct, "BOUNDARY");
  FUZZ_CHECK(p && *p == v, "quoted parameter not recovered");
  auto mb = h::multipart_boundary(ct);
  const bool valid = !v.empty() && v.size() <= 70 && printable_ascii(v);
  FUZZ_CHECK(static_cast<bool>(mb) == valid, "boundary validity");
  if (mb) FUZZ_CHECK(*mb == v, "quoted boundary not recovered");

  // As a token: trimmed, up to the next ';'.
  const std::string_view token = v.substr(0, v.find(';'));
  const std::string_view trimmed = h::trim_ows(token);
  if (trimmed.empty() || trimmed.front() != '"') {
    auto t = h::header_param("text/plain;boundary=" + std::string(token), "boundary");
    FUZZ_CHECK(t && *t == trimmed, "token parameter not recovered");
  }
}

void check_content_disposition(std::string_view v) {
  auto cd = h::parse_content_disposition(v);
  if (cd) {
    FUZZ_CHECK(!cd->type.empty() && cd->type.find('=') == std::string::npos, "bad type accepted");
    for (char c : cd->type) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "type not lower-cased");
    FUZZ_CHECK(cd->has_filename || cd->filename.empty(), "filename without has_filename");
  } else {
    FUZZ_CHECK(cd.error().code == Errc::kBadMultipart, "parse_content_disposition error code");
  }

  // Written as browsers do: raw bytes, '"' CR LF as %22 %0D %0A ('%' itself is
  // ambiguous there and left out).
  std::string original;
  std::string escaped;
  for (char c : v) {
    if (c == '"') original += c, escaped += "%22";
    else if (c == '\r') original += c, escaped += "%0D";
    else if (c == '\n') original += c, escaped += "%0A";
    else if (c == '%') original += '_', escaped += '_';
    else original += c, escaped += c;
  }
  auto fd = h::parse_content_disposition("form-data; name=\"" + escaped + "\"; filename=\"" +
                                         escaped + "\"");
  FUZZ_CHECK(fd && fd->type == "form-data", "form-data disposition refused");
  FUZZ_CHECK(fd->name == original && fd->filename == original && fd->has_filename,
             "form-data name/filename not recovered");
}

void check_format(std::string_view v) {
  const std::string out = h::format_content_disposition("attachment", v);
  FUZZ_CHECK(printable_ascii(out), "formatted Content-Disposition not printable ASCII");
  if (v.empty()) {
    FUZZ_CHECK(out == "attachment", "empty filename formatted");
    return;
  }
  constexpr std::string_view kHead = "attachment; filename=\"";
  constexpr std::string_view kMid = "\"; filename*=UTF-8''";
  FUZZ_CHECK(out.rfind(kHead, 0) == 0, "formatted value does not start as documented");
  const size_t mid = out.find(kMid, kHead.size());
  FUZZ_CHECK(mid != std::string::npos, "no filename* in the formatted value");
  const std::string_view fallback = std::string_view(out).substr(kHead.size(), mid - kHead.size());
  const std::string_view encoded = std::string_view(out).substr(mid + kMid.size());
  FUZZ_CHECK(fallback.find_first_of("\"\\%") == std::string_view::npos, "unsafe byte in fallback");
  FUZZ_CHECK(fallback.size() <= v.size(), "fallback longer than the name");
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '%') {
      FUZZ_CHECK(i + 2 < encoded.size() &&
                     std::isxdigit(static_cast<unsigned char>(encoded[i + 1])) &&
                     std::isxdigit(static_cast<unsigned char>(encoded[i + 2])),
                 "bad escape in filename*");
      i += 2;
      continue;
    }
    const bool attr = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
    FUZZ_CHECK(attr, "non attr-char in filename*");
  }
  auto decoded = h::percent_decode(encoded);
  FUZZ_CHECK(decoded && *decoded == v, "filename* does not decode to the name");

  auto back = h::parse_content_disposition(out);
  FUZZ_CHECK(back && back->type == "attachment" && back->has_filename,
             "formatted value not parsed");
  if (up::valid_utf8(v)) FUZZ_CHECK(back->filename == v, "formatted UTF-8 name not recovered");
  else FUZZ_CHECK(back->filename == fallback, "invalid UTF-8 name: fallback not used");
}

void check_range_result(const up::Result<std::optional<h::ByteRange>>& r, uint64_t size) {
  if (!r) {
    FUZZ_CHECK(r.error().code == Errc::kBadRange, "parse_range error code");
    return;
  }
  if (!*r) return;
  const h::ByteRange& br = **r;
  FUZZ_CHECK(size > 0 && br.first <= br.last && br.last < size, "range outside the body");
  FUZZ_CHECK(br.length() >= 1 && br.length() <= size, "range length");
}

std::string with_ows(std::string_view s, bool yes) {
  return yes ? " \t" + std::string(s) + " " : std::string(s);
}

// A well-formed single range, resolved by RFC 9110 §14.1.2.
void check_written_range(uint64_t a, uint64_t b, uint64_t size, unsigned form) {
  const bool ows = form & 4;
  const std::string unit = (form & 8) ? "Bytes" : "bytes";
  using Out = std::optional<h::ByteRange>;
  auto same = [](const up::Result<Out>& got, bool bad, Out want) {
    if (bad) return !got && got.error().code == Errc::kBadRange;
    if (!got || got->has_value() != want.has_value()) return false;
    return !want || ((*got)->first == want->first && (*got)->last == want->last);
  };
  switch (form & 3) {
    case 0: {  // a-b
      auto r = h::parse_range(
          unit + "=" + with_ows(std::to_string(a), ows) + "-" + std::to_string(b), size);
      bool bad = b >= a && a >= size;
      Out want = (b < a || bad) ? Out{} : Out{h::ByteRange{a, std::min(b, size - 1)}};
      FUZZ_CHECK(same(r, bad, want), "bytes=a-b misresolved");
      break;
    }
    case 1: {  // a-
      auto r = h::parse_range(with_ows(unit + "=" + std::to_string(a) + "-", ows), size);
      bool bad = a >= size;
      FUZZ_CHECK(same(r, bad, bad ? Out{} : Out{h::ByteRange{a, size - 1}}),
                 "bytes=a- misresolved");
      break;
    }
    default: {  // -n
      auto r = h::parse_range(unit + "=-" + std::to_string(b), size);
      bool bad = b == 0 || size == 0;
      Out want = bad ? Out{} : Out{h::ByteRange{b >= size ? 0 : size - b, size - 1}};
      FUZZ_CHECK(same(r, bad, want), "bytes=-n misresolved");
      break;
    }
  }
}

void check_range(std::string_view v, const uint8_t* data, size_t size) {
  static constexpr uint64_t kSizes[] = {0, 1, 2, 499, 500, 501, 1000, 1ull << 63, kMax - 1, kMax};
  for (uint64_t s : kSizes) check_range_result(h::parse_range(v, s), s);
  uint64_t n[3] = {0, 0, 0};
  std::memcpy(n, data, std::min(size, sizeof n));
  check_range_result(h::parse_range(v, n[0]), n[0]);
  check_range_result(h::parse_range(v, n[0] % 1024), n[0] % 1024);
  const unsigned form = size > 24 ? data[24] : 0;
  check_written_range(n[0], n[1], n[2], form);
  check_written_range(n[0] % 1024, n[1] % 1024, n[2] % 1024, form);
  check_written_range(n[0] % 1024, n[1] % 1024, kMax - n[2] % 4, form);
}

void check_percent_decode(std::string_view v) {
  auto d = h::percent_decode(v);
  size_t pct = 0;
  for (char c : v) pct += c == '%';
  if (d) {
    FUZZ_CHECK(d->size() == v.size() - 2 * pct, "percent_decode length");
    if (pct == 0) FUZZ_CHECK(*d == v, "percent_decode changed a string without '%'");
  } else {
    FUZZ_CHECK(d.error().code == Errc::kInvalidArgument, "percent_decode error code");
    FUZZ_CHECK(pct > 0, "percent_decode failed without '%'");
  }
  auto upper = h::percent_decode(pct_encode_all(v, false));
  auto lower = h::percent_decode(pct_encode_all(v, true));
  FUZZ_CHECK(upper && *upper == v && lower && *lower == v, "percent encoding not decoded back");
}

// split_path: non-empty segments without '/', which joined by '/' give the
// input with its runs of '/' collapsed and the outer ones dropped.
// plain_token: its definition.
void check_path(std::string_view v) {
  std::string expected;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '/' && (expected.empty() || expected.back() == '/')) continue;
    expected += v[i];
  }
  if (!expected.empty() && expected.back() == '/') expected.pop_back();
  std::string joined;
  for (std::string_view seg : h::split_path(v)) {
    FUZZ_CHECK(!seg.empty() && seg.find('/') == std::string_view::npos, "bad path segment");
    FUZZ_CHECK(seg.data() >= v.data() && seg.data() + seg.size() <= v.data() + v.size(),
               "segment outside the path");
    if (!joined.empty()) joined += '/';
    joined += seg;
  }
  FUZZ_CHECK(joined == expected, "split_path lost or added bytes");
  for (size_t max_len : {size_t{1}, size_t{8}, size_t{128}}) {
    bool want = !v.empty() && v.size() <= max_len;
    for (char c : v)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        want = false;
    FUZZ_CHECK(h::plain_token(v, max_len) == want, "plain_token disagrees with its definition");
  }
}

}  // namespace

// The last wall against response splitting (server.cc sends no header that
// fails these).
void check_safe_header(std::string_view v) {
  bool want_value = true;
  for (unsigned char c : v)
    if ((c < 0x20 && c != '\t') || c == 0x7f) want_value = false;
  FUZZ_CHECK(up::http::safe_header_value(v) == want_value,
             "safe_header_value disagrees with its definition");
  if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
    FUZZ_CHECK(!up::http::safe_header_value(v), "a value with CR, LF or NUL is called safe");
  bool want_name = !v.empty();
  for (unsigned char c : v)
    if (!(std::isalnum(c) && c < 0x80) &&
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      want_name = false;
  FUZZ_CHECK(up::http::safe_header_name(v) == want_name,
             "safe_header_name disagrees with its definition");
  if (want_name) FUZZ_CHECK(up::http::safe_header_value(v), "a safe name is no safe value");
  for (std::string_view disposition : {"attachment", "inline"})
    FUZZ_CHECK(up::http::safe_header_value(up::http::format_content_disposition(disposition, v)),
               "format_content_disposition made an unsafe header value");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view v(reinterpret_cast<const char*>(data), size);
  check_safe_header(v);
  check_media_type(v);
  check_boundary(v);
  check_content_disposition(v);
  check_format(v);
  check_range(v, data, size);
  check_percent_decode(v);
  check_path(v);
  return 0;
}
