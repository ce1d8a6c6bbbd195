#include "dialects/kintone/params.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace up::dialects::kintone {
namespace {

namespace json = boost::json;

TEST(KintoneParamsTest, QsBracketArraysAndEscapes) {
  // What @kintone/rest-api-client sends for getRecords (spec/kintone.md §4.1).
  auto p = parse_query_string(
      "app=1&fields%5B0%5D=%24id&fields%5B1%5D=title&query=%24id%20%3E%200+limit+5&totalCount="
      "true");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(
      json::serialize(*p),
      R"({"app":"1","query":"$id > 0 limit 5","totalCount":"true","fields":["$id","title"]})");
}

TEST(KintoneParamsTest, EmptyBracketsAppend) {
  auto p = parse_query_string("ids[]=3&ids[]=4");
  ASSERT_TRUE(p);
  EXPECT_EQ(json::serialize(p->at("ids")), R"(["3","4"])");
}

TEST(KintoneParamsTest, RefusesBadInput) {
  for (const char* bad : {"a=%zz", "a=%4", "a=1&a=2", "ids[0]=1&ids[2]=2", "ids[x]=1",
                          "ids[0]=1&ids[0]=2", "ids=1&ids[0]=2"})
    EXPECT_FALSE(parse_query_string(bad)) << bad;
}

TEST(KintoneParamsTest, IdsAsNumbersOrStrings) {
  auto p = parse_json_params(R"({"app": 7, "id": "12", "bad": "1x", "neg": -1, "revision": null})");
  ASSERT_TRUE(p);
  EXPECT_EQ(*id_param(*p, "app"), 7u);
  EXPECT_EQ(*id_param(*p, "id"), 12u);
  EXPECT_FALSE(id_param(*p, "bad"));
  EXPECT_FALSE(id_param(*p, "neg"));
  EXPECT_FALSE(id_param(*p, "revision")->has_value());
  EXPECT_FALSE(id_param(*p, "absent")->has_value());
}

TEST(KintoneParamsTest, JsonBodyMustBeAnObject) {
  EXPECT_EQ(parse_json_params("[1]").error().code, Errc::kBadJson);
  EXPECT_EQ(parse_json_params("{").error().code, Errc::kBadJson);
  EXPECT_TRUE(parse_json_params("")->empty());
}

}  // namespace
}  // namespace up::dialects::kintone
