#pragma once
// Small text helpers shared by dialects: UTF-8 checks and time formatting.

#include <string>
#include <string_view>

#include "core/types.h"

namespace up {

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s);

// A file name fit to store: valid UTF-8, 1..1024 bytes, no control characters,
// no ".." segment between '/' or '\\' (names are shown and sent back in headers;
// upgate never uses them as paths, but clients saving downloads may).
bool acceptable_file_name(std::string_view name);

// "2026-11-22T10:00:00.123Z"
std::string format_iso8601(UnixMs t);

}  // namespace up
