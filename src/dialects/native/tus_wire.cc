#include "dialects/native/tus_wire.h"

#include <time.h>

#include <charconv>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "http/base64_json.h"

namespace up::dialects::native::tus {
namespace {

namespace json = boost::json;

constexpr size_t kMaxTokenBytes = 8192;

std::string sign(const json::object& payload, std::string_view key) {
  const std::string body = crypto::base64url(json::serialize(payload), false);
  return body + "." + crypto::base64url(crypto::hmac_sha256(key, body), false);
}

// The payload of a token signed with `key`, or kGrantInvalid.
Result<json::object> verified(std::string_view token, std::string_view key, const char* what) {
  const auto bad = fail(Errc::kGrantInvalid, std::string("invalid ") + what);
  const size_t dot = token.find('.');
  if (token.size() > kMaxTokenBytes || dot == std::string_view::npos) return bad;
  const std::string expected =
      crypto::base64url(crypto::hmac_sha256(key, token.substr(0, dot)), false);
  if (!crypto::equal_constant_time(expected, token.substr(dot + 1))) return bad;
  auto o = http::decode_base64_json_object(token.substr(0, dot));
  if (!o) return bad;
  return std::move(*o);
}

std::string text(const json::object& o, const char* name) {
  auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<uint64_t> number(const json::object& o, const char* name) {
  auto* v = o.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string encode_upload_token(const UploadToken& t, std::string_view signing_key) {
  json::object o;
  o["t"] = t.tenant_id;
  o["a"] = t.app_id;
  o["i"] = t.id;
  if (t.length) o["l"] = *t.length;
  o["x"] = t.max_bytes;
  if (!t.metadata.empty()) o["md"] = t.metadata;
  if (!t.name.empty()) o["n"] = t.name;
  if (!t.content_type.empty()) o["c"] = t.content_type;
  o["e"] = t.expires_at;
  o["k"] = static_cast<int>(t.concat);
  if (!t.key_id.empty()) o["ki"] = t.key_id;
  if (!t.grant_id.empty()) {
    o["g"] = t.grant_id;
    o["ge"] = t.grant_expires_at;
  }
  return sign(o, signing_key);
}

Result<UploadToken> decode_upload_token(std::string_view token, std::string_view signing_key) {
  auto o = verified(token, signing_key, "upload URL");
  if (!o) return fail(o.error());
  UploadToken t;
  t.tenant_id = text(*o, "t");
  t.app_id = text(*o, "a");
  t.id = text(*o, "i");
  t.length = number(*o, "l");
  t.max_bytes = number(*o, "x").value_or(0);
  t.metadata = text(*o, "md");
  t.name = text(*o, "n");
  t.content_type = text(*o, "c");
  t.expires_at = static_cast<UnixMs>(number(*o, "e").value_or(0));
  const uint64_t concat = number(*o, "k").value_or(0);
  t.key_id = text(*o, "ki");
  t.grant_id = text(*o, "g");
  t.grant_expires_at = static_cast<UnixMs>(number(*o, "ge").value_or(0));
  // Signed by us, so well formed unless the format changed under it.
  if (t.tenant_id.empty() || t.app_id.empty() || t.id.empty() || concat > 2)
    return fail(Errc::kGrantInvalid, "invalid upload URL");
  t.concat = static_cast<Concat>(concat);
  return t;
}

std::string encode_grant(const UploadGrant& g, std::string_view signing_key) {
  json::object o;
  o["t"] = g.tenant_id;
  o["a"] = g.app_id;
  o["g"] = g.id;
  o["ki"] = g.key_id;
  o["x"] = g.max_bytes;
  o["e"] = g.expires_at;
  return std::string(kGrantPrefix) + sign(o, signing_key);
}

Result<UploadGrant> decode_grant(std::string_view token, std::string_view signing_key) {
  if (!token.starts_with(kGrantPrefix)) return fail(Errc::kGrantInvalid, "invalid upload grant");
  auto o = verified(token.substr(kGrantPrefix.size()), signing_key, "upload grant");
  if (!o) return fail(o.error());
  UploadGrant g;
  g.tenant_id = text(*o, "t");
  g.app_id = text(*o, "a");
  g.id = text(*o, "g");
  g.key_id = text(*o, "ki");
  g.max_bytes = number(*o, "x").value_or(0);
  g.expires_at = static_cast<UnixMs>(number(*o, "e").value_or(0));
  if (g.tenant_id.empty() || g.app_id.empty() || g.id.empty())
    return fail(Errc::kGrantInvalid, "invalid upload grant");
  return g;
}

Result<std::map<std::string, std::string>> parse_metadata(std::string_view header) {
  std::map<std::string, std::string> out;
  if (header.size() > kMaxMetadataBytes)
    return fail(Errc::kInvalidArgument, "Upload-Metadata is too long");
  while (!trim(header).empty()) {
    const size_t comma = header.find(',');
    const std::string_view pair = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const size_t space = pair.find(' ');
    const std::string key(pair.substr(0, space));
    std::string value;
    if (space != std::string_view::npos) {
      const std::string_view encoded = trim(pair.substr(space + 1));
      if (!encoded.empty() && !crypto::base64_decode(encoded, value))
        return fail(Errc::kInvalidArgument, "Upload-Metadata value of " + key + " is not base64");
    }
    if (key.empty() || key.find_first_of(" \t") != std::string::npos)
      return fail(Errc::kInvalidArgument, "Upload-Metadata has an empty key");
    if (!out.emplace(key, std::move(value)).second)
      return fail(Errc::kInvalidArgument, "Upload-Metadata repeats " + key);
  }
  return out;
}

Result<Checksum> parse_checksum(std::string_view header) {
  header = trim(header);
  const size_t space = header.find(' ');
  const std::string_view algo = header.substr(0, space);
  Checksum c;
  size_t want = 0;
  if (algo == "sha1") c.algo = crypto::Digest::Algo::kSha1, want = 20;
  else if (algo == "sha256") c.algo = crypto::Digest::Algo::kSha256, want = 32;
  else if (algo == "md5") c.algo = crypto::Digest::Algo::kMd5, want = 16;
  else
    return fail(Errc::kInvalidArgument,
                "Upload-Checksum algorithm must be one of " + std::string(kChecksumAlgorithms));
  if (space == std::string_view::npos ||
      !crypto::base64_decode(trim(header.substr(space + 1)), c.digest) || c.digest.size() != want)
    return fail(Errc::kInvalidArgument, "Upload-Checksum digest must be base64 of the digest");
  return c;
}

Result<ConcatHeader> parse_concat(std::string_view header) {
  header = trim(header);
  ConcatHeader c;
  if (header == "partial") {
    c.kind = Concat::kPartial;
    return c;
  }
  if (!header.starts_with("final;"))
    return fail(Errc::kInvalidArgument, "Upload-Concat must be partial or final;<urls>");
  c.kind = Concat::kFinal;
  std::string_view urls = header.substr(6);
  while (!(urls = trim(urls)).empty()) {
    const size_t space = urls.find_first_of(" \t");
    std::string_view url = urls.substr(0, space);
    urls = space == std::string_view::npos ? std::string_view() : urls.substr(space);
    while (url.ends_with('/')) url.remove_suffix(1);
    const size_t slash = url.rfind('/');
    if (slash == std::string_view::npos ||
        url.substr(0, slash).find("/v1/tus") == std::string_view::npos)
      return fail(Errc::kInvalidArgument, "Upload-Concat names a URL that is not a tus upload");
    c.tokens.emplace_back(url.substr(slash + 1));
  }
  if (c.tokens.empty()) return fail(Errc::kInvalidArgument, "Upload-Concat final lists no upload");
  return c;
}

Result<uint64_t> parse_size(std::string_view s, std::string_view header_name) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    return fail(Errc::kInvalidArgument,
                std::string(header_name) + " must be a non-negative integer");
  return v;
}

std::string http_date(UnixMs t) {
  const time_t secs = static_cast<time_t>(t / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

}  // namespace up::dialects::native::tus
