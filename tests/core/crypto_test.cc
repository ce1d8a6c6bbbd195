#include "core/crypto.h"

#include <gtest/gtest.h>

#include "core/errors.h"
#include "core/ids.h"
#include "core/uploads.h"

namespace up {
namespace {

TEST(CryptoTest, KnownDigests) {
  EXPECT_EQ(crypto::to_hex(crypto::sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(crypto::to_hex(crypto::md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(crypto::to_hex(crypto::hmac_sha1("key", "The quick brown fox jumps over the lazy dog")),
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9");
  EXPECT_EQ(crypto::crc32_update(0, "123456789"), 0xCBF43926u);
  // Incremental CRC equals one-shot.
  EXPECT_EQ(crypto::crc32_update(crypto::crc32_update(0, "12345"), "6789"), 0xCBF43926u);
}

TEST(CryptoTest, Base64RoundTripsBothAlphabets) {
  const std::string raw("\xfb\xff\x00hello", 8);
  EXPECT_EQ(crypto::base64(raw), "+/8AaGVsbG8=");
  EXPECT_EQ(crypto::base64url(raw, true), "-_8AaGVsbG8=");
  EXPECT_EQ(crypto::base64url(raw, false), "-_8AaGVsbG8");
  std::string out;
  ASSERT_TRUE(crypto::base64_decode("-_8AaGVsbG8", out));
  EXPECT_EQ(out, raw);
  ASSERT_TRUE(crypto::base64_decode("+/8AaGVsbG8=", out));
  EXPECT_EQ(out, raw);
  EXPECT_FALSE(crypto::base64_decode("a$b=", out));
}

TEST(CryptoTest, ConstantTimeEquality) {
  EXPECT_TRUE(crypto::equal_constant_time("abc", "abc"));
  EXPECT_FALSE(crypto::equal_constant_time("abc", "abd"));
  EXPECT_FALSE(crypto::equal_constant_time("abc", "abcd"));
}

TEST(IdsTest, ObjectIdsSortByTimeAndAreUnique) {
  auto a = new_object_id(1'700'000'000'000);
  auto b = new_object_id(1'700'000'000'001);
  auto c = new_object_id(1'700'000'000'001);
  EXPECT_EQ(a.size(), 26u);
  EXPECT_LT(a, b);
  EXPECT_NE(b, c);
  for (char ch : a) EXPECT_TRUE((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z')) << a;
}

TEST(QiniuEtagTest, KnownVectors) {
  // spec/jodoo.md §2.7: one block is 0x16 + sha1.
  EXPECT_EQ(core::qiniu_etag(""), "Fto5o-5ea0sNMlW_75VgGJCv2AcJ");
  EXPECT_EQ(core::qiniu_etag("hello world"), "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
}

TEST(ErrorsTest, CatalogueHasKindsAndMessages) {
  EXPECT_EQ(kind_of(Errc::kObjectNotFound), Kind::kNotFound);
  EXPECT_EQ(kind_of(Errc::kTooLarge), Kind::kTooLarge);
  EXPECT_EQ(kind_of(Errc::kRateLimited), Kind::kResourceExhausted);
  EXPECT_EQ(default_message(Errc::kObjectNotFound), "file not found");
  EXPECT_EQ(name_of(Errc::kGrantUsed), "kGrantUsed");
  EXPECT_EQ(static_cast<int>(Errc::kUnauthenticated), 1100);
}

}  // namespace
}  // namespace up
