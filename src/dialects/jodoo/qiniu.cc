#include "dialects/jodoo/qiniu.h"

#include <openssl/evp.h>

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/text.h"
#include "http/base64_json.h"

namespace up::dialects::jodoo {
namespace {

namespace json = boost::json;

constexpr std::string_view kSaveKeyMarker = "\x01save-key\x01";
constexpr size_t kMaxVariableName = 128;

Error bad_token(std::string message) { return Error(Errc::kGrantInvalid, std::move(message)); }

// Reads an optional member of a given JSON type; false when present with another type.
bool read_string(const json::object& o, std::string_view name, std::string& out) {
  auto* v = o.if_contains(name);
  if (!v) return true;
  if (!v->is_string()) return false;
  out = std::string(v->as_string());
  return true;
}

bool read_uint(const json::object& o, std::string_view name, std::optional<uint64_t>& out) {
  auto* v = o.if_contains(name);
  if (!v) return true;
  if (v->is_uint64()) out = v->as_uint64();
  else if (v->is_int64() && v->as_int64() >= 0) out = static_cast<uint64_t>(v->as_int64());
  else return false;
  return true;
}

// Qiniu SDKs write forceSaveKey as a JSON boolean; some hand-made policies use 0/1.
bool read_bool(const json::object& o, std::string_view name, bool& out) {
  auto* v = o.if_contains(name);
  if (!v) return true;
  if (v->is_bool()) out = v->as_bool();
  else if (v->is_int64()) out = v->as_int64() != 0;
  else return false;
  return true;
}

void append_form_encoded(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
}

// Magic and custom variable names: "key", "x:user", "imageInfo.width".
bool variable_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == ':' || c == '.' || c == '-'))
      return false;
  return true;
}

}  // namespace

std::optional<std::string> PutPolicy::scoped_key() const {
  const auto colon = scope.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return scope.substr(colon + 1);
}

std::string policy_json(const PutPolicy& p) {
  json::object o;
  o["scope"] = p.scope;
  if (p.force_save_key) o["forceSaveKey"] = true;
  if (p.fsize_min > 0) o["fsizeMin"] = p.fsize_min;
  if (p.fsize_limit) o["fsizeLimit"] = *p.fsize_limit;
  if (!p.callback_url.empty()) o["callbackUrl"] = p.callback_url;
  if (!p.callback_host.empty()) o["callbackHost"] = p.callback_host;
  if (!p.callback_body.empty()) o["callbackBody"] = p.callback_body;
  if (!p.callback_body_type.empty()) o["callbackBodyType"] = p.callback_body_type;
  if (!p.transaction_id.empty()) o["transactionId"] = p.transaction_id;
  o["deadline"] = p.deadline;
  if (!p.save_key.empty()) o["saveKey"] = p.save_key;  // last: TokenMinter varies only the end
  return json::serialize(o);
}

std::string encoded_sign(std::string_view secret_key, std::string_view data) {
  return crypto::base64url(crypto::hmac_sha1(secret_key, data), true);
}

std::string make_upload_token(std::string_view access_key, std::string_view secret_key,
                              std::string_view policy) {
  const std::string encoded = crypto::base64url(policy, true);
  std::string token;
  token.reserve(access_key.size() + 30 + encoded.size());
  token.append(access_key)
      .append(":")
      .append(encoded_sign(secret_key, encoded))
      .append(":")
      .append(encoded);
  return token;
}

// HMAC-SHA1 with its key schedule done once and a fixed message prefix
// already hashed (RFC 2104: H(K^opad || H(K^ipad || m))).
struct TokenMinter::Hmac {
  EVP_MD_CTX* inner = EVP_MD_CTX_new();
  EVP_MD_CTX* outer = EVP_MD_CTX_new();
  EVP_MD_CTX* scratch = EVP_MD_CTX_new();
  bool ok = false;

