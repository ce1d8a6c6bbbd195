#pragma once
// Base64 text that holds a JSON object: Qiniu put policies, S3 POST policies,
// OpenIM form ids, upload ids and token segments all travel this way. One
// decoder, so every such field is read (and refused) alike.
// No Beast, no I/O: usable from fuzzers and any dialect.

#include <string_view>

#include <boost/json/object.hpp>

#include "core/result.h"

namespace up::http {

// Decodes `encoded` (either base64 alphabet, padding optional: see
// crypto::base64_decode) and parses it as one JSON object. kInvalidArgument
// with the message "not base64" (also for empty input) or "not a JSON object",
// for callers to wrap in their own wording.
Result<boost::json::object> decode_base64_json_object(std::string_view encoded);

}  // namespace up::http
