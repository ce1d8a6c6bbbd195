#include "dialects/kintone/query.h"

#include <gtest/gtest.h>

namespace up::dialects::kintone {
namespace {

TEST(KintoneQueryTest, EmptyMeansNewestFirstWithoutLimit) {
  auto q = parse_query("");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->after_id, 0u);
  EXPECT_TRUE(q->descending);
  EXPECT_FALSE(q->limit);
  EXPECT_EQ(q->offset, 0u);
}

TEST(KintoneQueryTest, RestApiClientGetAllRecordsWithId) {
  auto q = parse_query("$id > 1500 order by $id asc limit 500");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->after_id, 1500u);
  EXPECT_FALSE(q->descending);
  EXPECT_EQ(q->limit, 500u);
}

TEST(KintoneQueryTest, ParenthesisedConditionAndOffset) {
  auto q = parse_query("($id >= 10) and $id > 3 ORDER BY $id DESC LIMIT 5 OFFSET 20");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->after_id, 9u);
  EXPECT_TRUE(q->descending);
  EXPECT_EQ(q->limit, 5u);
  EXPECT_EQ(q->offset, 20u);
}

TEST(KintoneQueryTest, QuotedNumbersAndOffsetBeforeLimit) {
  auto q = parse_query("$id > \"7\" offset 2 limit 3");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->after_id, 7u);
  EXPECT_EQ(q->limit, 3u);
  EXPECT_EQ(q->offset, 2u);
}

TEST(KintoneQueryTest, RefusesWhatTheSubsetDoesNotCover) {
  for (const char* bad : {"title = \"x\"", "$id < 5", "limit 501", "offset 10001", "limit -1",
                          "limit", "order by title asc", "$id > 5 limit 1 limit 2", "$id > \"5",
                          "$id > 5;", "($id > 1", "limit 99999999999999999999"}) {
    auto q = parse_query(bad);
    EXPECT_FALSE(q) << bad;
    if (!q) {
      EXPECT_EQ(q.error().code, Errc::kInvalidArgument) << bad;
    }
  }
}

}  // namespace
}  // namespace up::dialects::kintone
