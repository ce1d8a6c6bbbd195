#pragma once
// Small text helpers shared by dialects: UTF-8 checks, media types, time
// formatting and UUIDs.

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/types.h"

namespace up {

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

// `s` with every byte that is not part of a well-formed UTF-8 sequence (see
// valid_utf8) replaced by U+FFFD; valid input comes back unchanged. Each
// invalid byte becomes one U+FFFD.
std::string to_valid_utf8(std::string_view s);
// Appends `raw` as the inside of a JSON string: made valid UTF-8 as above,
// with quotes, backslashes and control characters escaped. For JSON written
// by hand (log lines, callback bodies) from bytes that may be anything.
void append_json_escaped(std::string& out, std::string_view raw);
inline std::string json_escape(std::string_view raw) {
  std::string out;
  append_json_escaped(out, raw);
  return out;
}

// An RFC 9110 token (section 5.6.2): one or more tchars. Header names are tokens.
bool is_token(std::string_view s);

// Whether `s` holds a C0 control (U+0000-U+001F), DEL or, where the bytes
// decode as UTF-8, a C1 control (U+0080-U+009F, bytes C2 80..C2 9F).
bool has_control_characters(std::string_view s);

// Whether `s` starts with `prefix`, ASCII letters compared without case (as
// HTTP authentication schemes are: "basic " is "Basic ").
bool starts_with_ignoring_case(std::string_view s, std::string_view prefix);

// A file name fit to store: valid UTF-8, 1..1024 bytes, no control characters
// (C0, DEL, C1), no ".." segment between '/' or '\\' (names are shown and sent
// back in headers; upgate never uses them as paths, but clients saving
// downloads may).
bool acceptable_file_name(std::string_view name);

// The longest content type upgate stores.
inline constexpr size_t kMaxMediaTypeBytes = 255;

// Whether `s` is an RFC 9110 media type (section 8.3.1), as a stored content
// type must be: type "/" subtype *( OWS ";" OWS [ parameter ] ), type, subtype
// and parameter names tokens, parameter values tokens or quoted-strings; only
// visible ASCII, space and tab; 1..kMaxMediaTypeBytes bytes; no white space at
// either end. A content type is later sent verbatim in Content-Type, so this
// is what keeps CR, LF and NUL (header injection) and 8-bit bytes (invalid
// JSON) out of stored objects.
bool valid_media_type(std::string_view s);

// "2026-11-22T10:00:00.123Z"
std::string format_iso8601(UnixMs t);
// Room for any uint64_t in decimal.
using DecimalDigits = std::array<char, 20>;
// `n` in decimal, written into `buf` (no allocation: headers and access lines).
std::string_view format_decimal(DecimalDigits& buf, uint64_t n);

// `pieces` (anything a std::string_view is made from) appended to `out` with
// one resize: a literal's size is a constant where this is inlined, so its copy
// is a few moves rather than a call (hot response heads and log lines).
template <class... Pieces>
void append_all(std::string& out, const Pieces&... pieces) {
  const size_t at = out.size();
  out.resize(at + (std::string_view(pieces).size() + ...));
  char* to = out.data() + at;
  const auto copy = [&to](std::string_view p) {
    std::memcpy(to, p.data(), p.size());
    to += p.size();
  };
  (copy(pieces), ...);
}

// A version-4 (random) UUID made of 32 random lower-case hex digits (from
// random_hex(16)): "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx", V one of 8, 9, a, b.
// REQUIRES: hex.size() >= 32.
std::string uuid_v4(std::string_view hex);

}  // namespace up
