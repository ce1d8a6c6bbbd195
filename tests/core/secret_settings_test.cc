#include "core/secret_settings.h"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace up::core {
namespace {

const std::vector<SettingsPath> kSecret = {
    {"kintone", "users", "*", "salt"}, {"kintone", "users", "*", "pbkdf2_sha256"}, {"top"}};

constexpr const char* kStored =
    R"({"kintone":{"users":{"alice":{"salt":"s1","iterations":9,"pbkdf2_sha256":"h1"},)"
    R"("bob":{"salt":"s2","iterations":9,"pbkdf2_sha256":"h2"}},"guest_spaces":{"5":["alice"]}},)"
    R"("top":"secret","jodoo":{"key_version":2}})";

TEST(SecretSettingsTest, RedactRemovesEveryNamedMemberAndKeepsTheRest) {
  EXPECT_EQ(redact_settings(kStored, kSecret),
            R"({"kintone":{"users":{"alice":{"iterations":9},"bob":{"iterations":9}},)"
            R"("guest_spaces":{"5":["alice"]}},"jodoo":{"key_version":2}})");
}

TEST(SecretSettingsTest, RedactIgnoresPathsThatLeadNowhere) {
  EXPECT_EQ(redact_settings(R"({"kintone":{"users":["alice"]},"x":1})", kSecret),
            R"({"kintone":{"users":["alice"]},"x":1})");
  EXPECT_EQ(redact_settings(R"({"kintone":5})", kSecret), R"({"kintone":5})");
}

TEST(SecretSettingsTest, RedactShowsNothingOfTextThatIsNotAnObject) {
  EXPECT_EQ(redact_settings("not json", kSecret), "{}");
  EXPECT_EQ(redact_settings(R"(["salt"])", kSecret), "{}");
  EXPECT_EQ(redact_settings("", {}), "{}");
}

TEST(SecretSettingsTest, WritingBackWhatWasReadKeepsTheSecrets) {
  const std::string shown = redact_settings(kStored, kSecret);
  // Same members and values; restored members come after the others.
  EXPECT_EQ(boost::json::parse(keep_secret_settings(kStored, shown, kSecret)),
            boost::json::parse(kStored));
}

TEST(SecretSettingsTest, DroppedEntriesDropTheirSecrets) {
  // bob is gone and the whole "top" with him; alice keeps her salt and hash.
  const std::string kept = keep_secret_settings(
      kStored, R"({"kintone":{"users":{"alice":{"iterations":9}}}})", {kSecret[0], kSecret[1]});
  EXPECT_EQ(kept,
            R"({"kintone":{"users":{"alice":{"iterations":9,"salt":"s1","pbkdf2_sha256":"h1"}}}})");
  // A top-level secret's parent is the root, which is always there.
  EXPECT_EQ(keep_secret_settings(kStored, "{}", {{"top"}}), R"({"top":"secret"})");
}

TEST(SecretSettingsTest, SecretsTheClientSetsWin) {
  EXPECT_EQ(keep_secret_settings(kStored, R"({"top":"new"})", kSecret), R"({"top":"new"})");
}

TEST(SecretSettingsTest, ReplacementThatIsNotAnObjectIsLeftAsItIs) {
  EXPECT_EQ(keep_secret_settings(kStored, "[1]", kSecret), "[1]");
  EXPECT_EQ(keep_secret_settings("garbage", R"({"a":1})", kSecret), R"({"a":1})");
}

}  // namespace
}  // namespace up::core
