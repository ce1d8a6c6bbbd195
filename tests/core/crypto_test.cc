#include "core/crypto.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

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

// RFC 4231 cases 1, 2 and 6 (a key longer than the block), interleaved: each
// call is keyed anew although the thread's MAC context is reused, and an empty
// key after a non-empty one is the empty key, not the last one.
TEST(CryptoTest, HmacKnownAnswersWithChangingKeys) {
  const std::string key1(20, '\x0b');
  const std::string key6(131, '\xaa');
  const std::string tc1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  const std::string tc2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const std::string tc6 = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
  const std::string empty256 = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256(key1, "Hi There")), tc1);
    EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256("Jefe", "what do ya want for nothing?")), tc2);
    EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256(
                  key6, "Test Using Larger Than Block-Size Key - Hash Key First")),
              tc6);
    EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256("", "")), empty256);
    EXPECT_EQ(crypto::to_hex(crypto::hmac_sha1("", "")),
              "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d");
    EXPECT_EQ(crypto::to_hex(crypto::hmac_sha1("Jefe", "what do ya want for nothing?")),
              "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  }
  // The same key several times in a row (the context restarts from its keyed
  // state): each answer is the one of a fresh key, whatever the data's length.
  EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256(key1, "Hi There")), tc1);
  EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256(key1, "Hi There")), tc1);
  const std::string long_data(200, 'd');
  const std::string first = crypto::hmac_sha256(key1, long_data);
  EXPECT_EQ(crypto::hmac_sha256(key1, long_data), first);
  EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256(key1, "Hi There")), tc1);
  // A key that only differs from the last one in its length or last byte.
  const std::string key1_longer = key1 + '\x0b';
  EXPECT_NE(crypto::hmac_sha256(key1_longer, "Hi There"), crypto::hmac_sha256(key1, "Hi There"));
  std::string key1_other = key1;
  key1_other.back() = '\x0c';
  EXPECT_NE(crypto::hmac_sha256(key1_other, "Hi There"), crypto::hmac_sha256(key1, "Hi There"));
  EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256("", "")), empty256);
  EXPECT_EQ(crypto::to_hex(crypto::hmac_sha256("", "")), empty256);
}

// Each thread has its own MAC contexts: the same answers from several at once.
TEST(CryptoTest, HmacFromSeveralThreads) {
  const std::string want = crypto::hmac_sha256("Jefe", "what do ya want for nothing?");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string key = "k" + std::to_string(t * 1000 + i);
        if (crypto::hmac_sha256("Jefe", "what do ya want for nothing?") != want) ++wrong;
        if (crypto::hmac_sha256(key, "x").size() != 32) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
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

TEST(IdsTest, IdsOfOneMillisecondSortInCreationOrder) {
  // List pages are cut by id: ids made in the same millisecond must not sort at random.
  std::string last = new_object_id(1'700'000'000'002);
  for (int i = 0; i < 10'000; ++i) {
    std::string next = new_object_id(1'700'000'000'002);
    ASSERT_LT(last, next);
    ASSERT_EQ(next.substr(0, 10), last.substr(0, 10));  // the time part stays the caller's
    last = std::move(next);
  }
}

TEST(IdsTest, IdsSortInCreationOrderWhenTheClockStepsBack) {
  const std::string later = new_object_id(1'700'000'000'010);
  const std::string after = new_object_id(1'700'000'000'005);
  EXPECT_LT(later, after);
  EXPECT_EQ(after.substr(0, 10), later.substr(0, 10));
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
