#include "core/text.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iterator>

namespace up {

namespace {

// The length of the well-formed UTF-8 sequence at the start of [p, end), or 0
// when it is not one (overlong, surrogate, above U+10FFFF, cut or stray byte).
// REQUIRES: p < end.
size_t utf8_sequence_at(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
  else return 0;
  if (static_cast<size_t>(end - p) < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

// RFC 9110 section 5.6.2: tchar.
bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != 0 &&
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// Advances `i` past a token of `s`; false when none starts there.
bool skip_token(std::string_view s, size_t& i) {
  const size_t start = i;
  while (i < s.size() && is_tchar(static_cast<unsigned char>(s[i]))) ++i;
  return i > start;
}

// Advances `i` past a quoted-string (RFC 9110 section 5.6.4) starting at s[i],
// obs-text excluded: only visible ASCII, space and tab inside.
bool skip_quoted_string(std::string_view s, size_t& i) {
  if (i >= s.size() || s[i] != '"') return false;
  for (++i; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      ++i;
      return true;
    }
    if (c == '\\') {
      if (++i == s.size()) return false;
      const auto e = static_cast<unsigned char>(s[i]);
      if (!(e == '\t' || (e >= 0x20 && e < 0x7f))) return false;
      continue;
    }
    if (!(c == '\t' || (c >= 0x20 && c < 0x7f))) return false;
  }
  return false;  // unterminated
}

}  // namespace

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const size_t len = utf8_sequence_at(p, end);
    if (len == 0) return false;
    p += len;
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  if (valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = begin + s.size();
  for (const auto* p = begin; p < end;) {
    const size_t len = utf8_sequence_at(p, end);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(p), len);
    p += len;
  }
  return out;
}

bool is_token(std::string_view s) {
  size_t i = 0;
  return skip_token(s, i) && i == s.size();
}

bool has_control_characters(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    // U+0080-U+009F (C1) encode as C2 80..C2 9F. NEL (U+0085) in particular
    // is a line break to some clients.
    if (c == 0xC2 && i + 1 < s.size()) {
      const auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return true;
    }
  }
  return false;
}

bool acceptable_file_name(std::string_view name) {
  if (name.empty() || name.size() > 1024 || !valid_utf8(name)) return false;
  if (has_control_characters(name)) return false;
  // A ".." segment: harmless here, but a client that saves a download under
  // its name would write outside its folder.
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '/' && name[i] != '\\') continue;
    if (name.substr(start, i - start) == "..") return false;
    start = i + 1;
  }
  return true;
}

bool valid_media_type(std::string_view s) {
  if (s.empty() || s.size() > kMaxMediaTypeBytes || is_ows(s.back())) return false;
  size_t i = 0;
  if (!skip_token(s, i) || i == s.size() || s[i] != '/') return false;
  ++i;
  if (!skip_token(s, i)) return false;
  // *( OWS ";" OWS [ parameter ] )
  while (i < s.size()) {
    while (i < s.size() && is_ows(s[i])) ++i;
    if (i == s.size() || s[i] != ';') return false;
    ++i;
    while (i < s.size() && is_ows(s[i])) ++i;
    if (i == s.size() || s[i] == ';' || is_ows(s[i])) continue;  // an empty parameter
    if (!skip_token(s, i) || i == s.size() || s[i] != '=') return false;
    ++i;
    if (i < s.size() && s[i] == '"') {
      if (!skip_quoted_string(s, i)) return false;
    } else if (!skip_token(s, i)) {
      return false;
    }
  }
  return true;
}

std::string format_iso8601(UnixMs t) {
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  int ms = static_cast<int>(t % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // roomy: the compiler cannot bound tm_year
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

std::string uuid_v4(std::string_view hex) {
  std::string h(hex.substr(0, 32));
  h[12] = '4';
  const int variant = h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0';
  h[16] = "89ab"[variant & 3];
  std::string u;
  u.reserve(36);
  u.append(h, 0, 8).append("-").append(h, 8, 4).append("-").append(h, 12, 4).append("-");
  u.append(h, 16, 4).append("-").append(h, 20, 12);
  return u;
}

std::string_view format_decimal(DecimalDigits& buf, uint64_t n) {
  const auto end = std::to_chars(buf.data(), buf.data() + buf.size(), n).ptr;
  return std::string_view(buf.data(), static_cast<size_t>(end - buf.data()));
}

void append_json_escaped(std::string& out, std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string s = to_valid_utf8(raw);
  out.reserve(out.size() + s.size() + 2);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
    }
  }
}

}  // namespace up
