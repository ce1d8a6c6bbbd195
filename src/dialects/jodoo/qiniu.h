#pragma once
// Qiniu's upload-token wire format (spec/jodoo.md §2.3, §2.6): put policies,
// `AccessKey:EncodedSign:EncodedPutPolicy` tokens, the QBox callback signature
// and magic-variable substitution. Pure functions over untrusted bytes: no
// Beast, no I/O, no core services (fuzz/qiniu_token_fuzz.cc drives them).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace up::dialects::jodoo {

// The put-policy members upgate acts on. `transaction_id` is upgate's own
// member ("transactionId"): clients never read policies, they only carry them.
struct PutPolicy {
  std::string scope;  // "bucket" (insert-only) or "bucket:key"
  std::string save_key;
  bool force_save_key = false;
  uint64_t fsize_min = 0;
  std::optional<uint64_t> fsize_limit;
  int64_t deadline = 0;  // unix seconds
  std::string callback_url;
  std::string callback_host;
  std::string callback_body;
  std::string callback_body_type;
  std::string transaction_id;

  std::string bucket() const { return scope.substr(0, scope.find(':')); }
  // The key a "bucket:key" scope pins, nullopt for an insert-only scope.
  std::optional<std::string> scoped_key() const;
};

// Serializes a policy the way Qiniu's SDKs do (compact JSON, absent members
// left out).
std::string policy_json(const PutPolicy& policy);

// url-safe base64 (with '=' padding) of HMAC-SHA1(secret_key, data): Qiniu's
// EncodedSign.
std::string encoded_sign(std::string_view secret_key, std::string_view data);

// `access_key:EncodedSign:EncodedPutPolicy` for a serialized policy.
std::string make_upload_token(std::string_view access_key, std::string_view secret_key,
                              std::string_view policy_json);

// Makes many tokens that differ only in their saveKey (get_upload_token hands
// out 100 per request), cheaply: the policy is serialized once with the
// saveKey last and padded so that the base64 of everything before the key is
// fixed, and the HMAC state over that part is computed once. Per token only
// the key's base64 and two SHA-1 finishes remain. Not thread-safe.
class TokenMinter {
 public:
  // `policy.save_key` is ignored; each token() sets its own.
  TokenMinter(std::string access_key, std::string_view secret_key, const PutPolicy& policy);
  ~TokenMinter();
  TokenMinter(const TokenMinter&) = delete;
  TokenMinter& operator=(const TokenMinter&) = delete;

  // REQUIRES: save_key needs no JSON escaping (a UUID).
  std::string token(std::string_view save_key);

 private:
  struct Hmac;
  std::string access_key_;
  std::string secret_key_;
  std::string before_key_, after_key_;  // the policy JSON around the saveKey value
  std::string encoded_before_;          // base64 of before_key_ (a multiple of 3 bytes)
  std::unique_ptr<Hmac> hmac_;          // keyed, and fed encoded_before_
};

// A token split into its three parts with the policy decoded; the signature
// is not checked yet (the access key says which secret to check it with).
struct UploadToken {
  std::string access_key;
  std::string sign;            // as sent (EncodedSign)
  std::string encoded_policy;  // as sent; what the signature covers
  PutPolicy policy;
};

constexpr size_t kMaxTokenBytes = 8 * 1024;

// kGrantInvalid ("bad token") for anything malformed: wrong shape, bad
// base64, a policy that is not a JSON object, members of the wrong type, an
// empty scope or a missing deadline.
Result<UploadToken> parse_upload_token(std::string_view token);

// Constant-time check of the token's signature under `secret_key`.
bool signature_matches(const UploadToken& token, std::string_view secret_key);

// `QBox <AK>:<urlsafe_b64(HMAC-SHA1(SK, path[?query] "\n" body))>`: what an
// upload callback carries so its receiver can tell it came from the server
// (Qiniu's isQiniuCallback checks exactly this).
std::string qbox_authorization(std::string_view access_key, std::string_view secret_key,
                               std::string_view path_and_query, std::string_view body);

// How substituted values are escaped for the callback body's content type.
enum class BodyEscape { kJsonString, kFormUrlEncoded, kNone };

// Replaces `$(name)` and `${name}` in `tmpl` with lookup(name) escaped per
// `escape`; a name lookup does not know becomes "". Text that is not a
// well-formed variable (no closing bracket, a name that is empty, over 128
// bytes or not of [A-Za-z0-9_:.-]) is copied as is. The result is at most `max_bytes` (kTooLarge
// past it).
Result<std::string> substitute_magic_variables(
    std::string_view tmpl,
    const std::function<std::optional<std::string>(std::string_view)>& lookup, BodyEscape escape,
    size_t max_bytes = 64 * 1024);

// The form's `crc32` field: decimal, unsigned 32 bits. nullopt when malformed.
std::optional<uint32_t> parse_crc32_field(std::string_view text);

}  // namespace up::dialects::jodoo
