#pragma once
// S3 browser-based POST uploads (AWS "POST Object", signature version 4): the
// verifier of upgate's form endpoint, which checks a submitted form the way
// MinIO does. No Beast, no I/O: the
// verifier takes untrusted input and is fuzzed (fuzz/s3_post_policy_fuzz.cc).
//
// Two client spellings must both verify (spec/openim.md §3.3): minio-go sends
// `policy`, `x-amz-*` and array conditions with a `.000Z` expiration; the AWS
// SDK (@aws-sdk/s3-presigned-post) sends `Policy`, `X-Amz-*`, object conditions
// ({"key": "..."}) and an expiration without milliseconds. Field names are
// therefore compared case-insensitively everywhere.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace up::dialects::openim::s3 {

// The form upgate issues is core/sigv4.h's post_form (the S3 store hands out
// the same one for direct uploads); this file holds what reads a form back.

// Both expiration forms ("...T20:30:00Z", "...T20:30:00.123Z"); nullopt otherwise.
std::optional<UnixMs> parse_expiration(std::string_view s);

// One policy condition, field names lower-cased and without '$'.
struct Condition {
  enum class Op { kEq, kStartsWith };
  Op op = Op::kEq;
  std::string field;
  std::string value;
};

struct Policy {
  UnixMs expiration = 0;
  std::vector<Condition> conditions;
  std::optional<std::pair<uint64_t, uint64_t>> length_range;  // inclusive
};
// Decodes and parses a base64 policy document. kInvalidArgument ("invalid
// policy document: ...") for anything malformed.
Result<Policy> parse_policy(std::string_view policy_b64);

// A submitted form's text fields, names lower-cased; a repeated field is
// refused (kInvalidArgument) as MinIO does.
class FormFields {
 public:
  Status add(std::string_view name, std::string value);
  const std::string* find(std::string_view lower_name) const;
  const std::map<std::string, std::string, std::less<>>& all() const { return fields_; }

 private:
  std::map<std::string, std::string, std::less<>> fields_;
};

// The identity a valid signature proves, read from x-amz-credential.
struct Credential {
  std::string access_key_id;
  std::string date;  // yyyymmdd
  std::string region;
};
// "AK/yyyymmdd/region/s3/aws4_request"; kInvalidArgument when malformed.
Result<Credential> parse_credential(std::string_view credential);

// What the form endpoint needs from a verified form.
struct VerifiedForm {
  Credential credential;
  Policy policy;
  std::string key;                   // the `key` field, ${filename} substituted
  std::optional<uint64_t> max_size;  // from content-length-range
  uint64_t min_size = 0;
};

// Checks, in this order: algorithm, credential and date present; signature
// (constant-time) with `secret_key`; expiration against `now`. Errors:
// kInvalidArgument (missing or malformed fields), kGrantInvalid (signature does
// not match), kGrantExpired (policy expired).
Result<VerifiedForm> verify_signature(const FormFields& fields, std::string_view secret_key,
                                      UnixMs now);

// Checks every condition against the fields (plus `bucket` from the URL) and
// that every submitted field is covered by a condition (except policy,
// x-amz-signature, file and x-ignore-*). kGrantScope names the failing field.
// With `final` false (called when the file part starts), fields not yet sent
// are not held against the form.
Status check_conditions(const Policy& policy, const FormFields& fields, std::string_view bucket,
                        std::string_view filename, bool final);
// content-length-range against the streamed size: kTooLarge / kTooSmall.
Status check_size(const Policy& policy, uint64_t size);

// The `key` field with "${filename}" replaced by the uploaded file's name.
std::string resolve_key(std::string_view key, std::string_view filename);

}  // namespace up::dialects::openim::s3
