#include "dialects/openim/wire_ids.h"

#include <cctype>
#include <initializer_list>
#include <utility>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "http/base64_json.h"

namespace up::dialects::openim {
namespace {

namespace json = boost::json;

// Unpadded standard base64 (Go's base64.RawStdEncoding).
std::string raw_std_base64(std::string_view raw) {
  std::string s = crypto::base64(raw);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string string_member(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<int64_t> int_member(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

// Each named member into its field: "" when it is absent or not a string.
void read_strings(const json::object& o,
                  std::initializer_list<std::pair<const char*, std::string*>> fields) {
  for (const auto& [name, field] : fields) *field = string_member(o, name);
}

// Each named member into its field: false when one is absent or not an int64.
bool read_ints(const json::object& o,
               std::initializer_list<std::pair<const char*, int64_t*>> fields) {
  for (const auto& [name, field] : fields) {
    auto v = int_member(o, name);
    if (!v) return false;
    *field = *v;
  }
  return true;
}

constexpr std::string_view kJwtHeader = R"({"alg":"HS256","typ":"JWT"})";

std::string claims_json(const TokenClaims& c) {
  return json::serialize(json::object{{"UserID", c.user_id},
                                      {"PlatformID", c.platform_id},
                                      {"tid", c.tenant_id},
                                      {"aid", c.app_id},
                                      {"kid", c.key_id},
                                      {"adm", c.admin},
                                      {"iat", c.issued_at},
                                      {"nbf", c.not_before},
                                      {"exp", c.expires_at}});
}

}  // namespace

std::string encode_form_id(const FormId& id) {
  json::object o{{"name", id.name},
                 {"size", id.size},
                 {"contentType", id.content_type},
                 {"group", id.group},
                 {"key", id.key}};
  if (!id.blob.empty()) {
    o["blob"] = id.blob;
    o["blobSig"] = id.blob_signature;
  }
  return raw_std_base64(json::serialize(o));
}

Result<FormId> decode_form_id(std::string_view id) {
  if (id.size() > 16 * 1024) return fail(Errc::kInvalidArgument, "invalid id");
  auto doc = http::decode_base64_json_object(id);
  if (!doc) return fail(Errc::kInvalidArgument, "invalid id");
  const json::object& o = *doc;
  FormId f;
  read_strings(o, {{"name", &f.name},
                   {"contentType", &f.content_type},
                   {"group", &f.group},
                   {"key", &f.key},
                   {"blob", &f.blob},
                   {"blobSig", &f.blob_signature}});
  if (!read_ints(o, {{"size", &f.size}}) || f.key.empty() || f.name.empty())
    return fail(Errc::kInvalidArgument, "invalid id");
  return f;
}

std::string issue_token(const TokenClaims& claims, std::string_view signing_key) {
  std::string token =
      crypto::base64url(kJwtHeader, false) + "." + crypto::base64url(claims_json(claims), false);
  return token + "." + crypto::base64url(crypto::hmac_sha256(signing_key, token), false);
}

tl::expected<TokenClaims, TokenFault> read_token(std::string_view token) {
  const auto bad = tl::unexpected(TokenFault::kMalformed);
  if (token.size() > 4096) return bad;
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return bad;
  auto header = http::decode_base64_json_object(token.substr(0, dot1));
  if (!header || string_member(*header, "alg") != "HS256") return bad;
  auto payload = http::decode_base64_json_object(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload) return bad;
  const json::object& o = *payload;
  TokenClaims c;
  read_strings(
      o, {{"UserID", &c.user_id}, {"tid", &c.tenant_id}, {"aid", &c.app_id}, {"kid", &c.key_id}});
  const auto* adm = o.if_contains("adm");
  c.admin = adm && adm->is_bool() && adm->as_bool();
  int64_t platform = 0;
  if (!read_ints(o, {{"PlatformID", &platform},
                     {"iat", &c.issued_at},
                     {"nbf", &c.not_before},
                     {"exp", &c.expires_at}}) ||
      c.user_id.empty() || c.tenant_id.empty() || c.app_id.empty())
    return bad;
  c.platform_id = static_cast<int>(platform);
  return c;
}

tl::expected<void, TokenFault> verify_token(std::string_view token, const TokenClaims& claims,
                                            std::string_view signing_key, UnixMs now) {
  const size_t dot2 = token.rfind('.');
  if (dot2 == std::string_view::npos) return tl::unexpected(TokenFault::kMalformed);
  const std::string expected =
      crypto::base64url(crypto::hmac_sha256(signing_key, token.substr(0, dot2)), false);
  if (!crypto::equal_constant_time(expected, token.substr(dot2 + 1)))
    return tl::unexpected(TokenFault::kInvalid);
  if (now < claims.not_before * 1000) return tl::unexpected(TokenFault::kNotValidYet);
  if (now >= claims.expires_at * 1000) return tl::unexpected(TokenFault::kExpired);
  return {};
}

}  // namespace up::dialects::openim

namespace up::dialects::openim {

std::string access_key_id(std::string_view tenant_id, std::string_view app_id) {
  std::string hex = crypto::to_hex(std::string(tenant_id) + "/" + std::string(app_id));
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "UPG" + hex;
}

bool parse_access_key_id(std::string_view key_id, std::string& tenant_id, std::string& app_id) {
  if (!key_id.starts_with("UPG") || key_id.size() % 2 == 0 || key_id.size() > 3 + 2 * 200)
    return false;
  std::string raw;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 3; i + 1 < key_id.size(); i += 2) {
    int hi = nibble(key_id[i]), lo = nibble(key_id[i + 1]);
    if (hi < 0 || lo < 0) return false;
    raw.push_back(static_cast<char>(hi * 16 + lo));
  }
  const size_t slash = raw.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == raw.size() ||
      raw.find('/', slash + 1) != std::string::npos)
    return false;
  tenant_id = raw.substr(0, slash);
  app_id = raw.substr(slash + 1);
  return true;
}

}  // namespace up::dialects::openim

namespace up::dialects::openim {

std::string encode_upload_id(const MultipartUpload& u, std::string_view signing_key) {
  const json::object o{{"t", u.tenant_id}, {"a", u.app_id},    {"u", u.user_id},    {"h", u.hash},
                       {"s", u.size},      {"p", u.part_size}, {"e", u.expires_at}, {"n", u.nonce}};
  const std::string payload = crypto::base64url(json::serialize(o), false);
  return payload + "." + crypto::base64url(crypto::hmac_sha256(signing_key, payload), false);
}

Result<MultipartUpload> read_upload_id(std::string_view id) {
  const auto bad = fail(Errc::kInvalidArgument, "invalid uploadID");
  const size_t dot = id.find('.');
  if (id.size() > 4096 || dot == std::string_view::npos ||
      id.find('.', dot + 1) != std::string_view::npos)
    return bad;
  auto doc = http::decode_base64_json_object(id.substr(0, dot));
  if (!doc) return bad;
  const json::object& o = *doc;
  MultipartUpload u;
  read_strings(
      o,
      {{"t", &u.tenant_id}, {"a", &u.app_id}, {"u", &u.user_id}, {"h", &u.hash}, {"n", &u.nonce}});
  if (!read_ints(o, {{"s", &u.size}, {"p", &u.part_size}, {"e", &u.expires_at}}) ||
      u.tenant_id.empty() || u.app_id.empty() || u.hash.empty() || u.size <= 0 ||
      u.part_size <= 0 || u.size / u.part_size >= 100'000)
    return bad;
  return u;
}

Status verify_upload_id(std::string_view id, std::string_view signing_key) {
  const size_t dot = id.find('.');
  if (dot == std::string_view::npos) return fail(Errc::kGrantInvalid, "invalid uploadID");
  const std::string expected =
      crypto::base64url(crypto::hmac_sha256(signing_key, id.substr(0, dot)), false);
  if (!crypto::equal_constant_time(expected, id.substr(dot + 1)))
    return fail(Errc::kGrantInvalid, "invalid uploadID");
  return ok();
}

std::string direct_form_signature(std::string_view signing_key, const FormId& id) {
  const std::string msg = "direct-form\n" + id.key + "\n" + id.blob + "\n" +
                          std::to_string(id.size) + "\n" + id.content_type;
  return crypto::to_hex(crypto::hmac_sha256(signing_key, msg));
}

std::string part_signature(std::string_view signing_key, std::string_view upload_id,
                           int64_t part_number, int64_t expires_unix_s) {
  std::string msg(upload_id);
  msg += "\n" + std::to_string(part_number) + "\n" + std::to_string(expires_unix_s);
  return crypto::to_hex(crypto::hmac_sha256(signing_key, msg));
}

}  // namespace up::dialects::openim