  Hmac(std::string_view key, std::string_view prefix) {
    if (!inner || !outer || !scratch) return;
    std::string k(key);
    if (k.size() > 64) k = crypto::sha1(k);
    std::string ipad(64, '\x36'), opad(64, '\x5c');
    for (size_t i = 0; i < k.size(); ++i) {
      ipad[i] = static_cast<char>(ipad[i] ^ k[i]);
      opad[i] = static_cast<char>(opad[i] ^ k[i]);
    }
    ok = EVP_DigestInit_ex(inner, EVP_sha1(), nullptr) == 1 &&
         EVP_DigestUpdate(inner, ipad.data(), 64) == 1 &&
         EVP_DigestUpdate(inner, prefix.data(), prefix.size()) == 1 &&
         EVP_DigestInit_ex(outer, EVP_sha1(), nullptr) == 1 &&
         EVP_DigestUpdate(outer, opad.data(), 64) == 1;
  }
  ~Hmac() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
    EVP_MD_CTX_free(scratch);
  }
  // HMAC over prefix + rest; empty if OpenSSL failed.
  std::string sign(std::string_view rest) {
    unsigned char inner_digest[EVP_MAX_MD_SIZE], digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0, m = 0;
    if (!ok || EVP_MD_CTX_copy_ex(scratch, inner) != 1 ||
        EVP_DigestUpdate(scratch, rest.data(), rest.size()) != 1 ||
        EVP_DigestFinal_ex(scratch, inner_digest, &n) != 1 ||
        EVP_MD_CTX_copy_ex(scratch, outer) != 1 ||
        EVP_DigestUpdate(scratch, inner_digest, n) != 1 ||
        EVP_DigestFinal_ex(scratch, digest, &m) != 1)
      return {};
    return std::string(reinterpret_cast<char*>(digest), m);
  }
};

TokenMinter::TokenMinter(std::string access_key, std::string_view secret_key,
                         const PutPolicy& policy)
    : access_key_(std::move(access_key)), secret_key_(secret_key) {
  PutPolicy p = policy;
  p.save_key = std::string(kSaveKeyMarker);
  std::string whole = policy_json(p);
  // The marker's control bytes are serialized as \u0001 escapes.
  const std::string marker = "\\u0001save-key\\u0001";
  const auto at = whole.find(marker);
  before_key_ = whole.substr(0, at);
  after_key_ = whole.substr(at + marker.size());
  // JSON allows white space after '{': pad so the part before the key is a
  // whole number of base64 groups.
  before_key_.insert(1, (3 - before_key_.size() % 3) % 3, ' ');
  encoded_before_ = crypto::base64url(before_key_, false);
  hmac_ = std::make_unique<Hmac>(secret_key_, encoded_before_);
}

TokenMinter::~TokenMinter() = default;

std::string TokenMinter::token(std::string_view save_key) {
  if (save_key.size() % 3 != 0) {
    std::string policy = before_key_;
    policy.append(save_key).append(after_key_);
    return make_upload_token(access_key_, secret_key_, policy);
  }
  std::string tail;
  tail.append(save_key).append(after_key_);
  const std::string encoded_tail = crypto::base64url(tail, true);
  std::string sign = hmac_->sign(encoded_tail);
  if (sign.empty()) sign = crypto::hmac_sha1(secret_key_, encoded_before_ + encoded_tail);
  std::string token;
  token.reserve(access_key_.size() + 30 + encoded_before_.size() + encoded_tail.size());
  token.append(access_key_).append(":").append(crypto::base64url(sign, true)).append(":");
  token.append(encoded_before_).append(encoded_tail);
  return token;
}

