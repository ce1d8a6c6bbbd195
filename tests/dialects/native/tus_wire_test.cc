// tus's wire format (src/dialects/native/tus_wire.h) and its statuses (errors.h).

#include "dialects/native/tus_wire.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "dialects/native/errors.h"

namespace up::dialects::native::tus {
namespace {

TEST(TusWireTest, UploadTokensRoundTripAndRefuseTampering) {
  UploadToken t;
  t.tenant_id = "acme";
  t.app_id = "photos";
  t.id = "01jd8x6q4f3m2k9v7w5t1r0pyz";
  t.length = 300000;
  t.max_bytes = 1 << 20;
  t.metadata = "filename YS50eHQ=";
  t.name = "a.txt";
  t.expires_at = 1'796'300'000'000;
  t.concat = Concat::kPartial;
  t.grant_id = "g1";
  const std::string token = encode_upload_token(t, "k");
  auto back = decode_upload_token(token, "k");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->tenant_id, "acme");
  EXPECT_EQ(back->length, 300000u);
  EXPECT_EQ(back->concat, Concat::kPartial);
  EXPECT_EQ(back->metadata, t.metadata);
  EXPECT_FALSE(decode_upload_token(token, "other").has_value());
  std::string tampered = token;
  tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(decode_upload_token(tampered, "k").has_value());
  t.length.reset();  // deferred
  EXPECT_FALSE(decode_upload_token(encode_upload_token(t, "k"), "k")->length.has_value());

  UploadGrant g{"acme", "photos", "g1", "key1", 100, 5};
  const std::string grant = encode_grant(g, "k");
  EXPECT_TRUE(grant.starts_with("ugr_"));
  EXPECT_EQ(decode_grant(grant, "k")->max_bytes, 100u);
  EXPECT_FALSE(decode_grant(grant, "other").has_value());
  EXPECT_FALSE(decode_grant(grant.substr(4), "k").has_value());
}

TEST(TusWireTest, HeaderValues) {
  auto m = parse_metadata("filename d29ybGQ=, is_confidential ,filetype dGV4dC9wbGFpbg==");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->at("filename"), "world");
  EXPECT_EQ(m->at("is_confidential"), "");
  EXPECT_EQ(m->at("filetype"), "text/plain");
  EXPECT_FALSE(parse_metadata("a YQ==,a Yg==").has_value());
  EXPECT_FALSE(parse_metadata("a !!").has_value());

  auto c = parse_checksum("sha1 " + crypto::base64(crypto::sha1("x")));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->digest, crypto::sha1("x"));
  EXPECT_FALSE(parse_checksum("crc32 AAAAAA==").has_value());
  EXPECT_FALSE(parse_checksum("md5 " + crypto::base64(crypto::sha1("x"))).has_value());

  auto f = parse_concat("final;https://h.example/v1/tus/a.b /v1/tus/c.d");
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->tokens, (std::vector<std::string>{"a.b", "c.d"}));
  EXPECT_EQ(parse_concat("partial")->kind, Concat::kPartial);
  EXPECT_FALSE(parse_concat("final;").has_value());
  EXPECT_FALSE(parse_concat("final;/files/a").has_value());

  EXPECT_EQ(*parse_size("0", "Upload-Offset"), 0u);
  EXPECT_FALSE(parse_size("-1", "Upload-Offset").has_value());
  EXPECT_FALSE(parse_size("1 ", "Upload-Offset").has_value());
  EXPECT_EQ(http_date(784'111'777'000), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(TusWireTest, TusStatuses) {
  EXPECT_EQ(tus_status(Error{Errc::kChecksumMismatch, ""}), 460);
  EXPECT_EQ(tus_status(Error{Errc::kGrantExpired, ""}), 410);
  EXPECT_EQ(tus_status(Error{Errc::kBadContentType, ""}), 415);
  EXPECT_EQ(tus_status(Error{Errc::kFailedPrecondition, ""}), 409);
  EXPECT_EQ(tus_status(Error{Errc::kTooLarge, ""}), 413);
  auto r = tus_error_response(Error{Errc::kNotFound, "no such upload"});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"code":1300,"msg":"no such upload"})");
  EXPECT_EQ(tus_version_mismatch().status, 412);
}

}  // namespace
}  // namespace up::dialects::native::tus
