#pragma once
// Parsers and formatters for HTTP header values that carry parameters. No Beast,
// no I/O; every parser takes untrusted input and fails cleanly.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace up::http {

// Header-text basics shared by the parsers here and in multipart.cc.
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }
std::string_view trim_ows(std::string_view s);  // optional white space at both ends
std::string to_lower_ascii(std::string_view s);

// From a Content-Type value: the media type (lower-cased, no params) and the
// value of one parameter (quoted or token; quotes and backslash escapes removed).
std::string media_type(std::string_view content_type);
std::optional<std::string> header_param(std::string_view header_value, std::string_view name);

// The boundary of a multipart/form-data Content-Type; kBadMultipart when the
// type is not multipart/form-data or the boundary is missing, empty or over 70 chars.
Result<std::string> multipart_boundary(std::string_view content_type);

struct ContentDisposition {
  std::string type;  // "form-data", "attachment", ... lower-cased
  std::string name;
  std::string
      filename;  // filename* (RFC 5987, UTF-8 or ISO-8859-1 decoded to UTF-8) wins over filename
  bool has_filename = false;
};
// Parses a part's Content-Disposition. Quoted `filename` values are taken as raw
// bytes (UTF-8 in practice), with form-data's escapes "%22" -> '"', "%0D" -> CR,
// "%0A" -> LF undone and nothing else decoded.
Result<ContentDisposition> parse_content_disposition(std::string_view value);

// `attachment; filename="<ascii fallback>"; filename*=UTF-8''<pct-encoded>` for a
// response. Safe for any input: quotes, backslashes, control bytes and non-ASCII
// never reach the quoted fallback; invalid UTF-8 bytes are pct-encoded as bytes.
std::string format_content_disposition(std::string_view disposition, std::string_view filename);
// The same, appended to `to`.
void append_content_disposition(std::string& to, std::string_view disposition,
                                std::string_view filename);

// A single byte range `bytes=a-b`, `bytes=a-` or `bytes=-n`, resolved against
// `size`. nullopt: no Range or a form we ignore (multiple ranges, other units),
// so the whole body is sent. kBadRange: syntactically a single range but not
// satisfiable (start >= size, or size == 0).
struct ByteRange {
  uint64_t first = 0;  // inclusive
  uint64_t last = 0;   // inclusive
  uint64_t length() const { return last - first + 1; }
};
Result<std::optional<ByteRange>> parse_range(std::string_view value, uint64_t size);

// Whether a response header may be sent as is. A name must be a token (RFC
// 9110 section 5.6.2); a value must hold no control byte but HTAB (no CR, LF,
// NUL: they would end the header early and let stored text add headers or a
// body). 8-bit bytes (obs-text) are allowed in values. The server refuses to
// send a response that fails these, whatever a dialect put in it.
bool safe_header_name(std::string_view name);
bool safe_header_value(std::string_view value);

// The segments of a URL path, empty ones dropped: "/v3/files/" -> {"v3", "files"}.
std::vector<std::string_view> split_path(std::string_view path);

// Whether `s` is 1..max_len characters of [A-Za-z0-9._-]: the shape of every
// id upgate puts in a URL; anything else cannot name an object.
bool plain_token(std::string_view s, size_t max_len = 128);

// Percent-decodes a URL component; '+' is kept as is. kInvalidArgument on a
// bad escape.
Result<std::string> percent_decode(std::string_view s);

}  // namespace up::http
