#include "dialects/openim/post_policy.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "core/sigv4.h"

namespace up::dialects::openim::s3 {
namespace {

constexpr UnixMs kNow = 1'764'620'000'000;  // 2025-12-01T20:13:20Z
constexpr const char* kSecret = "test-secret-key";
constexpr const char* kAk = "UPGTESTKEY";

// The form builder is core's (tests/core/sigv4_test.cc checks its bytes);
// here it makes the forms the verifier must accept.
using sigv4::amz_date;
using sigv4::policy_expiration;
using sigv4::post_form;
using sigv4::PostFormRequest;

PostFormRequest minio_request() {
  PostFormRequest r;
  r.bucket = "openim";
  r.key = "openim/direct/20251201/u1/abc.png";
  r.content_type = "image/png";
  r.max_size = 1000;
  r.now = kNow;
  r.expires_at = kNow + 600'000;
  r.access_key_id = kAk;
  r.secret_key = kSecret;
  r.region = "us-east-1";
  return r;
}

FormFields fields_of(const std::vector<std::pair<std::string, std::string>>& form) {
  FormFields f;
  for (const auto& [k, v] : form) EXPECT_TRUE(f.add(k, v).has_value()) << k;
  return f;
}

// A form the way @aws-sdk/s3-presigned-post builds it: X-Amz-* and Policy
// spellings, object conditions, an expiration without milliseconds.
FormFields aws_sdk_form(const std::string& conditions_extra = "",
                        const std::string& key_condition = R"({"key":"uploads/a.txt"})",
                        UnixMs expires = kNow + 3'600'000) {
  const std::string date = amz_date(kNow);
  const std::string credential =
      std::string(kAk) + "/" + date.substr(0, 8) + "/us-east-1/s3/aws4_request";
  std::string exp = policy_expiration(expires);
  exp = exp.substr(0, 19) + "Z";
  const std::string policy_json =
      R"({"expiration":")" + exp + R"(","conditions":[)" + conditions_extra +
      R"({"bucket":"openim"},{"X-Amz-Algorithm":"AWS4-HMAC-SHA256"},{"X-Amz-Credential":")" +
      credential + R"("},{"X-Amz-Date":")" + date + R"("},)" + key_condition + "]}";
  const std::string policy = crypto::base64(policy_json);
  FormFields f;
  EXPECT_TRUE(f.add("bucket", "openim"));
  EXPECT_TRUE(f.add("X-Amz-Algorithm", "AWS4-HMAC-SHA256"));
  EXPECT_TRUE(f.add("X-Amz-Credential", credential));
  EXPECT_TRUE(f.add("X-Amz-Date", date));
  EXPECT_TRUE(f.add("key", "uploads/a.txt"));
  EXPECT_TRUE(f.add("Policy", policy));
  EXPECT_TRUE(
      f.add("X-Amz-Signature", sigv4::signature(kSecret, date.substr(0, 8), "us-east-1", policy)));
  return f;
}

TEST(PostPolicyTest, ExpirationForms) {
  EXPECT_EQ(parse_expiration("2025-12-01T20:13:20.005Z"), kNow + 5);
  EXPECT_EQ(parse_expiration("2025-12-01T20:13:20Z"), kNow);
  EXPECT_EQ(parse_expiration("2025-12-01T20:13:20.5Z"), kNow + 500);
  for (const char* bad : {"", "2025-12-01", "2025-12-01T20:13:20", "2025-12-01T20:13:20+01:00",
                          "2025-13-01T20:13:20Z", "2025-12-01T20:13:20.Z", "2025-12-01 20:13:20Z",
                          "x025-12-01T20:13:20Z"})
    EXPECT_FALSE(parse_expiration(bad).has_value()) << bad;
}

TEST(PostPolicyTest, OwnFormVerifies) {
  const FormFields f = fields_of(post_form(minio_request()));
  auto v = verify_signature(f, kSecret, kNow + 1000);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->key, "openim/direct/20251201/u1/abc.png");
  EXPECT_EQ(v->credential.access_key_id, kAk);
  EXPECT_EQ(v->max_size, 1000u);
  EXPECT_TRUE(check_conditions(v->policy, f, "openim", "abc.png", false));
  EXPECT_TRUE(check_conditions(v->policy, f, "openim", "abc.png", true));
  EXPECT_TRUE(check_size(v->policy, 0));
  EXPECT_TRUE(check_size(v->policy, 1000));
  EXPECT_EQ(check_size(v->policy, 1001).error().code, Errc::kTooLarge);
}

