#include "dialects/jodoo/resumable_wire.h"

#include <charconv>
#include <vector>

#include "core/crypto.h"
#include "core/text.h"

namespace up::dialects::jodoo {
namespace {

constexpr size_t kSignatureBytes = 16;
constexpr size_t kMaxTokenText = 1024;
constexpr size_t kMaxPathParams = 256;

Error stale(std::string message) { return Error(Errc::kFailedPrecondition, std::move(message)); }

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

bool parse_number(std::string_view s, uint64_t& out) {
  const auto v = parse_decimal(s);
  if (v) out = *v;
  return v.has_value();
}

bool parse_number(std::string_view s, int64_t& out) {
  const auto v = parse_decimal(s);
  if (!v || *v > static_cast<uint64_t>(INT64_MAX)) return false;
  out = static_cast<int64_t>(*v);
  return true;
}

std::string payload_of(const ResumableToken& t) {
  std::string p;
  p += static_cast<char>(t.kind);
  for (const std::string* f : {&t.tenant_id, &t.app_id, &t.id}) p.append("\n").append(*f);
  for (int64_t n : {static_cast<int64_t>(t.size), static_cast<int64_t>(t.offset), t.expires_s})
    p.append("\n").append(std::to_string(n));
  return p;
}

std::optional<ResumableToken> read_payload(std::string_view payload) {
  const auto f = split(payload, '\n');
  if (f.size() != 7 || f[0].size() != 1) return std::nullopt;
  ResumableToken t;
  t.kind = static_cast<ResumableToken::Kind>(f[0][0]);
  t.tenant_id = std::string(f[1]);
  t.app_id = std::string(f[2]);
  t.id = std::string(f[3]);
  if (!parse_number(f[4], t.size) || !parse_number(f[5], t.offset) ||
      !parse_number(f[6], t.expires_s))
    return std::nullopt;
  return t;
}

// The payload of a token's text and its signature, both decoded.
std::optional<std::pair<std::string, std::string>> split_token(std::string_view text) {
  if (text.size() > kMaxTokenText) return std::nullopt;
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string payload, sig;
  if (!crypto::base64_decode(text.substr(0, dot), payload) ||
      !crypto::base64_decode(text.substr(dot + 1), sig))
    return std::nullopt;
  return std::pair(std::move(payload), std::move(sig));
}

std::string signature(std::string_view payload, std::string_view key) {
  return crypto::hmac_sha256(key, payload).substr(0, kSignatureBytes);
}

// url-safe base64 with or without padding, as the SDKs send it.
bool decode_value(std::string_view in, std::string& out) {
  return crypto::base64_decode(in, out) && valid_utf8(out);
}

}  // namespace

std::optional<uint64_t> parse_decimal(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 20) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string encode_resumable_token(const ResumableToken& t, std::string_view signing_key) {
  const std::string payload = payload_of(t);
  return crypto::base64url(payload, false) + "." +
         crypto::base64url(signature(payload, signing_key), false);
}

std::optional<std::string> resumable_token_tenant(std::string_view text) {
  auto parts = split_token(text);
  if (!parts) return std::nullopt;
  auto t = read_payload(parts->first);
  if (!t) return std::nullopt;
  return t->tenant_id;
}

Result<ResumableToken> decode_resumable_token(std::string_view text, std::string_view signing_key,
                                              ResumableToken::Kind kind, int64_t now_s) {
  const char* what = kind == ResumableToken::Kind::kBlock ? "ctx" : "uploadId";
  auto parts = split_token(text);
  if (!parts) return fail(stale(std::string("decode ") + what + " failed"));
  auto t = read_payload(parts->first);
  if (!t || t->kind != kind ||
      !crypto::equal_constant_time(parts->second, signature(parts->first, signing_key)))
    return fail(stale(std::string("decode ") + what + " failed"));
  if (t->expires_s < now_s) {
    if (kind == ResumableToken::Kind::kBlock)
      return fail(stale("expired context create at " + std::to_string(t->expires_s - 7 * 86400)));
    return fail(stale("no such uploadId"));
  }
  return *t;
}

Result<MkfileParams> parse_mkfile_path(std::string_view path) {
  const auto segments = split(path, '/');
  if (segments.size() % 2 != 1 || segments.size() > 2 * kMaxPathParams + 1)
    return fail(Errc::kInvalidArgument, "invalid mkfile path");
  MkfileParams p;
  if (!parse_number(segments[0], p.file_size))
    return fail(Errc::kInvalidArgument, "invalid file size");
  for (size_t i = 1; i + 1 < segments.size(); i += 2) {
    const std::string name(segments[i]);
    std::string value;
    if (!decode_value(segments[i + 1], value))
      return fail(Errc::kInvalidArgument, "invalid value of " + name);
    if (name == "key") p.key = std::move(value);
    else if (name == "mimeType") p.mime_type = std::move(value);
    else if (name == "fname") p.fname = std::move(value);
    else if ((name.starts_with("x:") && name.size() > 2) ||
             (name.starts_with("x-qn-meta-") && name.size() > 10))
      p.vars[name] = std::move(value);
    // Other names (D1's old "params") are ignored, as Qiniu does.
  }
  return p;
}

Result<std::string> qiniu_etag_v2(std::span<const std::string> part_qetags) {
  crypto::Digest sha1(crypto::Digest::Algo::kSha1);
  for (const std::string& encoded : part_qetags) {
    std::string raw;
    if (!crypto::base64_decode(encoded, raw) || raw.size() != 21)
      return fail(Errc::kInternal, "a part's qetag is malformed");
    sha1.update(std::string_view(raw).substr(1));
  }
  return crypto::base64url(std::string(1, '\x9e') + sha1.final(), true);
}

bool qetag_layout(std::span<const uint64_t> part_sizes) {
  for (size_t i = 0; i < part_sizes.size(); ++i) {
    const bool last = i + 1 == part_sizes.size();
    if (last ? part_sizes[i] > kQiniuBlockBytes : part_sizes[i] != kQiniuBlockBytes) return false;
  }
  return true;
}

}  // namespace up::dialects::jodoo