Result<UploadToken> parse_upload_token(std::string_view token) {
  if (token.empty()) return fail(Errc::kGrantInvalid, "token not specified");
  if (token.size() > kMaxTokenBytes) return fail(bad_token("bad token"));
  const auto first = token.find(':');
  const auto second = first == std::string_view::npos ? first : token.find(':', first + 1);
  if (second == std::string_view::npos || token.find(':', second + 1) != std::string_view::npos)
    return fail(bad_token("bad token"));
  UploadToken t;
  t.access_key = std::string(token.substr(0, first));
  t.sign = std::string(token.substr(first + 1, second - first - 1));
  t.encoded_policy = std::string(token.substr(second + 1));
  if (t.access_key.empty() || t.sign.empty() || t.encoded_policy.empty())
    return fail(bad_token("bad token"));

  auto policy = http::decode_base64_json_object(t.encoded_policy);
  if (!policy) return fail(bad_token("bad token: policy is " + policy.error().message));
  const json::object& o = *policy;
  PutPolicy& p = t.policy;
  std::optional<uint64_t> fsize_min, deadline;
  if (!read_string(o, "scope", p.scope) || !read_string(o, "saveKey", p.save_key) ||
      !read_bool(o, "forceSaveKey", p.force_save_key) || !read_uint(o, "fsizeMin", fsize_min) ||
      !read_uint(o, "fsizeLimit", p.fsize_limit) || !read_uint(o, "deadline", deadline) ||
      !read_string(o, "callbackUrl", p.callback_url) ||
      !read_string(o, "callbackHost", p.callback_host) ||
      !read_string(o, "callbackBody", p.callback_body) ||
      !read_string(o, "callbackBodyType", p.callback_body_type) ||
      !read_string(o, "transactionId", p.transaction_id))
    return fail(bad_token("bad token: a policy member has the wrong type"));
  if (p.scope.empty() || p.bucket().empty()) return fail(bad_token("bad token: no scope"));
  if (!deadline || *deadline > static_cast<uint64_t>(INT64_MAX / 1000))
    return fail(bad_token("bad token: no deadline"));
  p.deadline = static_cast<int64_t>(*deadline);
  p.fsize_min = fsize_min.value_or(0);
  return t;
}

bool signature_matches(const UploadToken& token, std::string_view secret_key) {
  return crypto::equal_constant_time(token.sign, encoded_sign(secret_key, token.encoded_policy));
}

std::string qbox_authorization(std::string_view access_key, std::string_view secret_key,
                               std::string_view path_and_query, std::string_view body) {
  std::string signed_data;
  signed_data.reserve(path_and_query.size() + 1 + body.size());
  signed_data.append(path_and_query).append("\n").append(body);
  return "QBox " + std::string(access_key) + ":" + encoded_sign(secret_key, signed_data);
}

Result<std::string> substitute_magic_variables(
    std::string_view tmpl,
    const std::function<std::optional<std::string>(std::string_view)>& lookup, BodyEscape escape,
    size_t max_bytes) {
  std::string out;
  out.reserve(tmpl.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    const auto dollar = tmpl.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, dollar - i));
    const char open = dollar + 1 < tmpl.size() ? tmpl[dollar + 1] : '\0';
    const char close = open == '(' ? ')' : open == '{' ? '}' : '\0';
    const auto end = close ? tmpl.find(close, dollar + 2) : std::string_view::npos;
    if (end == std::string_view::npos || end - dollar - 2 > kMaxVariableName ||
        !variable_name(tmpl.substr(dollar + 2, end - dollar - 2))) {
      out += '$';
      i = dollar + 1;
    } else {
      const std::string value = lookup(tmpl.substr(dollar + 2, end - dollar - 2)).value_or("");
      if (escape == BodyEscape::kJsonString) append_json_escaped(out, value);
      else if (escape == BodyEscape::kFormUrlEncoded) append_form_encoded(out, value);
      else out += value;
      i = end + 1;
    }
    if (out.size() > max_bytes) return fail(Errc::kTooLarge, "callback body too large");
  }
  if (out.size() > max_bytes) return fail(Errc::kTooLarge, "callback body too large");
  return out;
}

std::optional<uint32_t> parse_crc32_field(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r' || text.back() == '\n'))
    text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace up::dialects::jodoo
