#include "core/sigv4.h"

#include <gtest/gtest.h>

#include "core/crypto.h"

namespace up::sigv4 {
namespace {

constexpr UnixMs kNow = 1'764'620'000'000;  // 2025-12-01T20:13:20Z

TEST(SigV4Test, SigningKeyMatchesAwsDocumentedExample) {
  // docs.aws.amazon.com "Deriving the signing key" example.
  EXPECT_EQ(crypto::to_hex(signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                       "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4Test, TimeFormatsAndScope) {
  EXPECT_EQ(amz_date(kNow), "20251201T201320Z");
  EXPECT_EQ(policy_expiration(kNow + 5), "2025-12-01T20:13:20.005Z");
  EXPECT_EQ(scope("20251201", "eu-west-1"), "20251201/eu-west-1/s3/aws4_request");
  EXPECT_EQ(uri_encode("a b/c~d*", true), "a%20b/c~d%2A");
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
}

TEST(SigV4Test, PostFormIsMinioGoByteForByte) {
  PostFormRequest r;
  r.bucket = "openim";
  r.key = "openim/direct/20251201/u1/abc.png";
  r.content_type = "image/png";
  r.max_size = 1000;
  r.now = kNow;
  r.expires_at = kNow + 600'000;
  r.access_key_id = "UPGTESTKEY";
  r.secret_key = "test-secret-key";
  r.region = "us-east-1";
  const Fields form = post_form(r);
  std::vector<std::string> names;
  names.reserve(form.size());
  for (const auto& [k, v] : form) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"key", "bucket", "success_action_status",
                                             "Content-Type", "policy", "x-amz-algorithm",
                                             "x-amz-credential", "x-amz-date", "x-amz-signature"}));
  std::string text;
  ASSERT_TRUE(crypto::base64_decode(form[4].second, text));
  EXPECT_EQ(
      text,
      R"({"expiration":"2025-12-01T20:23:20.000Z","conditions":[["eq","$key","openim/direct/20251201/u1/abc.png"],)"
      R"(["eq","$success_action_status","200"],["eq","$Content-Type","image/png"],["eq","$bucket","openim"],)"
      R"(["eq","$x-amz-date","20251201T201320Z"],["eq","$x-amz-algorithm","AWS4-HMAC-SHA256"],)"
      R"(["eq","$x-amz-credential","UPGTESTKEY/20251201/us-east-1/s3/aws4_request"],["content-length-range", 0, 1000]]})");
  EXPECT_EQ(form[8].second, signature("test-secret-key", "20251201", "us-east-1", form[4].second));
}

TEST(SigV4Test, PostFormEscapesItsStrings) {
  PostFormRequest r;
  r.key = "a\"b\\c";
  r.bucket = "b";
  const Fields form = post_form(r);
  std::string text;
  ASSERT_TRUE(crypto::base64_decode(form[3].second, text));
  EXPECT_NE(text.find(R"(["eq","$key","a\"b\\c"])"), std::string::npos) << text;
}

}  // namespace
}  // namespace up::sigv4
