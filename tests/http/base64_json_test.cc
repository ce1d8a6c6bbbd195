#include "http/base64_json.h"

#include <gtest/gtest.h>

#include "core/crypto.h"

namespace up::http {
namespace {

TEST(Base64JsonTest, DecodesAnObjectInEitherAlphabet) {
  const std::string json = R"({"scope":"b:k?","n":1})";
  for (const std::string& encoded :
       {crypto::base64(json), crypto::base64url(json, false), crypto::base64url(json, true)}) {
    auto o = decode_base64_json_object(encoded);
    ASSERT_TRUE(o) << encoded;
    EXPECT_EQ(o->at("scope").as_string(), "b:k?");
    EXPECT_EQ(o->at("n").as_int64(), 1);
  }
}

TEST(Base64JsonTest, SaysWhichLayerIsWrong) {
  auto bad = decode_base64_json_object("not base64!");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "not base64");
  EXPECT_EQ(decode_base64_json_object("").error().message, "not base64");
  for (const char* text : {"[1,2]", "\"s\"", "{\"a\":", "{} {}"}) {
    auto r = decode_base64_json_object(crypto::base64(text));
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().message, "not a JSON object") << text;
  }
}

}  // namespace
}  // namespace up::http
