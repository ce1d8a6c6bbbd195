#pragma once
// Reading settings_json, the per-tenant and per-app settings the core keeps
// opaque and each dialect gives its own shape (dialects/<v>/settings.h). A
// member that is absent, of the wrong type or out of range reads as absent, so
// a bad setting keeps the dialect's default and never takes an app down.

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include <boost/json.hpp>

namespace up::dialects {

// `text` as a JSON object; nullopt when it is not valid JSON or not an object.
inline std::optional<boost::json::object> settings_object(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// `v` (a member, or null when absent) when it is an integer in [min, max].
inline std::optional<int64_t> int_in_range(const boost::json::value* v, int64_t min, int64_t max) {
  if (!v || !v->is_int64() || v->as_int64() < min || v->as_int64() > max) return std::nullopt;
  return v->as_int64();
}

}  // namespace up::dialects
