#include "dialects/kintone/params.h"

#include <map>
#include <vector>

#include <boost/json.hpp>

namespace up::dialects::kintone {
namespace json = boost::json;
namespace {

constexpr size_t kMaxParams = 1000;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return fail(Errc::kInvalidArgument, "bad percent escape in query");
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return fail(Errc::kInvalidArgument, "bad percent escape in query");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 6) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

Result<json::object> parse_query_string(std::string_view query) {
  json::object out;
  std::map<std::string, std::map<uint64_t, std::string>> arrays;
  std::map<std::string, uint64_t> appended;  // name[] counters
  size_t count = 0;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    if (++count > kMaxParams) return fail(Errc::kInvalidArgument, "too many query parameters");
    const size_t eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    if (!name) return fail(name.error());
    auto value =
        form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value) return fail(value.error());
    const size_t open = name->find('[');
    if (open != std::string::npos && open > 0 && name->back() == ']') {
      const std::string base = name->substr(0, open);
      const std::string index = name->substr(open + 1, name->size() - open - 2);
      uint64_t i;
      if (index.empty()) i = appended[base]++;
      else if (all_digits(index)) i = std::stoull(index);
      else return fail(Errc::kInvalidArgument, "unsupported query parameter " + *name);
      if (out.contains(base))
        return fail(Errc::kInvalidArgument, "query parameter " + base + " given twice");
      if (!arrays[base].emplace(i, std::move(*value)).second)
        return fail(Errc::kInvalidArgument, "query parameter " + *name + " given twice");
      continue;
    }
    if (out.contains(*name) || arrays.count(*name))
      return fail(Errc::kInvalidArgument, "query parameter " + *name + " given twice");
    out[*name] = *value;
  }
  for (auto& [name, items] : arrays) {
    json::array arr;
    uint64_t expected = 0;
    for (auto& [i, v] : items) {
      if (i != expected++)
        return fail(Errc::kInvalidArgument, "query parameter " + name + " has gaps");
      arr.emplace_back(v);
    }
    out[name] = std::move(arr);
  }
  return out;
}

Result<json::object> parse_json_params(std::string_view body) {
  if (body.empty()) return json::object();
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return fail(Errc::kBadJson, "the body is not a JSON object");
  return std::move(v.as_object());
}

Result<std::optional<uint64_t>> id_param(const json::object& params, std::string_view name) {
  const json::value* v = params.if_contains(name);
  if (!v || v->is_null()) return std::optional<uint64_t>();
  if (v->is_uint64()) return std::optional<uint64_t>(v->as_uint64());
  if (v->is_int64() && v->as_int64() >= 0)
    return std::optional<uint64_t>(static_cast<uint64_t>(v->as_int64()));
  if (v->is_string()) {
    const auto& s = v->as_string();
    if (!s.empty() && s.size() <= 18) {
      uint64_t n = 0;
      bool digits = true;
      for (char c : s) {
        if (c < '0' || c > '9') {
          digits = false;
          break;
        }
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (digits) return std::optional<uint64_t>(n);
    }
  }
  return fail(Errc::kInvalidArgument, std::string(name) + ": must be an integer");
}

Result<bool> bool_param(const json::object& params, std::string_view name) {
  const json::value* v = params.if_contains(name);
  if (!v || v->is_null()) return false;
  if (v->is_bool()) return v->as_bool();
  if (v->is_string() && (v->as_string() == "true" || v->as_string() == "false"))
    return v->as_string() == "true";
  return fail(Errc::kInvalidArgument, std::string(name) + ": must be true or false");
}

}  // namespace up::dialects::kintone
