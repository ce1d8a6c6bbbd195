#include "dialects/jpush/errors.h"

#include <gtest/gtest.h>

namespace up::dialects::jpush {
namespace {

int status(Errc c) { return wire_error(Error(c)).status; }
int code(Errc c) { return wire_error(Error(c)).code; }

TEST(JPushErrorsTest, MapsCoreErrorsToTheFileApiTable) {
  EXPECT_EQ(status(Errc::kUnauthenticated), 400);  // not 401 on the file API
  EXPECT_EQ(code(Errc::kUnauthenticated), 1101);
  EXPECT_EQ(code(Errc::kKeyDisabled), 1101);
  EXPECT_EQ(code(Errc::kMissingField), 1102);
  EXPECT_EQ(status(Errc::kMissingField), 400);
  EXPECT_EQ(code(Errc::kBadContent), 1103);
  EXPECT_EQ(code(Errc::kBadMultipart), 1103);
  EXPECT_EQ(code(Errc::kTooLarge), 1103);
  EXPECT_EQ(status(Errc::kTooLarge), 400);
  EXPECT_EQ(code(Errc::kInvalidArgument), 1103);
  EXPECT_EQ(code(Errc::kObjectNotFound), 1104);
  EXPECT_EQ(status(Errc::kObjectNotFound), 400);
  EXPECT_EQ(code(Errc::kPermissionDenied), 1105);
  EXPECT_EQ(status(Errc::kPermissionDenied), 403);
  EXPECT_EQ(code(Errc::kObjectLimit), 1112);
  EXPECT_EQ(status(Errc::kObjectLimit), 400);
  EXPECT_EQ(code(Errc::kRateLimited), 2002);
  EXPECT_EQ(status(Errc::kRateLimited), 429);
  EXPECT_EQ(code(Errc::kMetaIo), 1100);
  EXPECT_EQ(status(Errc::kMetaIo), 500);
  EXPECT_EQ(status(Errc::kDiskFull), 500);
  EXPECT_EQ(status(Errc::kRouteNotFound), 404);
  EXPECT_EQ(status(Errc::kMethodNotAllowed), 405);
}

TEST(JPushErrorsTest, EnvelopeIsErrorCodeMessageAndHidesInternals) {
  auto r = error_response(Error(Errc::kBadContent, "line 2: id longer than 40 bytes"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"code":1103,"message":"line 2: id longer than 40 bytes"}})");
  auto limited = error_response(Error(Errc::kRateLimited, "whatever"));
  EXPECT_EQ(limited.body, R"({"error":{"code":2002,"message":"Rate limit exceeded"}})");
  auto internal = error_response(Error(Errc::kMetaIo, "disk I/O error at /var/secret/path"));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.body, R"({"error":{"code":1100,"message":"metadata store error"}})");
}

}  // namespace
}  // namespace up::dialects::jpush
