#include "http/header_params.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/text.h"

namespace up::http {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// How quoted-string values are unescaped. HTTP headers use quoted-pairs
// (RFC 9110 §5.6.4); multipart Content-Disposition as browsers and curl >= 7.81
// write it has none: a backslash is a literal byte (Windows paths), and '"' is
// sent as %22, so the value ends at the first '"'.
enum class Quoting { kHttp, kFormData };

// Calls fn(name, value) for each `name=value` parameter in `params` (the text
// after the first ';'). Parameters without '=' are skipped, as is junk between a
// closing quote and the next ';'. fn returns false to stop. Returns false on an
// unterminated quoted string.
template <class Fn>
bool for_each_param(std::string_view s, Quoting quoting, Fn&& fn) {
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && (is_ows(s[i]) || s[i] == ';')) ++i;
    if (i >= n) break;
    const size_t name_start = i;
    while (i < n && s[i] != '=' && s[i] != ';') ++i;
    std::string_view name = trim_ows(s.substr(name_start, i - name_start));
    if (i >= n || s[i] == ';') continue;
    ++i;  // '='
    while (i < n && is_ows(s[i])) ++i;
    std::string value;
    if (i < n && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        const char c = s[i];
        if (c == '"') {
          closed = true;
          ++i;
          break;
        }
        if (c == '\\' && quoting == Quoting::kHttp && i + 1 < n) {
          value += s[i + 1];
          i += 2;
          continue;
        }
        value += c;
        ++i;
      }
      if (!closed) return false;
      while (i < n && s[i] != ';') ++i;
    } else {
      const size_t value_start = i;
      while (i < n && s[i] != ';') ++i;
      value = std::string(trim_ows(s.substr(value_start, i - value_start)));
    }
    if (!fn(name, std::move(value))) break;
  }
  return true;
}

std::string_view params_of(std::string_view header_value) {
  const size_t semi = header_value.find(';');
  return semi == std::string_view::npos ? std::string_view{} : header_value.substr(semi + 1);
}

// Undoes the HTML form-data escaping of names and filenames, nothing else.
std::string unescape_form_data(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const char a = s[i + 1];
      const char b = lower(s[i + 2]);
      char decoded = 0;
      if (a == '2' && b == '2') decoded = '"';
      else if (a == '0' && b == 'd') decoded = '\r';
      else if (a == '0' && b == 'a') decoded = '\n';
      if (decoded != 0) {
        out += decoded;
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// RFC 5987 ext-value: charset'[language]'pct-encoded. nullopt when malformed,
// in an unknown charset, or not valid UTF-8 once decoded; the caller then falls
// back to the plain `filename`.
std::optional<std::string> decode_ext_value(std::string_view v) {
  const size_t q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  const size_t q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  const std::string_view charset = trim_ows(v.substr(0, q1));
  auto decoded = percent_decode(v.substr(q2 + 1));
  if (!decoded) return std::nullopt;
  if (iequals(charset, "UTF-8")) {
    if (!valid_utf8(*decoded)) return std::nullopt;
    return std::move(*decoded);
  }
  if (iequals(charset, "ISO-8859-1")) {
    std::string out;
    out.reserve(decoded->size() * 2);
    for (unsigned char c : *decoded) {
      if (c < 0x80) {
        out += static_cast<char>(c);
      } else {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
      }
    }
    return out;
  }
  return std::nullopt;
}

// Length of the valid UTF-8 sequence at the start of s, or 0 if it is not one.
size_t utf8_sequence_length(std::string_view s) {
  const auto c = static_cast<unsigned char>(s[0]);
  size_t len;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) len = 2;
  else if ((c & 0xF0) == 0xE0) len = 3;
  else if ((c & 0xF8) == 0xF0) len = 4;
  else return 0;
  if (s.size() < len) return 0;
  return valid_utf8(s.substr(0, len)) ? len : 0;
}

// RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~". A table: every byte of
// every download's file name is asked.
constexpr auto kAttrChar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$&+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();
inline bool is_attr_char(unsigned char c) { return kAttrChar[c]; }

// Parses a run of digits, saturating at uint64 max (a huge position is simply
// beyond any size). False when there is no digit.
bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      v = std::numeric_limits<uint64_t>::max();
    } else {
      v = v * 10 + d;
    }
  }
  out = v;
  return true;
}

}  // namespace

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string media_type(std::string_view content_type) {
  return to_lower_ascii(trim_ows(content_type.substr(0, content_type.find(';'))));
}

