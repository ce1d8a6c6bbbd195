#include "dialects/kintone/cursor_state.h"

#include <boost/json.hpp>

namespace up::dialects::kintone {
namespace json = boost::json;

std::string cursor_state(const CursorRead& r) {
  json::array fields;
  for (const std::string& f : r.fields) fields.emplace_back(f);
  json::object o;
  o["fields"] = std::move(fields);
  o["after"] = r.query.after_id;
  o["desc"] = r.query.descending;
  if (r.query.limit) o["limit"] = *r.query.limit;
  o["offset"] = r.query.offset;
  o["size"] = r.size;
  o["total"] = r.total;
  return json::serialize(o);
}

Result<CursorRead> parse_cursor_state(std::string_view state) {
  const Error bad(Errc::kInternal, "unreadable cursor state");
  boost::system::error_code ec;
  json::value v = json::parse(state, ec);
  if (ec || !v.is_object()) return fail(bad);
  const json::object& o = v.as_object();
  auto number = [&](std::string_view name) -> std::optional<uint64_t> {
    const json::value* n = o.if_contains(name);
    if (!n) return std::nullopt;
    if (n->is_uint64()) return n->as_uint64();
    if (n->is_int64() && n->as_int64() >= 0) return static_cast<uint64_t>(n->as_int64());
    return std::nullopt;
  };
  CursorRead r;
  const json::value* fields = o.if_contains("fields");
  const json::value* desc = o.if_contains("desc");
  auto after = number("after");
  auto offset = number("offset");
  auto size = number("size");
  auto total = number("total");
  if (!fields || !fields->is_array() || !desc || !desc->is_bool() || !after || !offset || !size ||
      !total)
    return fail(bad);
  for (const json::value& f : fields->as_array()) {
    if (!f.is_string()) return fail(bad);
    r.fields.emplace_back(f.as_string());
  }
  r.query.after_id = *after;
  r.query.descending = desc->as_bool();
  r.query.limit = number("limit");
  r.query.offset = *offset;
  r.size = *size;
  r.total = *total;
  return r;
}

}  // namespace up::dialects::kintone
