#include "dialects/openim/wire_ids.h"

#include <gtest/gtest.h>

#include "core/crypto.h"

namespace up::dialects::openim {
namespace {

TEST(FormIdTest, IsUnpaddedStdBase64OfOpenImJson) {
  FormId id;
  id.name = "u1/a.png";
  id.size = 5;
  id.content_type = "image/png";
  id.group = "g";
  id.key = "k";
  // Go: base64.RawStdEncoding of {"name","size","contentType","group","key"}.
  EXPECT_EQ(encode_form_id(id),
            "eyJuYW1lIjoidTEvYS5wbmciLCJzaXplIjo1LCJjb250ZW50VHlwZSI6ImltYWdlL3BuZyIsImdyb3VwIjoiZy"
            "IsImtleSI6ImsifQ");
  auto back = decode_form_id(encode_form_id(id));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, "u1/a.png");
  EXPECT_EQ(back->size, 5);
  EXPECT_EQ(back->content_type, "image/png");
  EXPECT_EQ(back->group, "g");
  EXPECT_EQ(back->key, "k");
  // A padded id (another encoder) reads the same.
  EXPECT_TRUE(decode_form_id(encode_form_id(id) + "=="));
}

TEST(FormIdTest, DirectFormsCarryTheirSignedBlob) {
  FormId id;
  id.name = "a.png";
  id.size = 5;
  id.key = "openim/direct/20261203/u1/x.png";
  id.blob = "01m8xhb7ej484nsnkd1fbrhyx4";
  id.blob_signature = direct_form_signature("app-key", id);
  auto back = decode_form_id(encode_form_id(id));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->blob, id.blob);
  EXPECT_EQ(direct_form_signature("app-key", *back), id.blob_signature);
  // Another blob, size, key or signing key: another signature.
  for (auto change : {+[](FormId& f) { f.blob = "01m8xhb7ej484nsnkd1fbrhyx5"; },
                      +[](FormId& f) { f.size = 6; }, +[](FormId& f) { f.key += "x"; }}) {
    FormId other = *back;
    change(other);
    EXPECT_NE(direct_form_signature("app-key", other), id.blob_signature);
  }
  EXPECT_NE(direct_form_signature("other-key", *back), id.blob_signature);
  // Upgate's own form ids stay OpenIM's five members.
  FormId plain = id;
  plain.blob.clear();
  EXPECT_EQ(encode_form_id(plain).find("blob"), std::string::npos);
}