std::optional<std::string> header_param(std::string_view header_value, std::string_view name) {
  std::optional<std::string> found;
  for_each_param(params_of(header_value), Quoting::kHttp, [&](std::string_view n, std::string&& v) {
    if (!iequals(n, name)) return true;
    found = std::move(v);
    return false;
  });
  return found;
}

Result<std::string> multipart_boundary(std::string_view content_type) {
  if (media_type(content_type) != "multipart/form-data")
    return fail(Errc::kBadMultipart, "Content-Type is not multipart/form-data");
  auto boundary = header_param(content_type, "boundary");
  if (!boundary || boundary->empty())
    return fail(Errc::kBadMultipart, "multipart/form-data without a boundary");
  if (boundary->size() > 70)
    return fail(Errc::kBadMultipart, "multipart boundary longer than 70 characters");
  // RFC 2046 allows fewer characters; real clients stay within them, but only
  // what would break the parser (CR, LF, other controls, non-ASCII) is refused.
  for (unsigned char c : *boundary)
    if (c < 0x20 || c >= 0x7f)
      return fail(Errc::kBadMultipart, "invalid character in multipart boundary");
  return std::move(*boundary);
}

Result<ContentDisposition> parse_content_disposition(std::string_view value) {
  ContentDisposition cd;
  cd.type = to_lower_ascii(trim_ows(value.substr(0, value.find(';'))));
  if (cd.type.empty() || cd.type.find('=') != std::string::npos)
    return fail(Errc::kBadMultipart, "Content-Disposition without a disposition type");
  std::optional<std::string> plain;
  std::optional<std::string> extended;
  bool have_name = false;
  const bool ok = for_each_param(params_of(value), Quoting::kFormData,
                                 [&](std::string_view n, std::string&& v) {
                                   // First occurrence wins for each parameter.
                                   if (iequals(n, "name")) {
                                     if (!have_name) cd.name = unescape_form_data(v);
                                     have_name = true;
                                   } else if (iequals(n, "filename")) {
                                     if (!plain) plain = unescape_form_data(v);
                                   } else if (iequals(n, "filename*")) {
                                     if (!extended) extended = decode_ext_value(v);
                                   }
                                   return true;
                                 });
  if (!ok) return fail(Errc::kBadMultipart, "unterminated quoted string in Content-Disposition");
  if (extended) {
    cd.filename = std::move(*extended);
    cd.has_filename = true;
  } else if (plain) {
    cd.filename = std::move(*plain);
    cd.has_filename = true;
  }
  return cd;
}

std::string format_content_disposition(std::string_view disposition, std::string_view filename) {
  std::string out;
  append_content_disposition(out, disposition, filename);
  return out;
}

