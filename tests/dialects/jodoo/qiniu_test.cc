#include "dialects/jodoo/qiniu.h"

#include <map>
#include <string>

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/uploads.h"

namespace up::dialects::jodoo {
namespace {

// The first token of the vendor doc's sample response (seeds/000_*).
constexpr const char* kDocToken =
    "bM7UwVPyBBdPaleBZt21SWKzMy2qPUpn-05jZlas:ELIqACNut-t52UMPD-DZNrX8hTU=:"
    "eyJmc2l6ZU1pbiI6MSwiZnNpemVMaW1pdCI6MjA5NzE1MjAwLCJjYWxsYmFja0JvZHlUeXBlIjoiYXBwbGljYXRpb24van"
    "NvbiIsImNhbGxiYWNr"
    "Qm9keSI6IntcImFwcElkXCI6XCI2MWFjNzcxNTE0MjU3NDM2ODhlZWMwYzRcIixcImVudHJ5SWRcIjpcIjYxYWM3NzNhMT"
    "QyNTc0MzY4OGVlYzBj"
    "N1wiLFwia2V5XCI6XCIkKGtleSlcIixcImhhc2hcIjpcIiQoZXRhZylcIixcIm5hbWVcIjpcIiQoZm5hbWUpXCIsXCJzaX"
    "plXCI6XCIkKGZzaXpl"
    "KVwiLFwibWltZVwiOlwiJChtaW1lVHlwZSlcIixcImJ1Y2tldFwiOlwiamR5LWZpbGVcIixcInVwbG9hZGVyXCI6XCI2MT"
    "FhMmQzNjRmMzQ3MDAw"
    "MDY3NWM5ZGRcIixcInNlc3Npb25JZFwiOlwic3NkXCJ9IiwiY2FsbGJhY2tIb3N0IjoiNTA3NS0xMTQtMjI0LTE3LTIxNi"
    "5uZ3Jvay5pbyIsImNh"
    "bGxiYWNrVXJsIjoiaHR0cDovLzUwNzUtMTE0LTIyNC0xNy0yMTYubmdyb2suaW8vZmlsZS91cGxvYWQvYXBpX2NhbGxiYW"
    "NrIiwiZm9yY2VTYXZl"
    "S2V5Ijp0cnVlLCJzYXZlS2V5IjoiYTJjOTkwY2ItMTlhZS00NDgwLTkyYzYtZDI3N2I5ZGQ2MmFhIiwic2NvcGUiOiJkbi"
    "1qZHktdXBsb2FkIiwi"
    "ZGVhZGxpbmUiOjE2Mzk0ODU2NjV9";

TEST(QiniuTokenTest, ParsesTheVendorDocToken) {
  auto t = parse_upload_token(kDocToken);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->access_key, "bM7UwVPyBBdPaleBZt21SWKzMy2qPUpn-05jZlas");
  EXPECT_EQ(t->sign, "ELIqACNut-t52UMPD-DZNrX8hTU=");
  const PutPolicy& p = t->policy;
  EXPECT_EQ(p.scope, "dn-jdy-upload");
  EXPECT_EQ(p.bucket(), "dn-jdy-upload");
  EXPECT_FALSE(p.scoped_key());
  EXPECT_EQ(p.save_key, "a2c990cb-19ae-4480-92c6-d277b9dd62aa");
  EXPECT_TRUE(p.force_save_key);
  EXPECT_EQ(p.fsize_min, 1u);
  EXPECT_EQ(p.fsize_limit, 209715200u);
  EXPECT_EQ(p.deadline, 1639485665);
  EXPECT_EQ(p.callback_url, "http://5075-114-224-17-216.ngrok.io/file/upload/api_callback");
  EXPECT_EQ(p.callback_host, "5075-114-224-17-216.ngrok.io");
  EXPECT_EQ(p.callback_body_type, "application/json");
  EXPECT_NE(p.callback_body.find(R"j("key":"$(key)")j"), std::string::npos);
}

// Expected values computed with Python's hmac/base64 (urlsafe, padded).
TEST(QiniuTokenTest, SignsLikeTheSdk) {
  const std::string policy = R"({"scope":"my-bucket","deadline":1451491200})";
  const std::string token = make_upload_token("AK", "MY_SECRET_KEY", policy);
  EXPECT_EQ(token,
            "AK:0K-i06lPC9Ew-TiiD2T4S4YLn3g=:"
            "eyJzY29wZSI6Im15LWJ1Y2tldCIsImRlYWRsaW5lIjoxNDUxNDkxMjAwfQ==");
  auto parsed = parse_upload_token(token);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(signature_matches(*parsed, "MY_SECRET_KEY"));
  EXPECT_FALSE(signature_matches(*parsed, "OTHER_KEY"));
  EXPECT_EQ(qbox_authorization("AK", "MY_SECRET_KEY", "/callback?a=1", "key=x&hash=y"),
            "QBox AK:uoeOPiW2ufJzH0Z_5TEI4TuhSFg=");
}

TEST(QiniuTokenTest, MinterMakesTokensThatDifferOnlyInSaveKey) {
  PutPolicy p;
  p.scope = "acme.photos";
  p.force_save_key = true;
  p.fsize_min = 1;
  p.fsize_limit = 1024;
  p.deadline = 2000000000;
  p.callback_body = R"j({"key":"$(key)","name":"a \"quoted\" name"})j";
  p.callback_body_type = "application/json";
  p.transaction_id = "tx-1";
  TokenMinter minter("acme.v1", "secret", p);
  // UUIDs take the precomputed path; other lengths the plain one.
  for (const char* key : {"11111111-2222-4333-8444-555555555555",
                          "aaaaaaaa-bbbb-4ccc-9ddd-eeeeeeeeeeee", "k", "key-5"}) {
    auto t = parse_upload_token(minter.token(key));
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_TRUE(signature_matches(*t, "secret"));
    EXPECT_EQ(t->access_key, "acme.v1");
    EXPECT_EQ(t->policy.save_key, key);
    EXPECT_EQ(t->policy.scope, "acme.photos");
    EXPECT_EQ(t->policy.fsize_limit, 1024u);
    EXPECT_EQ(t->policy.callback_body, p.callback_body);
    EXPECT_EQ(t->policy.transaction_id, "tx-1");
    EXPECT_TRUE(t->policy.force_save_key);
    // The same policy as serializing it whole with that saveKey (white space aside).
    PutPolicy with_key = p;
    with_key.save_key = key;
    std::string decoded;
    const std::string token = minter.token(key);
    ASSERT_TRUE(crypto::base64_decode(token.substr(token.rfind(':') + 1), decoded));
    EXPECT_EQ(boost::json::parse(decoded), boost::json::parse(policy_json(with_key)));
    EXPECT_EQ(
        token.substr(token.find(':') + 1, 28),
        crypto::base64url(crypto::hmac_sha1("secret", token.substr(token.rfind(':') + 1)), true));
  }
}

