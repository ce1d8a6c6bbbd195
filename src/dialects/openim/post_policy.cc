#include "dialects/openim/post_policy.h"

#include <cctype>
#include <charconv>
#include <ctime>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/sigv4.h"
#include "http/base64_json.h"

namespace up::dialects::openim::s3 {
namespace {

namespace json = boost::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Error bad_policy(const std::string& what) {
  return Error(Errc::kInvalidArgument, "invalid policy document: " + what);
}

// A JSON number or a decimal string (both occur in content-length-range).
std::optional<uint64_t> length_value(const json::value& v) {
  if (v.is_int64()) return v.as_int64() >= 0 ? std::optional<uint64_t>(v.as_int64()) : std::nullopt;
  if (v.is_uint64()) return v.as_uint64();
  if (v.is_string()) {
    const auto& s = v.as_string();
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return n;
  }
  return std::nullopt;
}

// "$key" -> "key"; conditions name form fields with a leading '$'.
std::optional<std::string> field_ref(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  std::string_view s = v.as_string();
  if (s.size() < 2 || s[0] != '$') return std::nullopt;
  return lower(s.substr(1));
}

// Fields never named by conditions (AWS "POST Object": policy, the signature,
// the file and x-ignore-* fields).
bool exempt(std::string_view lower_name) {
  return lower_name == "policy" || lower_name == "x-amz-signature" || lower_name == "file" ||
         lower_name.starts_with("x-ignore-");
}

}  // namespace

std::optional<UnixMs> parse_expiration(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS then 'Z' or '.' 1-9 digits 'Z'.
  if (s.size() < 20) return std::nullopt;
  auto digits = [&](size_t at, size_t n, int& out) {
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int year, mon, day, hour, min, sec;
  if (!digits(0, 4, year) || s[4] != '-' || !digits(5, 2, mon) || s[7] != '-' ||
      !digits(8, 2, day) || s[10] != 'T' || !digits(11, 2, hour) || s[13] != ':' ||
      !digits(14, 2, min) || s[16] != ':' || !digits(17, 2, sec))
    return std::nullopt;
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
    return std::nullopt;
  int ms = 0;
  std::string_view rest = s.substr(19);
  if (rest.size() > 1 && rest[0] == '.') {
    size_t i = 1;
    int scale = 100;
    for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i) {
      if (i > 9) return std::nullopt;
      ms += (rest[i] - '0') * scale;
      scale /= 10;
    }
    if (i == 1) return std::nullopt;
    rest = rest.substr(i);
  }
  if (rest != "Z") return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<UnixMs>(timegm(&tm)) * 1000 + ms;
}

Result<Policy> parse_policy(std::string_view policy_b64) {
  auto doc = http::decode_base64_json_object(policy_b64);
  if (!doc) return fail(bad_policy(doc.error().message));
  const json::object& o = *doc;
  Policy p;
  const auto* exp = o.if_contains("expiration");
  if (!exp || !exp->is_string()) return fail(bad_policy("expiration missing"));
  auto expiration = parse_expiration(exp->as_string());
  if (!expiration) return fail(bad_policy("expiration is not an ISO 8601 UTC time"));
  p.expiration = *expiration;
  const auto* conds = o.if_contains("conditions");
  if (!conds || !conds->is_array()) return fail(bad_policy("conditions missing"));
  for (const auto& c : conds->as_array()) {
    if (c.is_object()) {
      // {"field": "value"}: exact match.
      if (c.as_object().size() != 1) return fail(bad_policy("an object condition has one member"));
      const auto& [name, value] = *c.as_object().begin();
      if (!value.is_string()) return fail(bad_policy("condition value must be a string"));
      p.conditions.push_back({Condition::Op::kEq, lower(name), std::string(value.as_string())});
      continue;
    }
    if (!c.is_array() || c.as_array().empty() || !c.as_array()[0].is_string())
      return fail(bad_policy("a condition is an object or an array"));
    const auto& a = c.as_array();
    const std::string op = lower(a[0].as_string());
    if (op == "content-length-range") {
      if (a.size() != 3) return fail(bad_policy("content-length-range takes two bounds"));
      auto lo = length_value(a[1]), hi = length_value(a[2]);
      if (!lo || !hi || *lo > *hi) return fail(bad_policy("bad content-length-range"));
      if (p.length_range) return fail(bad_policy("content-length-range given twice"));
      p.length_range = std::make_pair(*lo, *hi);
      continue;
    }
    if (op != "eq" && op != "starts-with") return fail(bad_policy("unknown condition " + op));
    if (a.size() != 3 || !a[2].is_string())
      return fail(bad_policy(op + " takes a field and a string"));
    auto field = field_ref(a[1]);
    if (!field) return fail(bad_policy(op + " must name a field as $name"));
    p.conditions.push_back({op == "eq" ? Condition::Op::kEq : Condition::Op::kStartsWith,
                            std::move(*field), std::string(a[2].as_string())});
  }
  return p;
}

Status FormFields::add(std::string_view name, std::string value) {
  std::string key = lower(name);
  if (fields_.contains(key))
    return fail(Errc::kInvalidArgument, "form field " + key + " sent more than once");
  fields_.emplace(std::move(key), std::move(value));
  return ok();
}

const std::string* FormFields::find(std::string_view lower_name) const {
  auto it = fields_.find(lower_name);
  return it == fields_.end() ? nullptr : &it->second;
}

Result<Credential> parse_credential(std::string_view credential) {
  // AK / date / region / service / aws4_request
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t slash = credential.find('/', start);
    parts.push_back(credential.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 5 || parts[0].empty() || parts[1].size() != 8 || parts[2].empty() ||
      parts[3] != "s3" || parts[4] != "aws4_request")
    return fail(Errc::kInvalidArgument, "malformed x-amz-credential");
  for (char c : parts[1])
    if (c < '0' || c > '9') return fail(Errc::kInvalidArgument, "malformed x-amz-credential date");
  return Credential{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

Result<VerifiedForm> verify_signature(const FormFields& fields, std::string_view secret_key,
                                      UnixMs now) {
  auto need = [&](std::string_view name) -> Result<std::string_view> {
    const std::string* v = fields.find(name);
    if (!v || v->empty())
      return fail(Errc::kInvalidArgument, "form field " + std::string(name) + " is missing");
    return std::string_view(*v);
  };
  auto algorithm = need("x-amz-algorithm");
  if (!algorithm) return fail(algorithm.error());
  if (*algorithm != sigv4::kAlgorithm)
    return fail(Errc::kInvalidArgument, "only AWS4-HMAC-SHA256 is supported");
  auto credential_text = need("x-amz-credential");
  if (!credential_text) return fail(credential_text.error());
  auto credential = parse_credential(*credential_text);
  if (!credential) return fail(credential.error());
  auto date = need("x-amz-date");
  if (!date) return fail(date.error());
  if (date->size() != 16 || date->substr(0, 8) != credential->date)
    return fail(Errc::kInvalidArgument, "x-amz-date does not match the credential's date");
  auto policy_b64 = need("policy");
  if (!policy_b64) return fail(policy_b64.error());
  auto signature = need("x-amz-signature");
  if (!signature) return fail(signature.error());
  const std::string expected =
      sigv4::signature(secret_key, credential->date, credential->region, *policy_b64);
  if (!crypto::equal_constant_time(expected, lower(*signature)))
    return fail(Errc::kGrantInvalid,
                "The request signature we calculated does not match the signature you provided.");
  auto policy = parse_policy(*policy_b64);
  if (!policy) return fail(policy.error());
  if (policy->expiration <= now)
    return fail(Errc::kGrantExpired, "Invalid according to Policy: Policy expired.");
  auto key = need("key");
  if (!key) return fail(key.error());

  VerifiedForm v;
  v.credential = std::move(*credential);
  v.policy = std::move(*policy);
  v.key = std::string(*key);
  if (v.policy.length_range) {
    v.min_size = v.policy.length_range->first;
    v.max_size = v.policy.length_range->second;
  }
  return v;
}

std::string resolve_key(std::string_view key, std::string_view filename) {
  std::string out(key);
  constexpr std::string_view kVar = "${filename}";
  if (auto pos = out.find(kVar); pos != std::string::npos) out.replace(pos, kVar.size(), filename);
  return out;
}

Status check_conditions(const Policy& policy, const FormFields& fields, std::string_view bucket,
                        std::string_view filename, bool final) {
  for (const Condition& c : policy.conditions) {
    std::string value;
    if (c.field == "bucket") {
      value = std::string(bucket);
    } else if (const std::string* v = fields.find(c.field)) {
      value = c.field == "key" ? resolve_key(*v, filename) : *v;
    } else if (!final) {
      continue;  // may still come after the file
    }
    const bool met = c.op == Condition::Op::kEq ? value == c.value : value.starts_with(c.value);
    if (!met)
      return fail(Errc::kGrantScope,
                  "Invalid according to Policy: Policy Condition failed: [\"" +
                      std::string(c.op == Condition::Op::kEq ? "eq" : "starts-with") + "\", \"$" +
                      c.field + "\", \"" + c.value + "\"]");
  }
  for (const auto& [name, value] : fields.all()) {
    if (exempt(name)) continue;
    bool covered = false;
    for (const Condition& c : policy.conditions) covered = covered || c.field == name;
    if (!covered)
      return fail(Errc::kGrantScope, "Invalid according to Policy: Extra input fields: " + name);
  }
  if (const std::string* b = fields.find("bucket"); b && *b != bucket)
    return fail(Errc::kGrantScope, "Invalid according to Policy: bucket does not match the URL");
  return ok();
}

Status check_size(const Policy& policy, uint64_t size) {
  if (!policy.length_range) return ok();
  if (size > policy.length_range->second)
    return fail(Errc::kTooLarge, "Your proposed upload exceeds the maximum allowed size");
  if (size < policy.length_range->first)
    return fail(Errc::kTooSmall, "Your proposed upload is smaller than the minimum allowed size");
  return ok();
}

}  // namespace up::dialects::openim::s3
