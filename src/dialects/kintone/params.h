#pragma once
// Request parameters of the kintone REST API as one JSON object, whatever way
// they came: a JSON body (POST/PUT, and GET sent as POST with
// X-HTTP-Method-Override) or a query string written by `qs`:
//   app=1&fields%5B0%5D=%24id&fields%5B1%5D=title&query=%24id%20%3E%200
//   -> {"app":"1","fields":["$id","title"],"query":"$id > 0"}
// Query-string values are strings; readers accept strings and numbers alike.
// No Beast, no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/result.h"

namespace up::dialects::kintone {

// `name[i]` and `name[]` build arrays (in index order; gaps are refused),
// plain names strings; '+' is a space. kInvalidArgument on bad escapes,
// repeated plain names, or more than 1,000 parameters.
Result<boost::json::object> parse_query_string(std::string_view query);

// The parameters of a JSON body: kBadJson unless it is one JSON object.
Result<boost::json::object> parse_json_params(std::string_view body);

// A decimal id given as a JSON number or a numeric string ("1", 1): the
// kintone API accepts both for app, id and revision. nullopt when absent.
// kInvalidArgument naming `name` when present but not a non-negative integer.
Result<std::optional<uint64_t>> id_param(const boost::json::object& params, std::string_view name);

// A boolean given as true/false or "true"/"false".
Result<bool> bool_param(const boost::json::object& params, std::string_view name);

}  // namespace up::dialects::kintone