TEST(QiniuTokenTest, RefusesMalformedTokens) {
  const std::string good_policy = crypto::base64url(R"({"scope":"b","deadline":5})", true);
  for (const std::string& bad :
       {std::string(), std::string("nocolons"), std::string("a:b"), std::string("a:b:c:d"),
        std::string(":s:p"), std::string("ak:sig:!!!notbase64"),
        "ak:sig:" + crypto::base64url("[1,2]", true),
        "ak:sig:" + crypto::base64url(R"({"deadline":5})", true),                // no scope
        "ak:sig:" + crypto::base64url(R"({"scope":"b"})", true),                 // no deadline
        "ak:sig:" + crypto::base64url(R"({"scope":"b","deadline":"5"})", true),  // wrong type
        "ak:sig:" + crypto::base64url(R"({"scope":"b","deadline":5,"fsizeLimit":-1})", true),
        "ak:sig:" + crypto::base64url(R"({"scope":":k","deadline":5})", true),  // empty bucket
        "ak:sig:" + std::string(kMaxTokenBytes, 'A')}) {
    auto t = parse_upload_token(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code, Errc::kGrantInvalid);
  }
  EXPECT_TRUE(parse_upload_token("ak:sig:" + good_policy));
  EXPECT_EQ(parse_upload_token("").error().message, "token not specified");
}

TEST(QiniuTokenTest, ScopeWithKeyPinsTheKey) {
  auto t = parse_upload_token("ak:sig:" +
                              crypto::base64url(R"({"scope":"b:dir/x.png","deadline":5})", true));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->policy.bucket(), "b");
  EXPECT_EQ(t->policy.scoped_key(), "dir/x.png");
}

std::map<std::string, std::string> vars() {
  return {{"key", "k1"}, {"fname", "a \"b\"&c.txt"}, {"fsize", "11"}, {"x:user", "u 1"}};
}

