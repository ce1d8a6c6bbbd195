#include "core/secret_settings.h"

#include <boost/json.hpp>

namespace up::core {
namespace {

namespace json = boost::json;

json::value parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return json::object();
  return v;
}

// Calls `on_match(parent, name)` for every member of `o` that `path[at..]` names.
template <class F>
void visit(json::object& o, const SettingsPath& path, size_t at, F&& on_match) {
  if (at >= path.size()) return;
  const std::string& name = path[at];
  const bool last = at + 1 == path.size();
  if (name == "*") {
    std::vector<std::string> names;  // on_match may erase; iterate over a copy of the keys
    for (const auto& m : o) names.emplace_back(m.key());
    for (const auto& n : names) {
      if (last) on_match(o, n);
      else if (auto* v = o.if_contains(n); v && v->is_object())
        visit(v->as_object(), path, at + 1, on_match);
    }
    return;
  }
  if (last) {
    on_match(o, name);
  } else if (auto* v = o.if_contains(name); v && v->is_object()) {
    visit(v->as_object(), path, at + 1, on_match);
  }
}

// The object `path` leads to from `root` ("*" already resolved), or null.
json::object* follow(json::object& root, const std::vector<std::string>& path) {
  json::object* o = &root;
  for (const auto& name : path) {
    json::value* v = o->if_contains(name);
    if (!v || !v->is_object()) return nullptr;
    o = &v->as_object();
  }
  return o;
}

// Like visit, over a const tree, with the concrete names that led to the match.
template <class F>
void visit_named(const json::object& o, const SettingsPath& path, size_t at,
                 std::vector<std::string>& trail, F&& on_match) {
  if (at >= path.size()) return;
  const bool last = at + 1 == path.size();
  auto step = [&](std::string_view n) {
    const json::value* v = o.if_contains(n);
    if (!v) return;
    trail.emplace_back(n);
    if (last) on_match(trail, *v);
    else if (v->is_object()) visit_named(v->as_object(), path, at + 1, trail, on_match);
    trail.pop_back();
  };
  if (path[at] == "*") {
    for (const auto& m : o) step(m.key());
  } else {
    step(path[at]);
  }
}

}  // namespace

SecretSettings& SecretSettings::operator+=(const SecretSettings& o) {
  tenant.insert(tenant.end(), o.tenant.begin(), o.tenant.end());
  app.insert(app.end(), o.app.begin(), o.app.end());
  return *this;
}

std::string redact_settings(std::string_view settings_json,
                            const std::vector<SettingsPath>& secret) {
  json::value v = parse_object(settings_json);
  for (const auto& path : secret)
    visit(v.as_object(), path, 0,
          [](json::object& parent, const std::string& name) { parent.erase(name); });
  return json::serialize(v);
}

std::string keep_secret_settings(std::string_view stored, std::string_view replacement,
                                 const std::vector<SettingsPath>& secret) {
  boost::system::error_code ec;
  json::value out = json::parse(replacement, ec);
  if (ec || !out.is_object()) return std::string(replacement);
  const json::value old = parse_object(stored);
  bool changed = false;
  for (const auto& path : secret) {
    std::vector<std::string> trail;
    visit_named(old.as_object(), path, 0, trail,
                [&](const std::vector<std::string>& names, const json::value& value) {
                  const std::vector<std::string> parent_path(names.begin(), names.end() - 1);
                  json::object* parent = follow(out.as_object(), parent_path);
                  if (!parent || parent->contains(names.back())) return;  // the client set it
                  (*parent)[names.back()] = value;
                  changed = true;
                });
  }
  return changed ? json::serialize(out) : std::string(replacement);
}

}  // namespace up::core