TEST(FormIdTest, GarbageRefused) {
  for (const std::string& bad :
       {std::string(), std::string("%%%"), crypto::base64("[1]"), crypto::base64("{}"),
        crypto::base64(R"({"name":"a","key":"k"})"),
        crypto::base64(R"({"name":"a","size":"5","key":"k"})"),
        crypto::base64(R"({"name":"","size":5,"key":"k"})"), crypto::base64("{\"name\":")}) {
    auto r = decode_form_id(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  }
}

TokenClaims claims() {
  TokenClaims c;
  c.user_id = "imAdmin";
  c.platform_id = 0;
  c.tenant_id = "acme";
  c.app_id = "im";
  c.key_id = "key1";
  c.admin = true;
  c.issued_at = 1000;
  c.not_before = 1000;
  c.expires_at = 2000;
  return c;
}

TEST(TokenTest, RoundTripAndWindow) {
  const std::string t = issue_token(claims(), "k");
  auto c = read_token(t);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user_id, "imAdmin");
  EXPECT_EQ(c->tenant_id, "acme");
  EXPECT_EQ(c->app_id, "im");
  EXPECT_EQ(c->key_id, "key1");
  EXPECT_TRUE(c->admin);
  EXPECT_TRUE(verify_token(t, *c, "k", 1'500'000));
  EXPECT_EQ(verify_token(t, *c, "k", 999'999).error(), TokenFault::kNotValidYet);
  EXPECT_EQ(verify_token(t, *c, "k", 2'000'000).error(), TokenFault::kExpired);
  EXPECT_EQ(verify_token(t, *c, "other", 1'500'000).error(), TokenFault::kInvalid);
}

TEST(TokenTest, ForgedClaimsFailTheSignature) {
  const std::string t = issue_token(claims(), "k");
  TokenClaims forged = claims();
  forged.user_id = "someone";
  const std::string other = issue_token(forged, "wrong");
  // Claims of one token with the signature of another.
  const std::string spliced = other.substr(0, other.rfind('.')) + t.substr(t.rfind('.'));
  auto c = read_token(spliced);
  ASSERT_TRUE(c);
  EXPECT_EQ(verify_token(spliced, *c, "k", 1'500'000).error(), TokenFault::kInvalid);
}

TEST(TokenTest, MalformedTokens) {
  const std::string t = issue_token(claims(), "k");
  for (const std::string& bad :
       {std::string(), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"), t + ".x",
        std::string("!.!.!"),
        crypto::base64url(R"({"alg":"none"})", false) + "." + t.substr(t.find('.') + 1),
        t.substr(0, t.find('.')) + "." + crypto::base64url("{}", false) + ".sig"})
    EXPECT_EQ(read_token(bad).error(), TokenFault::kMalformed) << bad;
}

TEST(AccessKeyTest, RoundTrip) {
  const std::string ak = access_key_id("acme", "im.app-1");
  EXPECT_TRUE(ak.starts_with("UPG"));
  std::string t, a;
  ASSERT_TRUE(parse_access_key_id(ak, t, a));
  EXPECT_EQ(t, "acme");
  EXPECT_EQ(a, "im.app-1");
  for (const char* bad : {"", "UPG", "AKIA1234", "UPG6", "UPG616", "UPG2F61", "UPG612F",
                          "UPG612F622F63", "UPGZZ2F61"})
    EXPECT_FALSE(parse_access_key_id(bad, t, a)) << bad;
}

TEST(UploadIdTest, SignedRoundTripAndPartArithmetic) {
  MultipartUpload u;
  u.tenant_id = "acme";
  u.app_id = "im";
  u.user_id = "u1";
  u.hash = std::string(32, 'a');
  u.size = 2 * 5242880 + 1000;
  u.part_size = 5242880;
  u.expires_at = 1'800'000'000'000;
  u.nonce = "n1";
  EXPECT_EQ(u.part_count(), 3);
  EXPECT_EQ(u.part_length(1), 5242880);
  EXPECT_EQ(u.part_length(3), 1000);
  const std::string id = encode_upload_id(u, "k");
  auto back = read_upload_id(id);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->user_id, "u1");
  EXPECT_EQ(back->size, u.size);
  EXPECT_EQ(back->expires_at, u.expires_at);
  EXPECT_TRUE(verify_upload_id(id, "k"));
  EXPECT_EQ(verify_upload_id(id, "other").error().code, Errc::kGrantInvalid);
  // Claims of one id with the signature of another.
  MultipartUpload bigger = u;
  bigger.size *= 2;
  const std::string other = encode_upload_id(bigger, "k");
  EXPECT_FALSE(verify_upload_id(other.substr(0, other.find('.')) + id.substr(id.find('.')), "k"));
  for (const std::string& bad :
       {std::string(), std::string("x"), std::string("a.b.c"), id.substr(1),
        crypto::base64url(R"({"t":"a","a":"b","h":"c","s":10,"p":0,"e":1})", false) + ".s",
        crypto::base64url(R"({"t":"a","a":"b","h":"c","s":10000000,"p":1,"e":1})", false) + ".s"})
    EXPECT_FALSE(read_upload_id(bad)) << bad;
  EXPECT_NE(part_signature("k", id, 1, 100), part_signature("k", id, 2, 100));
  EXPECT_NE(part_signature("k", id, 1, 100), part_signature("k", id, 1, 101));
}

}  // namespace
}  // namespace up::dialects::openim