TEST(PostPolicyTest, AwsSdkSpellingVerifies) {
  const FormFields f =
      aws_sdk_form(R"(["content-length-range",0,50],["eq","$Content-Type","text/plain"],)");
  auto v = verify_signature(f, kSecret, kNow);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->policy.expiration, kNow + 3'600'000);
  // Content-Type has an eq condition but was not sent yet: fine before the file, not at the end.
  EXPECT_TRUE(check_conditions(v->policy, f, "openim", "a.txt", false));
  EXPECT_EQ(check_conditions(v->policy, f, "openim", "a.txt", true).error().code,
            Errc::kGrantScope);
  FormFields with_type = f;
  ASSERT_TRUE(with_type.add("Content-Type", "text/plain"));
  EXPECT_TRUE(check_conditions(v->policy, with_type, "openim", "a.txt", true));
  EXPECT_EQ(check_size(v->policy, 51).error().code, Errc::kTooLarge);
}

TEST(PostPolicyTest, ExpiredPolicyRefused) {
  const FormFields f = fields_of(post_form(minio_request()));
  auto v = verify_signature(f, kSecret, kNow + 600'000);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::kGrantExpired);
  EXPECT_NE(v.error().message.find("Policy expired"), std::string::npos);
}

TEST(PostPolicyTest, WrongSecretOrTamperedSignatureOrPolicyRefused) {
  const auto form = post_form(minio_request());
  EXPECT_EQ(verify_signature(fields_of(form), "other-secret", kNow).error().code,
            Errc::kGrantInvalid);
  for (const char* field : {"x-amz-signature", "policy"}) {
    auto tampered = form;
    for (auto& [k, v] : tampered)
      if (k == field) v[5] = v[5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(verify_signature(fields_of(tampered), kSecret, kNow).error().code,
              Errc::kGrantInvalid)
        << field;
  }
  // Upper-case hex is the same signature.
  auto upper = form;
  for (auto& [k, v] : upper)
    if (k == "x-amz-signature")
      for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(verify_signature(fields_of(upper), kSecret, kNow));
}

TEST(PostPolicyTest, KeyOutsideStartsWithRefused) {
  const FormFields f = aws_sdk_form("", R"(["starts-with","$key","uploads/"])");
  auto v = verify_signature(f, kSecret, kNow);
  ASSERT_TRUE(v);
  EXPECT_TRUE(check_conditions(v->policy, f, "openim", "a.txt", true));
  FormFields other;
  for (const auto& [k, val] : f.all())
    ASSERT_TRUE(other.add(k, k == "key" ? "private/a.txt" : val));
  auto st = check_conditions(v->policy, other, "openim", "a.txt", false);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kGrantScope);
  EXPECT_NE(st.error().message.find("$key"), std::string::npos);
}

TEST(PostPolicyTest, FilenameVariableIsSubstituted) {
  EXPECT_EQ(resolve_key("uploads/${filename}", "a b.txt"), "uploads/a b.txt");
  EXPECT_EQ(resolve_key("plain", "x"), "plain");
  FormFields f = aws_sdk_form("", R"(["starts-with","$key","uploads/"])");
  auto v = verify_signature(f, kSecret, kNow);
  ASSERT_TRUE(v);
  FormFields var;
  for (const auto& [k, val] : f.all())
    ASSERT_TRUE(var.add(k, k == "key" ? "uploads/${filename}" : val));
  EXPECT_TRUE(check_conditions(v->policy, var, "openim", "x.txt", true));
}

TEST(PostPolicyTest, UncoveredFieldRefused) {
  FormFields f = fields_of(post_form(minio_request()));
  ASSERT_TRUE(f.add("x-amz-meta-owner", "mallory"));
  auto v = verify_signature(f, kSecret, kNow);
  ASSERT_TRUE(v);
  auto st = check_conditions(v->policy, f, "openim", "abc.png", false);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kGrantScope);
  EXPECT_NE(st.error().message.find("x-amz-meta-owner"), std::string::npos);
  // x-ignore-* fields need no condition.
  FormFields ignored = fields_of(post_form(minio_request()));
  ASSERT_TRUE(ignored.add("x-ignore-note", "hi"));
  EXPECT_TRUE(check_conditions(v->policy, ignored, "openim", "abc.png", true));
}