std::optional<std::string> lookup(std::string_view name) {
  static const auto v = vars();
  auto it = v.find(std::string(name));
  if (it == v.end()) return std::nullopt;
  return it->second;
}

TEST(MagicVariablesTest, SubstitutesBothBracketFormsWithJsonEscaping) {
  auto out = substitute_magic_variables(
      R"j({"key":"$(key)","name":"${fname}","size":"$(fsize)","u":"$(x:user)","n":"$(nope)"})j",
      lookup, BodyEscape::kJsonString);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"key":"k1","name":"a \"b\"&c.txt","size":"11","u":"u 1","n":""})");
  boost::system::error_code ec;
  boost::json::parse(*out, ec);
  EXPECT_FALSE(ec);
}

TEST(MagicVariablesTest, FormEncodesForUrlEncodedBodies) {
  auto out = substitute_magic_variables("key=$(key)&name=$(fname)&u=$(x:user)", lookup,
                                        BodyEscape::kFormUrlEncoded);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "key=k1&name=a%20%22b%22%26c.txt&u=u%201");
}

TEST(MagicVariablesTest, LeavesMalformedVariablesAlone) {
  EXPECT_EQ(*substitute_magic_variables("$ $(key $(key) $", lookup, BodyEscape::kNone),
            "$ $(key k1 $");
  EXPECT_EQ(*substitute_magic_variables("$() ${a b} $(x:user", lookup, BodyEscape::kNone),
            "$() ${a b} $(x:user");
  EXPECT_EQ(*substitute_magic_variables("cost: $5 $(key)", lookup, BodyEscape::kNone),
            "cost: $5 k1");
  EXPECT_EQ(
      *substitute_magic_variables("$(" + std::string(200, 'a') + ")", lookup, BodyEscape::kNone),
      "$(" + std::string(200, 'a') + ")");
}

TEST(MagicVariablesTest, RefusesAnOversizedResult) {
  auto out = substitute_magic_variables("$(fname)$(fname)$(fname)", lookup, BodyEscape::kNone, 20);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Errc::kTooLarge);
}

TEST(QiniuCrc32FieldTest, ParsesDecimalUnsigned32) {
  EXPECT_EQ(parse_crc32_field("222957957"), 222957957u);  // "hello world", as the SDK sends it
  EXPECT_EQ(parse_crc32_field("4294967295"), 4294967295u);
  EXPECT_EQ(parse_crc32_field("0"), 0u);
  for (const char* bad : {"", "4294967296", "-1", "0x1f", "12a", "99999999999"})
    EXPECT_FALSE(parse_crc32_field(bad)) << bad;
  EXPECT_EQ(crypto::crc32_update(0, "hello world"), 222957957u);
}

// Qiniu etag: the spec's vectors, and a 9 MiB payload (three 4 MiB blocks,
// the last one partial) against an independent computation.
std::string reference_etag(const std::string& data) {
  auto sha1 = [](std::string_view s) {
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
    return std::string(reinterpret_cast<char*>(d), sizeof d);
  };
  constexpr size_t kBlock = 4 << 20;
  if (data.size() <= kBlock) return crypto::base64url("\x16" + sha1(data), true);
  std::string digests;
  for (size_t i = 0; i < data.size(); i += kBlock)
    digests += sha1(std::string_view(data).substr(i, kBlock));
  return crypto::base64url("\x96" + sha1(digests), true);
}

TEST(QiniuEtagTest, MatchesTheKnownVectorsAndA9MiBFile) {
  EXPECT_EQ(core::qiniu_etag(""), "Fto5o-5ea0sNMlW_75VgGJCv2AcJ");
  EXPECT_EQ(core::qiniu_etag("hello world"), "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
  EXPECT_EQ(reference_etag("hello world"), "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
  std::string big(9 << 20, '\0');
  uint32_t x = 12345;
  for (char& c : big) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  const std::string want = reference_etag(big);
  EXPECT_EQ(want[0], 'l');  // 0x96 prefix: the multi-block form
  EXPECT_EQ(core::qiniu_etag(big), want);
  // Exactly one block is still the single-block form.
  EXPECT_EQ(core::qiniu_etag(big.substr(0, 4 << 20)), reference_etag(big.substr(0, 4 << 20)));
  EXPECT_EQ(core::qiniu_etag(big.substr(0, 4 << 20))[0], 'F');
}

}  // namespace
}  // namespace up::dialects::jodoo
