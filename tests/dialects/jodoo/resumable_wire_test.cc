#include "dialects/jodoo/resumable_wire.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/crypto.h"

namespace up::dialects::jodoo {
namespace {

using Kind = ResumableToken::Kind;

ResumableToken block() {
  ResumableToken t;
  t.kind = Kind::kBlock;
  t.tenant_id = "acme";
  t.app_id = "crm";
  t.id = "0123abcd";
  t.size = 4194304;
  t.offset = 1000;
  t.expires_s = 2000;
  return t;
}

TEST(ResumableWireTest, TokensRoundTripAndRefuseForgeriesOtherKindsAndExpiry) {
  const std::string text = encode_resumable_token(block(), "key");
  // Path-safe, and never a ',' (mkfile joins ctxs with it).
  EXPECT_EQ(
      text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
      std::string::npos);
  EXPECT_EQ(resumable_token_tenant(text), "acme");
  auto t = decode_resumable_token(text, "key", Kind::kBlock, 2000);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->id, "0123abcd");
  EXPECT_EQ(t->size, 4194304u);
  EXPECT_EQ(t->offset, 1000u);

  EXPECT_FALSE(decode_resumable_token(text, "other key", Kind::kBlock, 0));
  EXPECT_FALSE(decode_resumable_token(text, "key", Kind::kMultipart, 0));
  auto late = decode_resumable_token(text, "key", Kind::kBlock, 2001);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Errc::kFailedPrecondition);
  EXPECT_EQ(late.error().message.rfind("expired context create at ", 0), 0u);
  for (const std::string& bad : {std::string(), std::string("."), text.substr(1), text + "x",
                                 std::string(2000, 'A') + ".AA"}) {
    auto r = decode_resumable_token(bad, "key", Kind::kBlock, 0);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message, "decode ctx failed");
  }
}

TEST(ResumableWireTest, MkfilePathNamesAndValues) {
  // QN's order, padded values; `dir/文件.bin` is ZGlyL-aWh-S7ti5iaW4= (spec §2).
  auto p = parse_mkfile_path(
      "1234/key/ZGlyL-aWh-S7ti5iaW4=/mimeType/" + crypto::base64url("text/plain", true) +
      "/fname/" + crypto::base64url("a.txt", false) + "/x:who/" + crypto::base64url("me", true) +
      "/x-qn-meta-k/" + crypto::base64url("v", true) + "/other/" +
      crypto::base64url("ignored", true));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->file_size, 1234u);
  EXPECT_EQ(p->key, "dir/文件.bin");
  EXPECT_EQ(p->mime_type, "text/plain");
  EXPECT_EQ(p->fname, "a.txt");
  EXPECT_EQ(p->vars, (std::map<std::string, std::string>{{"x-qn-meta-k", "v"}, {"x:who", "me"}}));
  auto bare = parse_mkfile_path("0");
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->key);
  for (const char* bad : {"", "x", "12/key", "12/key/%%%", "-1", "99999999999999999999999"})
    EXPECT_FALSE(parse_mkfile_path(bad)) << bad;
}

TEST(ResumableWireTest, EtagV2VectorsAndLayouts) {
  // spec §5: 5 MiB of zeros as five 1 MiB parts, and as one 5 MiB part.
  const std::string mib(1 << 20, '\0');
  const std::string part = crypto::base64url("\x16" + crypto::sha1(mib), true);
  const std::vector<std::string> five(5, part);
  EXPECT_EQ(qiniu_etag_v2(five).value(), "nh-1WgCDgdWnTWmrzJIAB8qrEJWt");
  const std::string zeros5(5 << 20, '\0');
  const std::string big =
      crypto::base64url("\x96" + crypto::sha1(crypto::sha1(zeros5.substr(0, 4 << 20)) +
                                              crypto::sha1(zeros5.substr(4 << 20))),
                        true);
  EXPECT_EQ(qiniu_etag_v2(std::vector<std::string>{big}).value(), "nukH1NCKrGHM2Z4wgld-sfzD28_e");
  EXPECT_FALSE(qiniu_etag_v2(std::vector<std::string>{"short"}));

  const uint64_t b = kQiniuBlockBytes;
  EXPECT_TRUE(qetag_layout(std::vector<uint64_t>{}));
  EXPECT_TRUE(qetag_layout(std::vector<uint64_t>{b, b, 1}));
  EXPECT_TRUE(qetag_layout(std::vector<uint64_t>{b}));
  EXPECT_FALSE(qetag_layout(std::vector<uint64_t>{b + 1}));
  EXPECT_FALSE(qetag_layout(std::vector<uint64_t>{1 << 20, 1 << 20}));
}

}  // namespace
}  // namespace up::dialects::jodoo
