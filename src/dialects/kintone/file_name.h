#pragma once
// File names of kintone uploads. Clients send raw UTF-8 in the multipart
// filename; the vendor doc says Chinese names may be sent as GBK, so a name
// that is not valid UTF-8 is decoded as GBK (GB18030, its superset, via glibc
// iconv). The result is only ever shown and sent back, never used as a path.
// No Beast, no I/O.

#include <optional>
#include <string>
#include <string_view>

namespace up::dialects::kintone {

// The name as UTF-8, or nullopt when it is neither UTF-8 nor GBK, or is not
// an acceptable file name once decoded (core/text.h acceptable_file_name).
std::optional<std::string> decode_file_name(std::string_view raw);

}  // namespace up::dialects::kintone
