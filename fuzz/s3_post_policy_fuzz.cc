// libFuzzer target for the S3 POST policy verifier of the OpenIM dialect
// (src/dialects/openim/post_policy.h): policy documents, expirations,
// credentials and whole forms are untrusted.
//
// Input: form fields, one "name=value" per line; the first line is also tried
// as a policy document (raw JSON, base64-encoded here) and as an expiration
// and a credential. Checks:
//   - nothing crashes, whatever the fields;
//   - a parsed expiration formats back (policy_expiration) to a string that
//     parses to the same time;
//   - a form the fuzzer signed correctly never fails with kGrantInvalid;
//   - a form that verifies has a non-empty key and size bounds in order.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/crypto.h"
#include "core/sigv4.h"
#include "dialects/openim/post_policy.h"
#include "fuzz_check.h"

namespace s3 = up::dialects::openim::s3;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view first = in.substr(0, in.find('\n'));

  if (auto t = s3::parse_expiration(first); t && *t >= 0 && *t < 253402300800000) {
    auto again = s3::parse_expiration(up::sigv4::policy_expiration(*t));
    FUZZ_CHECK(again && *again == *t, "an expiration formats back to itself");
  }
  (void)s3::parse_credential(first);
  const std::string policy_b64 = up::crypto::base64(first);
  auto policy = s3::parse_policy(policy_b64);
  if (policy && policy->length_range)
    FUZZ_CHECK(policy->length_range->first <= policy->length_range->second,
               "length range in order");
  (void)s3::parse_policy(first);

  s3::FormFields fields;
  size_t start = in.find('\n') == std::string_view::npos ? in.size() : in.find('\n') + 1;
  while (start < in.size()) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = in.substr(start, end - start);
    const size_t eq = line.find('=');
    if (eq != std::string_view::npos)
      (void)fields.add(line.substr(0, eq), std::string(line.substr(eq + 1)));
    start = end + 1;
  }
  // Sign the first line as the policy when the fields carry a usable credential.
  const bool can_sign = !fields.find("policy") && !fields.find("x-amz-signature");
  std::string signature;
  if (can_sign) {
    if (const std::string* cred = fields.find("x-amz-credential")) {
      if (auto c = s3::parse_credential(*cred)) {
        (void)fields.add("policy", policy_b64);
        signature = up::sigv4::signature("fuzz-secret", c->date, c->region, policy_b64);
        (void)fields.add("x-amz-signature", signature);
      }
    }
  }
  auto verified = s3::verify_signature(fields, "fuzz-secret", 1'700'000'000'000);
  if (!signature.empty() && !verified)
    FUZZ_CHECK(verified.error().code != up::Errc::kGrantInvalid,
               "a correctly signed form passes the signature check");
  if (verified) {
    FUZZ_CHECK(!verified->key.empty(), "a verified form has a key");
    FUZZ_CHECK(!verified->max_size || verified->min_size <= *verified->max_size,
               "size bounds in order");
    (void)s3::check_conditions(verified->policy, fields, "bucket", "f.txt", false);
    (void)s3::check_conditions(verified->policy, fields, "bucket", "f.txt", true);
    (void)s3::check_size(verified->policy, in.size());
  }
  return 0;
}