TEST(PostPolicyTest, DuplicateFieldRefusedWhateverTheCase) {
  FormFields f;
  ASSERT_TRUE(f.add("Policy", "a"));
  auto st = f.add("policy", "b");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(f.add("POLICY", "c"));
  EXPECT_EQ(*f.find("policy"), "a");
}

TEST(PostPolicyTest, BucketMustMatchTheUrl) {
  const FormFields f = fields_of(post_form(minio_request()));
  auto v = verify_signature(f, kSecret, kNow);
  ASSERT_TRUE(v);
  EXPECT_EQ(check_conditions(v->policy, f, "other", "abc.png", false).error().code,
            Errc::kGrantScope);
}

TEST(PostPolicyTest, ChangedEqFieldRefused) {
  auto form = post_form(minio_request());
  for (auto& [k, v] : form)
    if (k == "Content-Type") v = "text/html";
  const FormFields f = fields_of(form);
  auto v = verify_signature(f, kSecret, kNow);
  ASSERT_TRUE(v);
  EXPECT_EQ(check_conditions(v->policy, f, "openim", "abc.png", false).error().code,
            Errc::kGrantScope);
}

TEST(PostPolicyTest, SizeBelowRangeRefused) {
  FormFields f = aws_sdk_form(R"(["content-length-range",10,50],)");
  auto v = verify_signature(f, kSecret, kNow);
  ASSERT_TRUE(v);
  EXPECT_EQ(check_size(v->policy, 9).error().code, Errc::kTooSmall);
  EXPECT_TRUE(check_size(v->policy, 10));
  EXPECT_EQ(v->min_size, 10u);
}

TEST(PostPolicyTest, MissingFieldsAreArgumentErrors) {
  const auto form = post_form(minio_request());
  for (const char* drop :
       {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "policy", "x-amz-signature", "key"}) {
    FormFields f;
    for (const auto& [k, value] : form) {
      if (k != drop) {
        ASSERT_TRUE(f.add(k, value));
      }
    }
    auto v = verify_signature(f, kSecret, kNow);
    ASSERT_FALSE(v) << drop;
    EXPECT_EQ(v.error().code, Errc::kInvalidArgument) << drop;
  }
}

TEST(PostPolicyTest, CredentialShape) {
  auto c = parse_credential("AK/20251201/eu-west-1/s3/aws4_request");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "AK");
  EXPECT_EQ(c->date, "20251201");
  EXPECT_EQ(c->region, "eu-west-1");
  for (const char* bad : {"", "AK", "AK/20251201/r/s3", "AK/2025120/r/s3/aws4_request",
                          "AK/2025120x/r/s3/aws4_request", "/20251201/r/s3/aws4_request",
                          "AK/20251201/r/iam/aws4_request", "AK/20251201//s3/aws4_request",
                          "AK/20251201/r/s3/aws4_request/x"})
    EXPECT_FALSE(parse_credential(bad)) << bad;
}

TEST(PostPolicyTest, MalformedPoliciesRefused) {
  for (
      const char* doc :
      {"", "[]", "{}", R"({"expiration":"2025-12-01T20:13:20Z"})",
       R"({"expiration":5,"conditions":[]})", R"({"expiration":"tomorrow","conditions":[]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":{}})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[5]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[{"a":"b","c":"d"}]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[{"a":5}]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[["eq","key","v"]]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[["in","$key","v"]]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[["eq","$key"]]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[["content-length-range",5,1]]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[["content-length-range",-1,1]]})",
       R"({"expiration":"2025-12-01T20:13:20Z","conditions":[["content-length-range",0,1],["content-length-range",0,2]]})"}) {
    EXPECT_FALSE(parse_policy(crypto::base64(doc))) << doc;
  }
  EXPECT_FALSE(parse_policy("!!!not base64"));
  auto p = parse_policy(crypto::base64(
      R"({"expiration":"2025-12-01T20:13:20Z","conditions":[["content-length-range","1","9"],["starts-with","$Key",""],{"Bucket":"b"}]})"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length_range, std::make_pair(uint64_t{1}, uint64_t{9}));
  ASSERT_EQ(p->conditions.size(), 2u);
  EXPECT_EQ(p->conditions[0].field, "key");
  EXPECT_EQ(p->conditions[1].field, "bucket");
}

}  // namespace
}  // namespace up::dialects::openim::s3