void append_content_disposition(std::string& to, std::string_view disposition,
                                std::string_view filename) {
  if (filename.empty()) {
    to += disposition;
    return;
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  constexpr std::string_view kFallback = "; filename=\"", kEncoded = "\"; filename*=UTF-8''";
  // What a quoted-string can carry safely ('%' excluded too, RFC 6266 §4.3).
  const auto quotable = [](unsigned char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%';
  };
  bool plain = true;
  size_t encoded_size = 0;
  for (const char ch : filename) {
    const auto c = static_cast<unsigned char>(ch);
    plain = plain && quotable(c);
    encoded_size += is_attr_char(c) ? 1 : 3;
  }
  // The fallback is for old clients that ignore filename*: most names are
  // kept as they are; otherwise one '_' per character (an invalid byte is
  // one character of its own) that a quoted-string cannot carry.
  std::string replaced;
  if (!plain) {
    replaced.reserve(filename.size());
    for (size_t i = 0; i < filename.size();) {
      const auto c = static_cast<unsigned char>(filename[i]);
      replaced += quotable(c) ? static_cast<char>(c) : '_';
      i += std::max<size_t>(1, utf8_sequence_length(filename.substr(i)));
    }
  }
  const std::string_view fallback = plain ? filename : std::string_view(replaced);
  // Sized exactly and written in place: every download sends this header, and
  // an append per byte was a twentieth of a small GET.
  const size_t at = to.size();
  to.resize(at + disposition.size() + kFallback.size() + fallback.size() + kEncoded.size() +
            encoded_size);
  char* p = to.data() + at;
  const auto put = [&p](std::string_view piece) {
    std::memcpy(p, piece.data(), piece.size());
    p += piece.size();
  };
  put(disposition);
  put(kFallback);
  put(fallback);
  put(kEncoded);
  // Byte by byte: valid sequences and invalid bytes alike.
  for (const char ch : filename) {
    const auto b = static_cast<unsigned char>(ch);
    if (is_attr_char(b)) {
      *p++ = ch;
    } else {
      *p++ = '%';
      *p++ = kHex[b >> 4];
      *p++ = kHex[b & 0x0F];
    }
  }
}

Result<std::optional<ByteRange>> parse_range(std::string_view value, uint64_t size) {
  using Out = std::optional<ByteRange>;
  value = trim_ows(value);
  const size_t eq = value.find('=');
  if (eq == std::string_view::npos || !iequals(trim_ows(value.substr(0, eq)), "bytes"))
    return Out{};
  const std::string_view spec = trim_ows(value.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return Out{};  // multiple ranges: send it all
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return Out{};
  const std::string_view a = trim_ows(spec.substr(0, dash));
  const std::string_view b = trim_ows(spec.substr(dash + 1));
  ByteRange r;
  if (a.empty()) {
    uint64_t suffix = 0;
    if (!parse_u64(b, suffix)) return Out{};
    if (suffix == 0 || size == 0) return fail(Errc::kBadRange);
    r.first = suffix >= size ? 0 : size - suffix;
    r.last = size - 1;
    return Out{r};
  }
  uint64_t first = 0;
  if (!parse_u64(a, first)) return Out{};
  uint64_t last = std::numeric_limits<uint64_t>::max();
  if (!b.empty()) {
    if (!parse_u64(b, last)) return Out{};
    if (last < first) return Out{};  // invalid, not unsatisfiable (RFC 9110 §14.1.1)
  }
  if (first >= size) return fail(Errc::kBadRange);
  r.first = first;
  r.last = last >= size ? size - 1 : last;
  return Out{r};
}

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return fail(Errc::kInvalidArgument, "truncated percent escape");
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return fail(Errc::kInvalidArgument, "invalid percent escape");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

namespace {

// Bytes by class, for the checks of every header sent: a table and no early
// exit per byte (these ran over each download's ~400 header bytes).
constexpr uint8_t kTchar = 1;    // RFC 9110 section 5.6.2
constexpr uint8_t kControl = 2;  // not allowed in a header value: CTLs but tab
constexpr auto kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = kControl;
  t['\t'] = 0;
  t[0x7f] = kControl;
  for (int c = '0'; c <= '9'; ++c) t[c] = kTchar;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kTchar;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kTchar;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = kTchar;
  return t;
}();

}  // namespace

bool safe_header_name(std::string_view name) {
  uint8_t all = kTchar;
  for (unsigned char c : name) all &= kByteClass[c];
  return !name.empty() && all == kTchar;
}

namespace {

// True when `v` has no byte below 0x20 and none 0x7F, found 8 bytes at a time.
// False says nothing (a tab is safe): then the byte table decides.
bool plainly_safe_value(std::string_view v) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  if (v.size() < 8) {
    for (const char ch : v) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
  }
  uint64_t flagged = 0;  // a high bit set where some byte may be below 0x20 or 0x7F
  const auto check = [&flagged](const char* at) {
    uint64_t w = 0;
    std::memcpy(&w, at, 8);
    const uint64_t del = w ^ (kOnes * 0x7f);  // a zero byte where w has 0x7F
    flagged |= ((w - kOnes * 0x20) & ~w & kHigh) | ((del - kOnes) & ~del & kHigh);
  };
  for (size_t i = 0; i + 8 <= v.size(); i += 8) check(v.data() + i);
  check(v.data() + v.size() - 8);  // the tail, overlapping what was checked
  return flagged == 0;
}

}  // namespace

bool safe_header_value(std::string_view value) {
  if (plainly_safe_value(value)) return true;
  uint8_t any = 0;
  for (unsigned char c : value) any |= kByteClass[c];
  return (any & kControl) == 0;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  parts.reserve(8);  // every route's depth: one allocation
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return parts;
}

bool plain_token(std::string_view s, size_t max_len) {
  // A table and no early exit: the native handler asks this of every id.
  static constexpr auto kPlain = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    t['-'] = t['_'] = t['.'] = true;
    return t;
  }();
  if (s.empty() || s.size() > max_len) return false;
  bool all = true;
  for (const char c : s) all &= kPlain[static_cast<unsigned char>(c)];
  return all;
}

}  // namespace up::http
