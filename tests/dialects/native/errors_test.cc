#include "dialects/native/errors.h"

#include <gtest/gtest.h>

namespace up::dialects::native {
namespace {

TEST(NativeErrorsTest, StatusFollowsKindWithFewExceptions) {
  EXPECT_EQ(http_status(Error{Errc::kBadJson, ""}), 400);
  EXPECT_EQ(http_status(Error{Errc::kUnauthenticated, ""}), 401);
  EXPECT_EQ(http_status(Error{Errc::kKeyDisabled, ""}), 401);
  EXPECT_EQ(http_status(Error{Errc::kPermissionDenied, ""}), 403);
  EXPECT_EQ(http_status(Error{Errc::kObjectNotFound, ""}), 404);
  EXPECT_EQ(http_status(Error{Errc::kObjectKeyExists, ""}), 409);
  EXPECT_EQ(http_status(Error{Errc::kTooLarge, ""}), 413);
  EXPECT_EQ(http_status(Error{Errc::kBadRange, ""}), 416);
  EXPECT_EQ(http_status(Error{Errc::kRateLimited, ""}), 429);
  EXPECT_EQ(http_status(Error{Errc::kQuotaExceeded, ""}), 507);
  EXPECT_EQ(http_status(Error{Errc::kKeyLimit, ""}), 409);
  EXPECT_EQ(http_status(Error{Errc::kShuttingDown, ""}), 503);
  EXPECT_EQ(http_status(Error{Errc::kStorageIo, ""}), 500);
}

TEST(NativeErrorsTest, EnvelopeCarriesCodeAndMessageButHidesInternals) {
  auto r = error_response(Error{Errc::kObjectNotFound, "file not found"});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"code":1301,"msg":"file not found"})");
  auto internal = error_response(Error{Errc::kMetaIo, "disk I/O error at /var/secret/path"});
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.body, R"({"code":1902,"msg":"metadata store error"})");
}

}  // namespace
}  // namespace up::dialects::native
